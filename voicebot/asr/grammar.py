"""Building recognition grammars: digits, yes/no, phrase lists, JSGF files.

A ``Grammar`` (see ``base.py``) is backend-neutral. This module turns one into what each engine
needs (JSGF text for pocketsphinx, a phrase list for Vosk) and maps free text back onto it
(``normalize``), so every backend returns the same canonical words, e.g. digits as
``"four one seven two"`` and yes/no as ``"yes"`` / ``"no"``.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path

from voicebot.asr.base import Grammar
from voicebot.errors import ASRError
from voicebot.vocabulary import NO, YES, yes_or_no

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_ALIASES = {"oh": "zero", "o": "zero", "to": "two", "too": "two", "for": "four", "won": "one", "ate": "eight", "nein": "nine", "sex": "six", "tree": "three"}


def digits() -> Grammar:
    """Any sequence of spoken digits (0-9, 'oh' for zero)."""
    return Grammar("digits")


def yesno() -> Grammar:
    """Yes or no in their common spoken forms ('yeah', 'nope', 'that's right', ...)."""
    return Grammar("yesno")


def phrases(items) -> Grammar:
    """Exactly one of ``items`` (menu choices such as 'billing', 'order status')."""
    cleaned = tuple(p for p in (_words(i) for i in items) if p)
    if not cleaned:
        raise ASRError("a phrase grammar needs at least one non-empty phrase")
    return Grammar("phrases", phrases=cleaned)


def from_jsgf(text: str) -> Grammar:
    """A grammar from JSGF source text (must declare a ``public`` rule)."""
    if "#JSGF" not in text or not re.search(r"\bpublic\s+<", text):
        raise ASRError("not a JSGF grammar: expected a '#JSGF V1.0;' header and a public rule")
    return Grammar("jsgf", jsgf=text)


def load(spec: str) -> Grammar:
    """``"digits"``, ``"yesno"`` or a path to a ``.jsgf`` file."""
    if spec == "digits":
        return digits()
    if spec == "yesno":
        return yesno()
    path = Path(spec)
    if not path.exists():
        raise ASRError(f"{spec}: no such grammar; use digits, yesno or a .jsgf file")
    try:
        return from_jsgf(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ASRError(f"{spec}: cannot read grammar file ({exc})") from exc
    except ASRError as exc:
        raise ASRError(f"{spec}: {exc}") from exc


def to_jsgf(grammar: Grammar) -> str:
    """JSGF source for ``grammar`` (pocketsphinx)."""
    if grammar.kind == "jsgf":
        return grammar.jsgf
    if grammar.kind == "digits":
        body = "public <digits> = <digit>+;\n<digit> = " + " | ".join(DIGIT_WORDS + ("oh",)) + ";"
    elif grammar.kind == "yesno":
        body = "public <answer> = " + " | ".join(YES + NO) + ";"
    elif grammar.kind == "phrases":
        body = "public <choice> = " + " | ".join(dict.fromkeys(spoken_form(p) for p in grammar.phrases)) + ";"
    else:
        raise ASRError(f"unknown grammar kind {grammar.kind!r}")
    # Apostrophes stay: the dictionary spells "that's" and "what's" with them.
    return "#JSGF V1.0;\ngrammar g;\n" + body + "\n"


def spoken_form(phrase: str) -> str:
    """``phrase`` as a decoder's dictionary words: lower case, punctuation gone, a lone
    figure spoken as its digit word ("press 1" -> "press one"). Other numbers are left
    as they are, so a dictionary check names them instead of guessing how they are said."""
    return " ".join(DIGIT_WORDS[int(t)] if len(t) == 1 and t.isdigit() else t for t in _words(phrase).split())


def vocabulary(grammar: Grammar) -> tuple[str, ...]:
    """The phrases a phrase-list decoder (Vosk) should allow; JSGF alternatives are flattened."""
    if grammar.kind == "digits":
        return DIGIT_WORDS + ("oh",)
    if grammar.kind == "yesno":
        return YES + NO
    if grammar.kind == "phrases":
        return grammar.phrases
    if grammar.kind == "jsgf":
        return tuple(sorted(set(jsgf_words(grammar.jsgf))))
    raise ASRError(f"unknown grammar kind {grammar.kind!r}")


def jsgf_words(text: str, lower: bool = True) -> list[str]:
    """The terminal words a JSGF grammar uses (comments, rule names and operators removed);
    ``lower=False`` keeps their case (pocketsphinx's dictionary lookup is case-sensitive)."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"#JSGF[^;]*;|grammar\s+[\w.]+\s*;|import\s+[^;]*;", " ", text)
    bodies = " ".join(part.split("=", 1)[1] for part in text.split(";") if "=" in part)
    bodies = re.sub(r"<[^>]*>|\{[^}]*\}|/[\d.]+/", " ", bodies)
    words = re.findall(r"[\w'-]+", bodies.lower() if lower else bodies)
    return [w for w in words if w != "public"]


def normalize(text: str, grammar: Grammar | None) -> str:
    """Map recognised ``text`` onto ``grammar``'s canonical form ('' when it does not fit).

    digits -> digit words ("4172" and "four one seven two" both give "four one seven two");
    yesno -> "yes" / "no"; phrases -> the closest listed phrase; jsgf/None -> cleaned words.
    """
    words = _words(text)
    if grammar is None or grammar.kind == "jsgf":
        return words
    if grammar.kind == "digits":
        return " ".join(_digit_words(text))
    if grammar.kind == "yesno":
        return _yes_or_no(words)
    if grammar.kind == "phrases":
        exact = [p for p in grammar.phrases if spoken_form(p) == words]
        if exact:
            return exact[0]
        match = difflib.get_close_matches(words, grammar.phrases, n=1, cutoff=0.6)
        return match[0] if match else ""
    raise ASRError(f"unknown grammar kind {grammar.kind!r}")


def only_digits(text: str, aliases: bool = True) -> bool:
    """True when ``text`` holds digits (figures or words) and nothing but punctuation besides;
    ``aliases=False``: sound-alikes ("oh", "for", "to") do not count as digits."""
    tokens = re.findall(r"[\w']+", text.lower())
    return bool(tokens) and all(t.isdigit() or t in DIGIT_WORDS or (aliases and t in DIGIT_ALIASES) for t in tokens)


def _words(text: str) -> str:
    """Lower-case words; apostrophes kept inside words ("that's"), dropped around them."""
    return " ".join(w for w in (t.strip("'") for t in re.findall(r"[\w']+", text.lower())) if w)


def _digit_words(text: str) -> list[str]:
    out = []
    for token in re.findall(r"[a-z]+|\d", text.lower()):
        if token.isdigit():
            out.append(DIGIT_WORDS[int(token)])
        elif token in DIGIT_WORDS:
            out.append(token)
        elif token in DIGIT_ALIASES:
            out.append(DIGIT_ALIASES[token])
    return out


def _yes_or_no(words: str) -> str:
    if not words:
        return ""
    answer = yes_or_no(words)
    return "" if answer is None else ("yes" if answer else "no")
