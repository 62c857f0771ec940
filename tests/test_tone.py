"""Tone adaptation, measured in real espeak-ng audio: the same text rendered for a calm caller
and for a distressed one differs in length, speaking rate (words per voiced second) and the
pauses between sentences (silent 20 ms frames by energy); the wording gets shorter."""
from __future__ import annotations

import numpy as np
import pytest

from voicebot.session.tone import DISTRESSED, GENTLE, NORMAL, render, sentences_for, tone_for
from voicebot.tts.pyttsx3 import Pyttsx3TTS

TEXT = "Your order has shipped, and it arrives on Thursday, so you will have it before the weekend. Anything else?"
FRAME = 160  # 20 ms at 8 kHz


@pytest.fixture(scope="module")
def tts():
    return Pyttsx3TTS()


def _voiced(pcm: np.ndarray) -> np.ndarray:
    n = len(pcm) // FRAME
    rms = np.sqrt((pcm[: n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2).mean(axis=1))
    return rms >= 0.05 * rms.max()


def _longest_inner_pause_s(pcm: np.ndarray) -> float:
    voiced = _voiced(pcm)
    inside = voiced[np.argmax(voiced): len(voiced) - np.argmax(voiced[::-1])]
    longest = run = 0
    for v in inside:
        run = 0 if v else run + 1
        longest = max(longest, run)
    return longest * FRAME / 8000


def _words_per_voiced_second(pcm: np.ndarray, words: int) -> float:
    return words / (_voiced(pcm).sum() * FRAME / 8000)


def test_a_distressed_caller_hears_slower_speech_with_longer_pauses(tts):
    calm, gentle, upset = (render(tts, TEXT, tone) for tone in (NORMAL, GENTLE, DISTRESSED))
    said_calm, said_upset = sentences_for(TEXT, NORMAL), sentences_for(TEXT, DISTRESSED)
    words_calm = sum(len(s.split()) for s in said_calm)
    words_upset = sum(len(s.split()) for s in said_upset)
    assert words_calm == words_upset == 19  # the same words, cut into shorter sentences
    assert len(said_calm) == 2 and len(said_upset) == 4
    assert len(calm) < len(gentle) < len(upset)
    assert len(upset) / len(calm) >= 1.3, (len(upset), len(calm))
    rate_calm, rate_upset = _words_per_voiced_second(calm, words_calm), _words_per_voiced_second(upset, words_upset)
    assert rate_upset <= 0.85 * rate_calm, (rate_calm, rate_upset)
    # espeak ends each sentence with its own silence (0.38 s measured for the calm rendering); the
    # tone's pause comes on top of it (measured: calm 0.38 s, gentle 0.66 s, distressed 1.22 s)
    pause_calm = _longest_inner_pause_s(calm)
    assert _longest_inner_pause_s(gentle) >= pause_calm + GENTLE.pause_s - 0.02
    assert _longest_inner_pause_s(upset) >= pause_calm + DISTRESSED.pause_s - 0.02


def test_distressed_wording_drops_asides_and_cuts_long_sentences():
    text = "When should we call you? For example, tomorrow at 10 AM."
    assert sentences_for(text, NORMAL) == ["When should we call you?", "For example, tomorrow at 10 AM."]
    assert sentences_for(text, DISTRESSED) == ["When should we call you?"]
    menu = "How can I help? Say the number of your order, or order status, billing, returns, store hours, or recommendations."
    assert sentences_for(menu, DISTRESSED) == ["How can I help?", "Say the number of your order.", "or order status.", "billing.",
                                               "returns.", "store hours.", "or recommendations."]


def test_tone_follows_frustration_and_profile():
    assert tone_for(None) is NORMAL and tone_for(0.29) is NORMAL
    assert tone_for(0.3) is GENTLE and tone_for(0.59) is GENTLE
    assert tone_for(0.6) is DISTRESSED and tone_for(1.0) is DISTRESSED
    assert tone_for(0.1, {"segments": ["recent_complaint"]}) is GENTLE
    assert tone_for(0.1, {"preferences": {"slow_speech": True}}) is GENTLE
    assert tone_for(0.1, {"segments": ["frequent_buyer"], "preferences": {}}) is NORMAL
    assert tone_for(0.9, {"preferences": {"slow_speech": True}}) is DISTRESSED
    assert (NORMAL.rate, GENTLE.rate, DISTRESSED.rate) == (165, 152, 132)
