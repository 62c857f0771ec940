"""PII values and how people say and recognisers write them, for benchmarks/redaction.py.

Every generator takes a ``random.Random`` and a ``pools`` dict (names, streets, cities, ...),
so the dev and held-out corpora draw from different pools with different seeds. Each value
is rendered in one of three forms:
  written - as typed in chat or a form ("4111 1111 1111 1111", "john.smith@example.com")
  spoken  - as a caller says it and espeak-ng would read it ("four one one one, ...")
  asr     - as Whisper writes speech: lower case, digits spaced or grouped as heard
            ("4 1 1 1 1 ...", "876 54321", "march 5th 1985", "john.smith at example.com");
            these shapes were seen transcribing espeak-ng renderings with `voicebot
            transcribe --backend whisper` (synthetic speech).
"""
from __future__ import annotations

import random

from stdnum import luhn, verhoeff
from stdnum.us import rtn

DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
TEEN_WORDS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS_WORDS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
MONTHS = "January February March April May June July August September October November December".split()
ORD = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth",
       9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth", 14: "fourteenth",
       15: "fifteenth", 16: "sixteenth", 17: "seventeenth", 18: "eighteenth", 19: "nineteenth", 20: "twentieth",
       30: "thirtieth"}
STATES = {"IL": "Illinois", "CA": "California", "TX": "Texas", "NY": "New York", "OH": "Ohio", "WA": "Washington",
          "FL": "Florida", "GA": "Georgia", "PA": "Pennsylvania", "MA": "Massachusetts"}


