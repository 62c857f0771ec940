"""Semantic endpointing: is an early recognition already the caller's whole answer?

The session decodes what was said after a short pause (``SessionSettings.speculate_after_s``).
When that text is a complete answer for the current ``Listen`` (its ``complete_when``), the
turn ends at once instead of after the prompt's full end-of-turn silence. Anything short of a
complete answer keeps the session waiting: a caller pausing inside a number is never cut off
before the number's last expected digit.
"""
from __future__ import annotations

import re
from typing import Callable

from voicebot.actions import Listen
from voicebot.flows.slots import spoken_digits
from voicebot.vocabulary import yes_or_no


def is_complete(listen: Listen | None, text: str) -> bool:
    """True when ``text`` fully answers ``listen``: ``max_digits`` digits ("digits"), a clear
    yes or no ("yesno"), or exactly one of the grammar's phrases ("phrase")."""
    if listen is None or not listen.complete_when or not text.strip():
        return False
    kind = listen.complete_when
    if kind == "digits":
        return len(spoken_digits(text)) >= listen.max_digits
    if kind == "yesno":
        return yes_or_no(text) is not None
    if kind == "phrase" and isinstance(listen.grammar, (tuple, list)):
        return _plain(text) in {_plain(p) for p in listen.grammar}
    return False


def answer_test(listen: Listen | None) -> Callable[[str], bool] | None:
    """What a quick recognition must be to be kept (``RecognitionStream.finish(accept=...)``):
    a complete answer for ``listen``, with exactly ``max_digits`` digits for a number (a quick
    decode that loops reads too many); None without ``complete_when`` (the recogniser then keeps
    a quick result only for long speech)."""
    if listen is None or not listen.complete_when:
        return None
    if listen.complete_when == "digits":
        return lambda text: len(spoken_digits(text)) == listen.max_digits
    return lambda text: is_complete(listen, text)


MIN_SPEECH_PER_DIGIT_S = 0.25  # even fast talkers voice a spoken digit for about this long


def could_be_complete(listen: Listen | None, speech_s: float) -> bool:
    """False when ``speech_s`` seconds of speech are too short to hold a complete answer (fewer
    than ``max_digits`` digits could fit): an early decode now would be wasted recogniser time.
    True whenever early decoding might help, including listens without ``complete_when``."""
    if listen is None or listen.complete_when != "digits":
        return True
    return speech_s >= MIN_SPEECH_PER_DIGIT_S * listen.max_digits - 1e-9


def _plain(text: str) -> str:
    """Lower case words only: "That's all." and "that's all" compare equal."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))
