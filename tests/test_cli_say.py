"""``voicebot say`` as a user runs it: a subprocess writing real WAV files, one-line errors,
and speech that ``voicebot transcribe`` reads back."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import soundfile as sf

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def voicebot(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", *args], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=180)


def test_say_writes_a_pcm_wav(tmp_path):
    out = tmp_path / "reply.wav"
    result = voicebot("say", "Your order has shipped.", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and str(out) in result.stdout
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert 1.0 < info.duration < 3.0


def test_say_telephone_writes_8k_mulaw_and_json(tmp_path):
    out = tmp_path / "phone.wav"
    result = voicebot("say", "Please hold.", "--out", str(out), "--telephone", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    info = sf.info(str(out))
    assert (info.samplerate, info.subtype) == (8000, "ULAW")
    assert report["sample_rate"] == 8000 and report["encoding"] == "mulaw"
    assert report["duration_s"] == pytest.approx(info.duration, abs=0.01)


def _median_pitch_hz(path) -> float:
    import librosa
    import numpy as np

    samples, rate = sf.read(str(path), dtype="float32")
    return float(np.median(librosa.yin(samples, fmin=60, fmax=500, sr=rate)))


def test_say_rate_and_voice_options_change_the_audio(tmp_path):
    durations, outs = {}, {}
    for name, args in {"slow": ["--rate", "100"], "fast": ["--rate", "300"], "default": [],
                       "female": ["--voice", "en-us+f3"]}.items():
        outs[name] = tmp_path / f"{name}.wav"
        result = voicebot("say", "Thank you for your patience today.", "--out", str(outs[name]), *args)
        assert result.returncode == 0, result.stderr
        durations[name] = sf.info(str(outs[name])).duration
    assert durations["slow"] > 1.8 * durations["fast"]
    # at the same rate, the female variant speaks about an octave higher (measured: 109 -> 209 Hz)
    assert _median_pitch_hz(outs["female"]) > 1.5 * _median_pitch_hz(outs["default"])


def test_say_lists_voices():
    result = voicebot("say", "--list-voices", "--json")
    assert result.returncode == 0, result.stderr
    voices = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(v["id"] == "gmw/en-us" for v in voices)
    assert all(not v["id"].startswith("mb/") for v in voices)


@pytest.mark.parametrize("args,code,message", [
    (["hi", "--voice", "klingon-x"], 1, "error: unknown voice 'klingon-x'"),
    (["   ", "--out", "{tmp}/x.wav"], 1, "error: nothing to say"),
    (["hi", "--out", "{tmp}/afile/x.wav"], 1, "error: cannot write"),
    (["hi", "--out", "{tmp}/x.wav", "--rate", "5"], 2, "not in the range"),
    (["hi"], 2, "give the text and --out"),
])
def test_say_bad_input_is_one_line_and_non_zero(tmp_path, args, code, message):
    (tmp_path / "afile").write_text("a file, not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args and "--voice" in args:
        args += ["--out", str(tmp_path / "x.wav")]
    result = voicebot("say", *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_say_then_transcribe_reads_the_words_back(tmp_path):
    # plumbing check with synthetic speech: say's telephone audio is what transcribe hears
    out = tmp_path / "order.wav"
    said = voicebot("say", "Your order will arrive on Tuesday morning.", "--out", str(out), "--telephone")
    assert said.returncode == 0, said.stderr
    heard = voicebot("transcribe", str(out), "--backend", "whisper", "--json")
    assert heard.returncode == 0, heard.stderr
    text = json.loads(heard.stdout.splitlines()[-1])["text"].lower()
    for word in ("order", "arrive", "tuesday", "morning"):
        assert word in text, text
