"""Property-based tests of PII redaction: any text gives sorted, non-overlapping entities inside
the text whose replacement is exactly the redacted text; pathological inputs do not hang."""
from __future__ import annotations

import fuzz_settings  # noqa: F401  (loads the bounded CI profile)
from hypothesis import example, given
from hypothesis import strategies as st

from voicebot.privacy.redaction import TYPES, redact

TOKENS = ["one", "two", "oh", "double", "hundred", "thousand", "and", "twenty", "first", "dot", "at", "underscore",
          "plus", "area code", "card", "social", "routing", "account", "phone", "born", "order", "street", "apt",
          "4111", "1111", "555", "-", ",", ".", "(", ")", "+", "@", "/", "$", "gmail", "com", "march", "5th", "1985",
          "a", "b", "1", "0", "9", "  ", "\n"]
pii_like = st.lists(st.sampled_from(TOKENS), max_size=120).map(" ".join)


def _check(text: str) -> None:
    result = redact(text)
    rebuilt, cursor = [], 0
    for entity in result.entities:
        assert entity.type in TYPES
        assert cursor <= entity.start < entity.end <= len(text)
        rebuilt += [text[cursor:entity.start], f"[{entity.type}]"]
        cursor = entity.end
    rebuilt.append(text[cursor:])
    assert "".join(rebuilt) == result.text


@given(st.text(max_size=400))
def test_any_text(text):
    _check(text)


@given(pii_like)
@example("a " * 3000 + "at gmail dot")
@example("1 " * 4000)
@example("one " * 3000)
@example("j " * 2000 + "at example dot com")
@example("123 " + "main " * 2000 + "street")
@example("born " + "march 5th " * 1000)
def test_pii_shaped_token_soup(text):
    _check(text)
