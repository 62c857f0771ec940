"""Recall and precision of PII redaction (voicebot.privacy.redaction) per type, on a generated corpus.

The corpus is made from templates and value pools with a seed, so it is reproducible. Two
parts never share a template, a name, a street, a city, a domain or a seed:
  dev      - the rules were chosen looking at these numbers and their errors (--show-errors);
  heldout  - other templates and pools, written before tuning and scored without looking at
             its errors; the figures in docs/privacy.md come from here.
Each utterance renders its values written, spoken, or as the recogniser writes them (see
redaction_values.py); about a quarter are PII-free look-alikes (order numbers, prices, times,
quantities, dates that are not birth dates).

Scoring, per type: a true positive is a gold entity entirely covered by one predicted entity of
the same type; recall = TP / gold; precision = predictions of a type that overlap a gold entity
of that type / predictions of that type. "leaks" counts gold entities not fully covered by any
prediction (whatever its type): PII that would reach storage.

    python benchmarks/redaction.py --split heldout [--n 1500] [--seed 2] [--json] [--write-corpus FILE]
    python benchmarks/redaction.py --split dev --show-errors 30
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redaction_values import GENERATORS  # noqa: E402
from timing import p50_p95  # noqa: E402

from voicebot.privacy.redaction import TYPES, find_entities  # noqa: E402

POOLS = {
    "dev": {
        "first": ["John", "Mary", "Ahmed", "Li", "Carlos", "Priya", "Olga", "Kwame", "Sarah", "Tom"],
        "last": ["Smith", "Jones", "Garcia", "Nguyen", "Patel", "Kowalski", "Okafor", "Brown", "Lee", "Miller"],
        "domains": ["example.com", "gmail.com", "yahoo.com", "outlook.com", "mail.example.org", "acme.co.uk"],
        "streets": ["Main", "Oak", "Maple", "Elm", "Washington", "Lakeview", "5th", "Martin Luther King", "Cedar Hill"],
        "cities": ["Springfield", "Riverside", "Franklin", "Greenville", "Bristol"],
        "nino_prefixes": ["QQ", "AB", "JK", "CE"],
    },
    "heldout": {
        "first": ["Emma", "Diego", "Fatima", "Hiroshi", "Grace", "Noah", "Amara", "Ivan", "Chloe", "Raj"],
        "last": ["Andersen", "Rossi", "Haddad", "Tanaka", "Murphy", "Silva", "Mensah", "Petrov", "Dubois", "Khan"],
        "domains": ["hotmail.com", "company.net", "university.edu", "icloud.com", "post.example.io", "city.gov"],
        "streets": ["Pine", "Birch", "Jefferson", "Sunset", "Willow Creek", "Highland", "3rd", "River", "Park"],
        "cities": ["Madison", "Fairview", "Clinton", "Salem", "Georgetown"],
        "nino_prefixes": ["ZX", "HP", "NS", "WL"],
    },
    "heldout2": {
        "first": ["Lucia", "Omar", "Mei", "Kofi", "Anna", "Jorge", "Sofia", "Tariq", "Helen", "Bjorn"],
        "last": ["Fernandez", "Ali", "Chen", "Boateng", "Schmidt", "Lopez", "Romano", "Aziz", "Clark", "Larsen"],
        "domains": ["protonmail.com", "shop.example.net", "school.edu", "web.de", "firm.co.uk", "aol.com"],
        "streets": ["Chestnut", "Lincoln", "Harbor View", "Mill", "Spring", "Valley", "2nd", "Franklin", "Rose"],
        "cities": ["Ashland", "Dover", "Milton", "Oxford", "Auburn"],
        "nino_prefixes": ["PR", "SE", "TY", "GH"],
    },
}

TEMPLATES = {
    "dev": {
        "CARD_NUMBER": ["my card number is {X}", "the card is {X}", "It's {X}.", "Visa {X}, expiring 12/27",
                        "charge it to {X} please", "credit card {X}"],
        "SSN": ["my social security number is {X}", "my social is {X}", "SSN: {X}", "it's {X}, that's my social"],
        "NATIONAL_ID": ["my social insurance number is {X}", "my national insurance number is {X}",
                        "my aadhaar number is {X}", "national id {X}"],
        "ROUTING_NUMBER": ["the routing number is {X}", "routing {X}", "ABA number {X}"],
        "BANK_ACCOUNT": ["my account number is {X}", "checking account {X}", "savings account number {X}"],
        "IBAN": ["my IBAN is {X}", "please send it to {X}"],
        "PHONE": ["you can reach me at {X}", "my phone number is {X}", "call me back on {X}", "my cell is {X}",
                  "{X} is the best number"],
        "EMAIL": ["my email is {X}", "email me at {X}", "send it to {X} please", "{X}"],
        "DATE_OF_BIRTH": ["my date of birth is {X}", "I was born on {X}", "my birthday is {X}", "DOB {X}"],
        "ADDRESS": ["I live at {X}", "my address is {X}", "ship it to {X}", "the billing address is {X}"],
        "MIXED": ["my phone is {PHONE} and my email is {EMAIL}", "name John, born {DATE_OF_BIRTH}, card {CARD_NUMBER}",
                  "I'm at {ADDRESS}, phone {PHONE}"],
        "LOOKALIKE": ["my order number is {ORDER}", "order {ORDER} has not arrived", "it costs {PRICE}",
                      "the appointment is at {TIME}", "I need {QTY} boxes", "it was delivered on {DATE}",
                      "tracking number {TRACKING}", "I'm calling about invoice {ORDER}", "room {SHORT}",
                      "flight {SHORT} was cancelled", "I paid {PRICE} on {DATE}", "extension {SHORT}",
                      "I've been waiting {QTY} minutes", "my confirmation number is {ORDER}"],
    },
    "heldout": {
        "CARD_NUMBER": ["the number on the card is {X}", "use {X}", "I'd like to pay with {X}",
                        "card number {X} exp 08/29", "my mastercard is {X}", "okay it is {X}"],
        "SSN": ["social security {X}", "the last thing, my ssn is {X}", "it is {X} for the social",
                "my social security number, {X}"],
        "NATIONAL_ID": ["my SIN is {X}", "NI number {X}", "here's my aadhaar {X}", "the social insurance number {X}"],
        "ROUTING_NUMBER": ["bank routing number {X}", "the ABA routing is {X}", "routing number, {X}"],
        "BANK_ACCOUNT": ["account {X}", "deposit it into account number {X}", "my bank account is {X}"],
        "IBAN": ["IBAN {X}", "the iban is {X}"],
        "PHONE": ["the number is {X}", "text me at {X}", "my mobile is {X}", "phone {X}", "please call {X} tomorrow"],
        "EMAIL": ["you can write to {X}", "my address for email is {X}", "it's {X}", "contact {X} thanks"],
        "DATE_OF_BIRTH": ["birth date {X}", "I was born {X}", "date of birth, {X}", "my dob is {X}"],
        "ADDRESS": ["send the card to {X}", "we moved to {X}", "the address is {X} okay", "deliver to {X}"],
        "MIXED": ["email {EMAIL} or phone {PHONE}", "I was born {DATE_OF_BIRTH} and my ssn is {SSN}",
                  "ship to {ADDRESS} and call {PHONE}"],
        "LOOKALIKE": ["I'm calling about order {ORDER}", "the total was {PRICE}", "can you come at {TIME}",
                      "I ordered {QTY} of them", "it shipped {DATE}", "my package {TRACKING} is late",
                      "reference {ORDER}", "gate {SHORT}", "it's item {ORDER} in the catalogue", "ticket {ORDER}",
                      "the meeting is on {DATE} at {TIME}", "that's {PRICE} too much", "about case {ORDER}",
                      "I waited {QTY} days"],
    },
    "heldout2": {
        "CARD_NUMBER": ["so the card's {X}", "uh my visa number {X}", "can you take {X}", "{X} is the card",
                        "the long number is {X}", "debit card {X} thanks"],
        "SSN": ["ssn {X}", "my social's {X}", "for verification {X} that's my social security",
                "um social security number is {X}"],
        "NATIONAL_ID": ["the national id is {X}", "national insurance {X}", "my sin number {X}", "id number {X}"],
        "ROUTING_NUMBER": ["and the routing is {X}", "routing and transit number {X}", "use routing {X}"],
        "BANK_ACCOUNT": ["the account is {X}", "from my checking {X}", "savings {X}"],
        "IBAN": ["transfer to IBAN {X}", "iban number {X}"],
        "PHONE": ["call {X}", "my number's {X}", "the callback number is {X}", "phone number {X} thanks",
                  "yeah it's {X} that's my cell"],
        "EMAIL": ["email {X}", "it's {X} all lowercase", "reach me by email at {X}", "my e-mail {X}"],
        "DATE_OF_BIRTH": ["born on {X}", "um my birthday {X}", "date of birth {X} yes", "dob is {X}"],
        "ADDRESS": ["it's {X}", "mail it to {X}", "my home address {X}", "home is {X} thanks"],
        "MIXED": ["call {PHONE} or email {EMAIL}", "my dob is {DATE_OF_BIRTH} and card {CARD_NUMBER}",
                  "address {ADDRESS} phone {PHONE}"],
        "LOOKALIKE": ["order number {ORDER} please", "I was charged {PRICE} twice", "the delivery came at {TIME}",
                      "I got {QTY} of those", "on {DATE} I called", "parcel {TRACKING}", "my claim number is {ORDER}",
                      "seat {SHORT}", "is {PRICE} the right price", "it's model {ORDER}", "my booking {ORDER}",
                      "we open at {TIME}", "since {DATE}", "about {QTY} times"],
    },
}


def lookalike(kind: str, rng: random.Random, form: str) -> str:
    from redaction_values import MONTHS, say_digits
    n = {"ORDER": rng.randint(3, 9), "SHORT": rng.randint(2, 4), "TRACKING": rng.choice([12, 18, 20])}.get(kind)
    if kind in ("ORDER", "SHORT", "TRACKING"):
        value = "".join(rng.choice("0123456789") for _ in range(n))
        return say_digits(value, rng) if form == "spoken" else value
    if kind == "PRICE":
        dollars, cents = rng.randint(1, 2000), rng.randint(0, 99)
        return rng.choice([f"${dollars}.{cents:02d}", f"{dollars} dollars", f"${dollars:,}"]) if form != "spoken" \
            else f"{dollars} dollars and {cents} cents"
    if kind == "TIME":
        return rng.choice([f"{rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45'])} {rng.choice(['am', 'pm'])}",
                           f"{rng.randint(1, 12)} {rng.choice(['30', '45'])} pm", f"{rng.randint(1, 12)} o'clock"])
    if kind == "QTY":
        return str(rng.randint(2, 500))
    month, day, year = rng.randint(1, 12), rng.randint(1, 28), rng.randint(2018, 2026)
    return rng.choice([f"{MONTHS[month - 1]} {day}", f"{month:02d}/{day:02d}/{year}", f"{MONTHS[month - 1]} {day}, {year}",
                       f"{year}-{month:02d}-{day:02d}"])


def make_utterance(split: str, rng: random.Random) -> dict:
    """One utterance: ``{"text", "form", "entities": [{type, start, end}]}`` with gold spans."""
    templates = TEMPLATES[split]
    group = rng.choices(list(templates), weights=[1] * (len(templates) - 2) + [1.5, 3.5])[0]
    template, form = rng.choice(templates[group]), rng.choice(["written", "spoken", "asr"])
    if form == "asr":
        template = re.sub(r"[,.?!:]", "", template.lower()).replace("{x}", "{X}")
        template = re.sub(r"\{([a-z_]+)\}", lambda m: "{" + m.group(1).upper() + "}", template)
    text, entities, cursor = "", [], 0
    for match in re.finditer(r"\{([A-Z_]+)\}", template):
        text += template[cursor:match.start()]
        slot = group if match.group(1) == "X" else match.group(1)
        if group == "LOOKALIKE":
            value = lookalike(slot, rng, form)
        else:
            value = GENERATORS[slot](rng, form, POOLS[split])
            gold = "BANK_ACCOUNT" if slot == "IBAN" else slot
            entities.append({"type": gold, "start": len(text), "end": len(text) + len(value)})
        text += value
        cursor = match.end()
    text += template[cursor:]
    return {"text": text, "form": form, "entities": entities}


def build_corpus(split: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(f"{split}-{seed}")
    return [make_utterance(split, rng) for _ in range(n)]


def _covers(pred, gold, text) -> bool:
    core = [i for i in range(gold["start"], gold["end"]) if text[i].isalnum()]
    return pred.start <= core[0] and pred.end > core[-1]


def score(corpus: list[dict]) -> tuple[dict, list[tuple], list[float]]:
    tp, gold_n, pred_n, pred_ok, leaks = Counter(), Counter(), Counter(), Counter(), Counter()
    errors, times = [], []
    for utt in corpus:
        start = time.perf_counter()
        preds = find_entities(utt["text"])
        times.append((time.perf_counter() - start) * 1000)
        for g in utt["entities"]:
            gold_n[g["type"]] += 1
            if any(p.type == g["type"] and _covers(p, g, utt["text"]) for p in preds):
                tp[g["type"]] += 1
            else:
                errors.append(("miss", g["type"], utt))
            if not any(_covers(p, g, utt["text"]) for p in preds):
                leaks[g["type"]] += 1
        for p in preds:
            pred_n[p.type] += 1
            if any(g["type"] == p.type and p.start < g["end"] and g["start"] < p.end for g in utt["entities"]):
                pred_ok[p.type] += 1
            else:
                errors.append(("false", p.type, utt))
    table = {t: {"gold": gold_n[t], "recall": tp[t] / gold_n[t] if gold_n[t] else None, "predicted": pred_n[t],
                 "precision": pred_ok[t] / pred_n[t] if pred_n[t] else None, "leaks": leaks[t]} for t in TYPES}
    return table, errors, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["dev", "heldout", "heldout2"], default="dev")
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show-errors", type=int, default=0, help="print N errors (dev only)")
    parser.add_argument("--write-corpus", help="write the corpus as JSON lines")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = build_corpus(args.split, args.n, args.seed)
    if args.write_corpus:
        Path(args.write_corpus).write_text("".join(json.dumps(u) + "\n" for u in corpus))
    table, errors, times = score(corpus)
    forms = Counter(u["form"] for u in corpus)
    negatives = sum(1 for u in corpus if not u["entities"])
    latency = p50_p95(times, digits=3)
    if args.json:
        print(json.dumps({"split": args.split, "n": args.n, "seed": args.seed, "forms": forms, "lookalikes": negatives,
                          "types": table, "ms": latency}))
    else:
        print(f"split {args.split}, seed {args.seed}: {len(corpus)} utterances ({dict(forms)}; {negatives} PII-free)")
        print(f"{'type':<15}{'gold':>6}{'recall':>8}{'pred':>6}{'precision':>10}{'leaks':>7}")
        for t, row in table.items():
            fmt = lambda v: "   -" if v is None else f"{v:.3f}"  # noqa: E731
            print(f"{t:<15}{row['gold']:>6}{fmt(row['recall']):>8}{row['predicted']:>6}{fmt(row['precision']):>10}"
                  f"{row['leaks']:>7}")
        print(f"time per utterance: p50 {latency['p50']} ms, p95 {latency['p95']} ms")
    if args.show_errors and args.split == "dev":
        for kind, t, utt in errors[:args.show_errors]:
            found = [(e.type, utt["text"][e.start:e.end]) for e in find_entities(utt["text"])]
            print(f"{kind:5} {t:<14} {utt['text']!r}\n      gold {[(g['type'], utt['text'][g['start']:g['end']]) for g in utt['entities']]}\n      got  {found}")


if __name__ == "__main__":
    main()
