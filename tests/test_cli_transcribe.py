"""``voicebot transcribe`` as a user runs it: a real subprocess, real models, real recordings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "audio_fixtures"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def voicebot(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**ENV, **(env or {})})


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    not_wav = folder / "notes.wav"
    not_wav.write_text("this is not audio")
    empty = folder / "empty.wav"
    empty.write_bytes(b"")
    truncated = folder / "truncated.wav"
    truncated.write_bytes((FIXTURES / "order_4172.wav").read_bytes()[:30])
    return {"not_wav": not_wav, "empty": empty, "truncated": truncated, "missing": folder / "missing.wav"}


def test_transcribes_many_files_and_reports_each_bad_one(bad_files):
    good = ["audio_fixtures/read_LJ001-0049_8k_mulaw.wav", "audio_fixtures/order_4172.wav"]
    bad = [str(p) for p in bad_files.values()]
    run = voicebot("transcribe", "--json", "--backend", "whisper", good[0], *bad, good[1])
    assert run.returncode == 1
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["file"] for r in rows] == good  # the path as given
    assert {"file", "text", "confidence", "backend", "audio_s", "decode_s"} <= set(rows[0])
    assert "printing in venice had declined" in rows[0]["text"]
    assert rows[0]["backend"] == "whisper" and rows[0]["audio_s"] == pytest.approx(8.336, abs=0.01)
    errors = run.stderr.strip().splitlines()
    assert len(errors) == len(bad) and "Traceback" not in run.stderr
    for path, line in zip(bad, errors):
        assert line.startswith("error: ") and path in line


def test_digit_grammar_through_auto():
    # order_4172: order_5093 is a known misreading of the default recogniser (tests/test_asr.py)
    run = voicebot("transcribe", "--json", "--grammar", "digits", "audio_fixtures/order_4172.wav")
    assert run.returncode == 0, run.stderr
    row = json.loads(run.stdout)
    assert row["file"] == "audio_fixtures/order_4172.wav"
    assert row["text"] == "four one seven two"  # the manifest's transcript of the recording
    assert row["backend"] == "moonshine"  # the cascade's first pass is sure of it: Whisper is not asked


def test_jsgf_grammar_file_with_pocketsphinx(tmp_path):
    cmu = Path("/usr/share/pocketsphinx/test/data")
    wav = tmp_path / "goforward.wav"
    subprocess.run(["sox", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", str(cmu / "goforward.raw"), "-r", "8000", str(wav)], check=True)
    run = voicebot("transcribe", "--backend", "pocketsphinx", "--grammar", str(cmu / "goforward.gram"), str(wav))
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\t")[1] == "go forward ten meters"


def test_bad_grammar_and_backend_are_one_line_errors():
    run = voicebot("transcribe", "--grammar", "numbers", "audio_fixtures/order_4172.wav")
    assert run.returncode != 0 and run.stderr.strip().count("\n") == 0 and "numbers" in run.stderr

def test_missing_vosk_model_is_a_one_line_error_saying_how_to_get_it(tmp_path):
    # a models folder without the English Vosk model (the developer's own models/ may have it)
    run = voicebot("transcribe", "--backend", "vosk", "audio_fixtures/order_4172.wav",
                   env={"VOICEBOT_MODELS_DIR": str(tmp_path)})
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == ("error: no English Vosk model installed; run `voicebot models download vosk-en-us-small` "
                          f"(needs internet) or unpack it into {tmp_path / 'vosk-en-us-small'}\n")
