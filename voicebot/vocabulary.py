"""The one yes/no vocabulary: how callers say yes, no, and "I don't know".

A leaf module every stage may import: the recognisers' yes/no grammar (``voicebot.asr.grammar``),
the understanding layer's ``yesno`` entity (``voicebot.nlu.entities``) and the flows' plain-text
fallback (``voicebot.flows.slots``) all read these lists, so a form one of them accepts the
others accept too. Phrases are lower-case words; apostrophes as typed ("that's").
"""
from __future__ import annotations

import re

YES = ("yes", "yeah", "yea", "yep", "yup", "ya", "yah", "sure", "correct", "right", "that's right", "that is right",
       "absolutely", "affirmative", "ok", "okay", "uh huh", "mhm", "definitely", "of course", "please do", "go ahead",
       "sounds good", "that's correct", "that is correct", "exactly", "indeed", "certainly", "yes please", "i do",
       "that's it", "you got it", "alright", "all right", "perfect", "true")
NO = ("no", "nope", "nah", "not really", "negative", "incorrect", "wrong", "that's wrong", "no thanks",
      "no thank you", "not at all", "don't", "do not", "not right", "not correct", "that's not right",
      "that is not right", "that's not it", "not that", "never", "no way", "i don't", "it isn't", "it's not", "false")
# Answers that contain a yes or no word but are neither ("no problem" is not a refusal).
NEITHER = ("not sure", "i'm not sure", "i don't know", "no idea", "dunno", "maybe", "not yet", "no problem")


def words_of(text: str) -> list[str]:
    """Lower-case words as the lists spell them (typographic apostrophes made plain)."""
    return re.findall(r"[a-z]+(?:'[a-z]+)?", (text or "").lower().replace("’", "'"))


def find_answer(words: list[str]) -> tuple[bool | None, int, int] | None:
    """The caller's yes/no answer in ``words``: ``(value, start, end)`` (word indices of its first
    phrase), or None when there is none. Phrases are matched left to right, the longest at each
    position, so "not right" is a no and "no problem" is neither. An answer that says both
    ("yes... no") is unclear: ``value`` None."""
    found, i = [], 0
    while i < len(words):
        match = _longest_at(words, i)
        if match is None:
            i += 1
            continue
        found.append((match[0], i, i + match[1]))
        i += match[1]
    definite = [f for f in found if f[0] is not None]
    if not found:
        return None
    if not definite:
        return None, found[0][1], found[0][2]
    if len({f[0] for f in definite}) > 1:
        return None, definite[0][1], definite[-1][2]
    return definite[0]


def _longest_at(words: list[str], i: int) -> tuple[bool | None, int] | None:
    best = None
    for value, phrases in ((None, NEITHER), (False, NO), (True, YES)):
        for phrase in phrases:
            n = len(phrase.split())
            if " ".join(words[i:i + n]) == phrase and (best is None or n > best[1]):
                best = (value, n)
    return best


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when unclear ("maybe", "yes no"), or absent."""
    found = find_answer(words_of(text))
    return None if found is None else found[0]