def digits(rng: random.Random, n: int, first: str = "0123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def say_digits(ds: str, rng: random.Random) -> str:
    """Digit by digit, with "oh" for zero and "double" for pairs now and then."""
    out, i = [], 0
    while i < len(ds):
        if i + 1 < len(ds) and ds[i] == ds[i + 1] and rng.random() < 0.3:
            out.append("double " + DIGIT_WORDS[int(ds[i])])
            i += 2
            continue
        out.append("oh" if ds[i] == "0" and rng.random() < 0.4 else DIGIT_WORDS[int(ds[i])])
        i += 1
    return " ".join(out)


def say_pair(n: int) -> str:
    """A two-digit number as said in pairs ("forty one", "oh five", "eleven")."""
    if n < 10:
        return f"oh {DIGIT_WORDS[n]}"
    if n < 20:
        return TEEN_WORDS[n - 10]
    return TENS_WORDS[n // 10] + ("" if n % 10 == 0 else " " + DIGIT_WORDS[n % 10])


def say_groups(groups: list[str], rng: random.Random, sep: str = ", ") -> str:
    return sep.join(say_digits(g, rng) for g in groups)


def asr_digits(groups: list[str], rng: random.Random) -> str:
    """How Whisper wrote read-out digits: spaced singly, as heard in groups, or run together."""
    style = rng.random()
    if style < 0.35:
        return " ".join("".join(groups))
    if style < 0.7:
        return " ".join(groups)
    if style < 0.85:
        joined = "".join(groups)
        cut = rng.randrange(2, len(joined) - 1)
        return f"{joined[:cut]} {joined[cut:]}"
    return "".join(groups)


def render_digits(groups: list[str], form: str, rng: random.Random, written_seps=(" ", "-", "")) -> str:
    if form == "written":
        return rng.choice(written_seps).join(groups)
    if form == "spoken":
        return say_groups(groups, rng, sep=rng.choice([", ", " "]))
    return asr_digits(groups, rng)


def card(rng, form, pools):
    network = rng.choice(["visa", "visa", "mc", "amex", "discover", "mc2"])
    prefix, length = {"visa": ("4", 16), "mc": (rng.choice(["51", "52", "53", "54", "55"]), 16),
                      "mc2": ("2221", 16), "amex": (rng.choice(["34", "37"]), 15), "discover": ("6011", 16)}[network]
    body = prefix + digits(rng, length - len(prefix) - 1)
    number = body + luhn.calc_check_digit(body)
    cuts = [4, 6, 5] if length == 15 else [4, 4, 4, 4]
    groups, i = [], 0
    for c in cuts:
        groups.append(number[i:i + c])
        i += c
    if form == "spoken" and rng.random() < 0.3:
        return ", ".join(" ".join(say_pair(int(g[k:k + 2])) for k in range(0, len(g) - 1, 2))
                         + (" " + DIGIT_WORDS[int(g[-1])] if len(g) % 2 else "") for g in groups)
    return render_digits(groups, form, rng)


def ssn(rng, form, pools):
    area = rng.choice([a for a in range(1, 900) if a != 666])
    groups = [f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"]
    return render_digits(groups, form, rng, written_seps=("-", "-", " "))


def national_id(rng, form, pools):
    kind = rng.choice(["sin", "nino", "aadhaar"])
    if kind == "sin":
        body = digits(rng, 8, "1234567")
        number = body + luhn.calc_check_digit(body)
        return render_digits([number[:3], number[3:6], number[6:]], form, rng, (" ", "-"))
    if kind == "aadhaar":
        body = digits(rng, 11, "23456789")
        number = body + verhoeff.calc_check_digit(body)
        return render_digits([number[:4], number[4:8], number[8:]], form, rng, (" ",))
    letters = rng.choice(pools["nino_prefixes"])
    number, suffix = digits(rng, 6), rng.choice("ABCD")
    if form == "written":
        return rng.choice([f"{letters} {number[:2]} {number[2:4]} {number[4:]} {suffix}", f"{letters}{number}{suffix}"])
    if form == "spoken":
        return f"{letters[0]} {letters[1]} {say_digits(number, rng)} {suffix}"
    return f"{letters.lower()} {number} {suffix.lower()}"


def routing(rng, form, pools):
    body = rng.choice(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "21", "22", "26",
                       "31", "32", "26", "06"]) + digits(rng, 6)
    number = body + rtn.calc_check_digit(body)
    return render_digits([number] if form == "written" else [number[:3], number[3:6], number[6:]], form, rng, ("",))


def account(rng, form, pools):
    number = digits(rng, rng.randint(8, 12), "123456789")
    if form == "written":
        return number
    return render_digits([number[:4], number[4:]], form, rng)


def iban(rng, form, pools):
    """A UK IBAN (always written in groups of four; recognisers rarely get these right spoken)."""
    from stdnum import iban as iban_lib

    bban = rng.choice(["WEST", "NWBK", "BARC", "MIDL"]) + digits(rng, 14)
    for cd in range(100):
        candidate = f"GB{cd:02d}{bban}"
        if iban_lib.is_valid(candidate):
            break
    return " ".join(candidate[i:i + 4] for i in range(0, len(candidate), 4))


def phone(rng, form, pools):
    if rng.random() < 0.12:
        number = rng.choice(["+44 20 7946 " + digits(rng, 4), "+33 1 " + " ".join(digits(rng, 2) for _ in range(4)),
                             "+49 30 " + digits(rng, 8)])
        return number if form != "spoken" else "plus " + say_digits("".join(number[1:].split()), rng)
    area, exchange = digits(rng, 3, "23456789"), rng.choice(["555", digits(rng, 3, "23456789")])
    line = digits(rng, 4)
    if form == "written":
        return rng.choice([f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"{area}.{exchange}.{line}",
                           f"+1 {area} {exchange} {line}", f"{area} {exchange} {line}", f"{area}{exchange}{line}"])
    if form == "spoken" and rng.random() < 0.2:
        return f"area code {say_digits(area, rng)}, {say_digits(exchange, rng)}, {say_digits(line, rng)}"
    return render_digits([area, exchange, line], form, rng)


def email(rng, form, pools):
    first, last = rng.choice(pools["first"]).lower(), rng.choice(pools["last"]).lower()
    joiner = rng.choice([".", "_", "", ".", str(rng.randint(1, 99))])
    domain = rng.choice(pools["domains"])
    local = f"{first}{joiner}{last}" if not joiner.isdigit() else f"{first}{last}{joiner}"
    if form == "written":
        return f"{local}@{domain}"
    if form == "asr":
        return rng.choice([f"{local}@{domain}", f"{local} at {domain}", f"{local} at {domain.replace('.', ' dot ')}"])
    words = {".": " dot ", "_": " underscore ", "": " "}
    spoken_local = (f"{first}{words[joiner]}{last}" if not joiner.isdigit()
                    else f"{first}{last} {say_digits(joiner, rng)}")
    if joiner == "":
        spoken_local = f"{first}{last}"
    return f"{spoken_local} at {domain.replace('.', ' dot ')}"


def dob(rng, form, pools):
    year, month, day = rng.randint(1935, 2006), rng.randint(1, 12), rng.randint(1, 28)
    name = MONTHS[month - 1]
    if form == "written":
        return rng.choice([f"{name} {day}, {year}", f"{month:02d}/{day:02d}/{year}", f"{year}-{month:02d}-{day:02d}",
                           f"{day} {name} {year}", f"{name[:3]}. {day}, {year}", f"{month}/{day}/{year % 100:02d}"])
    spoken_day = ORD.get(day) or f"{TENS_WORDS[day // 10]} {ORD[day % 10]}"
    spoken_year = f"{say_pair(year // 100)} {say_pair(year % 100)}" if year < 2000 else f"two thousand {DIGIT_WORDS[year % 10]}" if year < 2010 else f"twenty {say_pair(year % 100)}"
    if form == "spoken":
        return rng.choice([f"{name} {spoken_day} {spoken_year}", f"the {spoken_day} of {name} {spoken_year}",
                           f"{say_digits(f'{month:02d}', rng)} {say_digits(f'{day:02d}', rng)} {spoken_year}"])
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(day, "th")
    return rng.choice([f"{name.lower()} {day}{suffix} {year}", f"{day}{suffix} {name.lower()} {year}",
                       f"{name.lower()} {day} {year}", f"{month} {day} {year % 100:02d}", f"{month}/{day}/{year}"])


def address(rng, form, pools):
    number = str(rng.choice([rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000, 19999)]))
    street = rng.choice(pools["streets"])
    suffix_full, suffix_abbr = rng.choice([("Street", "St."), ("Avenue", "Ave"), ("Road", "Rd"), ("Lane", "Ln"),
                                           ("Drive", "Dr."), ("Boulevard", "Blvd"), ("Court", "Ct"), ("Way", "Way"),
                                           ("Place", "Pl")])
    unit = rng.choice(["", "", f"Apt {rng.randint(1, 40)}{rng.choice(['', 'B'])}", f"Suite {rng.randint(100, 900)}"])
    abbr, state = rng.choice(list(STATES.items()))
    city, zip_code = rng.choice(pools["cities"]), digits(rng, 5, "123456789")
    tail = rng.random()
    if form == "written":
        line = f"{number} {street} {rng.choice([suffix_full, suffix_abbr])}" + (f", {unit}" if unit else "")
        return line + (f", {city}, {abbr} {zip_code}" if tail < 0.5 else "")
    if form == "spoken":
        said = say_digits(number, rng) if rng.random() < 0.6 or len(number) > 4 else \
            " ".join(say_pair(int(number[k:k + 2])) for k in range(0, len(number), 2)) if len(number) % 2 == 0 else say_digits(number, rng)
        unit_said = unit.replace("Apt", "apartment").replace("B", " b") if unit else ""
        line = f"{said} {street} {suffix_full}" + (f" {unit_said}" if unit else "")
        return line + (f" {city} {state} {say_digits(zip_code, rng)}" if tail < 0.4 else "")
    line = f"{number} {street.lower()} {suffix_full.lower()}" + (f" {unit.lower().replace('apt', 'apartment')}" if unit else "")
    return line + (f" {city.lower()} {state.lower()} {zip_code}" if tail < 0.4 else "")


GENERATORS = {"CARD_NUMBER": card, "SSN": ssn, "NATIONAL_ID": national_id, "ROUTING_NUMBER": routing,
              "BANK_ACCOUNT": account, "IBAN": iban, "PHONE": phone, "EMAIL": email, "DATE_OF_BIRTH": dob,
              "ADDRESS": address}
