"""MoonshineASR on the real tiny-en model (PyPI moonshine-voice==0.1.0) and recorded speech."""
from __future__ import annotations

import csv
from pathlib import Path

import jiwer
import numpy as np
import pytest

from voicebot.asr import grammar as grammars
from voicebot.asr import models
from voicebot.asr.moonshine import MoonshineASR, read_tokenizer
from voicebot.asr.registry import load_asr
from voicebot.audio.wavfile import read_wav
from voicebot.errors import ASRError, ModelNotFoundError

FIXTURES = Path(__file__).resolve().parent.parent / "audio_fixtures"
MANIFEST = {row["path"]: row for row in csv.DictReader(open(FIXTURES / "manifest.csv"))}


def fixture(name: str) -> np.ndarray:
    return read_wav(FIXTURES / name).pcm


@pytest.fixture(scope="module")
def moonshine():
    return load_asr("moonshine")


@pytest.mark.parametrize("name", [n for n in MANIFEST if n.startswith("read_")])
def test_moonshine_transcribes_telephone_read_speech(moonshine, name):
    """8 kHz mu-law sentences, each on its own: at most one word in ten wrong (measured 0/27, 1/17, 0/19)."""
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    normalizer = EnglishTextNormalizer({})
    result = moonshine.transcribe(fixture(name), 8000)
    assert jiwer.wer(normalizer(MANIFEST[name]["transcript"]), normalizer(result.text)) <= 0.10, result.text
    assert result.backend == "moonshine" and 0.5 < result.confidence <= 1 and result.is_final


@pytest.mark.parametrize("name", ["order_4172.wav", "order_9999.wav"])
def test_moonshine_reads_order_numbers_with_the_digit_grammar(moonshine, name):
    assert moonshine.transcribe(fixture(name), 8000, grammars.digits()).text == MANIFEST[name]["transcript"]


def test_moonshine_decodes_more_than_its_decoder_window(moonshine):
    """The decoder attends to at most ~9.6 s of audio; a 16.7 s utterance is read in pieces."""
    long = np.concatenate([fixture("read_LJ001-0001_8k_mulaw.wav"), fixture("read_LJ001-0049_8k_mulaw.wav")])
    reference = MANIFEST["read_LJ001-0001_8k_mulaw.wav"]["transcript"] + " " + MANIFEST["read_LJ001-0049_8k_mulaw.wav"]["transcript"]
    text = moonshine.transcribe(long, 8000).text
    assert jiwer.wer(reference, text.replace("1480s", "fourteen eighties").replace("1490", "fourteen ninety")) <= 0.10, text


def test_moonshine_never_decodes_silence_or_noise(moonshine):
    assert moonshine.transcribe(np.zeros(16000, np.int16), 8000).text == ""
    hiss = np.random.default_rng(0).normal(0, 200, 16000).astype(np.int16)
    result = moonshine.transcribe(hiss, 8000, grammars.digits())
    assert (result.text, result.confidence) == ("", 0.0)


def test_moonshine_digit_reading_of_a_sentence_is_marked_a_loop(moonshine):
    """Forced to digits, a sentence becomes "one one one ..." until the cap: confidence 0."""
    result = moonshine.transcribe(fixture("read_LJ001-0001_8k_mulaw.wav"), 8000, grammars.digits())
    assert result.confidence == 0.0


def test_moonshine_streams_and_rejects_what_it_cannot_do(moonshine):
    pcm = fixture("order_9999.wav")
    stream = moonshine.stream(8000, grammars.digits())
    for i in range(0, len(pcm), 160):
        assert stream.accept(pcm[i:i + 160]) is None
    assert stream.finish().text == "nine nine nine nine"
    with pytest.raises(ASRError, match="already finished"):
        stream.finish()
    with pytest.raises(ASRError, match="44100"):
        moonshine.stream(44100)
    with pytest.raises(ASRError, match="cannot enforce a jsgf grammar"):
        moonshine.stream(8000, grammars.from_jsgf("#JSGF V1.0;\ngrammar g;\npublic <a> = yes;\n"))


def test_moonshine_model_is_registered_and_a_missing_one_says_how_to_get_it(tmp_path):
    path = models.model_path("moonshine-tiny-en")
    assert path is not None and {p.name for p in path.iterdir()} >= {"encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin"}
    pieces = read_tokenizer(path / "tokenizer.bin")
    assert len(pieces) == 32768 and pieces[:3] == [b"<unk>", b"<s>", b"</s>"]
    with pytest.raises(ModelNotFoundError, match=r"pip install moonshine-voice==0\.1\.0"):
        MoonshineASR(tmp_path)
