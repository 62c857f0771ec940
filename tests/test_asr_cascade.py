"""CascadeASR: Moonshine first, Whisper only when needed; real models, recorded speech."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from voicebot.asr import grammar as grammars
from voicebot.asr.cascade import CascadeASR
from voicebot.asr.evaluation import digits_read, exactly
from voicebot.asr.registry import load_asr
from voicebot.audio.wavfile import read_wav

FIXTURES = Path(__file__).resolve().parent.parent / "audio_fixtures"
MANIFEST = {row["path"]: row for row in csv.DictReader(open(FIXTURES / "manifest.csv"))}
SENTENCES = [n for n in MANIFEST if n.startswith("read_")]


def fixture(name: str) -> np.ndarray:
    return read_wav(FIXTURES / name).pcm


@pytest.fixture(scope="module")
def cascade():
    return load_asr("cascade")


@pytest.mark.parametrize("name", ["order_4172.wav", "order_9999.wav"])
def test_a_spoken_order_number_is_answered_by_the_first_pass(cascade, name):
    """Open speech with the order prompt's answer test (4 digits): Moonshine's free reading of
    4172 is "for one eleven two"; read again as digits only it is the answer, no Whisper."""
    result = cascade.transcribe(fixture(name), 8000, accept=exactly(4))
    assert (digits_read(result.text), result.backend) == (digits_read(MANIFEST[name]["transcript"]), "moonshine")
    assert result.is_final


def test_a_sentence_is_never_forced_into_a_number(cascade):
    """The order prompt's answer test fails on a sentence: the digits-only reading has a
    different word count, so the sentence goes to Whisper and comes back as words."""
    result = cascade.transcribe(fixture("read_LJ001-0012_8k_mulaw.wav"), 8000, accept=exactly(4))
    assert result.backend == "whisper" and "printing beautiful letters" in result.text


@pytest.mark.parametrize("name", SENTENCES)
def test_sentences_stay_with_the_first_pass_only_when_it_is_sure(cascade, name):
    sure = load_asr("moonshine").transcribe(fixture(name), 8000).confidence >= cascade.open_confidence
    assert cascade.transcribe(fixture(name), 8000).backend == ("moonshine" if sure else "whisper")


def test_open_confidence_routes_every_sentence(cascade):
    always_first = CascadeASR(cascade.first, cascade.second, open_confidence=0.0)
    never_first = CascadeASR(cascade.first, cascade.second, open_confidence=2.0)
    pcm = fixture("read_LJ001-0049_8k_mulaw.wav")
    assert always_first.transcribe(pcm, 8000).backend == "moonshine"
    assert never_first.transcribe(pcm, 8000).backend == "whisper"


# read_LJ001-0012 says "no" ("especially as no more time ..."), which a yes/no question rightly hears as no
@pytest.mark.parametrize("name", ["read_LJ001-0001_8k_mulaw.wav", "read_LJ001-0049_8k_mulaw.wav"])
@pytest.mark.parametrize("grammar", [grammars.yesno(), grammars.phrases(["kids are talking by the door", "dogs are sitting by the door"])],
                         ids=["yesno", "phrases"])
def test_a_sure_sentence_that_holds_no_answer_never_reaches_whisper(cascade, name, grammar):
    """A read sentence at a yes/no or menu question: no answer either way; Whisper is asked only
    when the first pass is unsure of the sentence (the off-grammar rule in docs/asr.md)."""
    free = load_asr("moonshine").transcribe(fixture(name), 8000)
    sure = free.confidence >= cascade.open_confidence and len(free.text.split()) >= 4
    result = cascade.transcribe(fixture(name), 8000, grammar)
    assert (result.text, result.backend) == ("", "moonshine" if sure else "whisper")


def test_the_off_grammar_rule_needs_a_sure_first_pass(cascade):
    never_sure = CascadeASR(cascade.first, cascade.second, open_confidence=2.0)
    result = never_sure.transcribe(fixture("read_LJ001-0049_8k_mulaw.wav"), 8000, grammars.yesno())
    assert (result.text, result.backend) == ("", "whisper")


def test_passes_quick_and_thorough(cascade):
    pcm = fixture("order_4172.wav")
    stream = cascade.stream(8000)
    stream.accept(pcm)
    draft = stream.finish(accept=lambda text: False, passes="quick")  # never good enough: a draft, no Whisper
    assert (draft.backend, draft.is_final) == ("moonshine", False) and draft.text
    stream = cascade.stream(8000, grammars.digits())
    stream.accept(pcm)
    assert stream.finish(passes="thorough").backend == "whisper"


def test_silence_is_not_decoded(cascade):
    result = cascade.transcribe(np.zeros(16000, np.int16), 8000, accept=exactly(4))
    assert (result.text, result.confidence, result.is_final) == ("", 0.0, True)


def test_the_cascade_is_a_registered_buffered_recogniser(cascade):
    assert cascade.name == "cascade" and cascade.decodes_at_finish
    assert cascade.supports_grammar(grammars.digits()) and not cascade.supports_grammar(grammars.from_jsgf("#JSGF V1.0;\ngrammar g;\npublic <a> = yes;\n"))
