"""``voicebot bench asr --manifest``: recognisers scored on a user's recordings, and its errors."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voicebot.asr.evaluation import digits_of, digits_read, evaluate, read_manifest
from voicebot.asr.registry import load_asr
from voicebot.errors import AudioError, ConfigError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "audio_fixtures"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def voicebot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", *args], capture_output=True, text=True, timeout=600, cwd=ROOT, env=ENV)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    """The six recorded fixtures (3 sentences, 3 order numbers) in a folder of their own."""
    folder = tmp_path_factory.mktemp("calls")
    rows = list(csv.DictReader(open(FIXTURES / "manifest.csv")))
    (folder / "audio").mkdir()
    for row in rows:
        shutil.copy(FIXTURES / row["path"], folder / "audio" / row["path"])
    with open(folder / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "transcript"])
        writer.writerows([f"audio/{r['path']}", r["transcript"]] for r in rows)
    return folder / "manifest.csv"


def test_digit_strings_are_recognised_in_both_spellings():
    assert digits_of("4172") == digits_of("four one seven two") == "4172"
    assert digits_of("printing in venice") is None
    assert digits_read("my number is 4 1 seven 2") == "4172"


def test_bench_asr_reports_what_evaluate_measures(manifest):
    run = voicebot("bench", "asr", "--manifest", str(manifest), "--backends", "moonshine", "--json")
    assert run.returncode == 0, run.stderr
    (row,) = [json.loads(line) for line in run.stdout.splitlines()]
    local = evaluate(load_asr("moonshine"), read_manifest(manifest))
    assert row["backend"] == "moonshine" and row["files"] == 6 and row["digit_strings"] == 3
    assert (row["wer"], row["digit_accuracy"], row["misses"]) == (local["wer"], local["digit_accuracy"], len(local["misses"]))
    assert 0 < row["decode_p50_s"] <= row["decode_p95_s"]
    text = voicebot("bench", "asr", "--manifest", str(manifest), "--backends", "moonshine", "--misses")
    assert text.returncode == 0 and text.stdout.startswith("moonshine: WER ") and "said 'five zero nine three'" in text.stdout


@pytest.mark.parametrize("content, message", [
    ("file,text\na.wav,hello\n", "row 1 must be the header 'path,transcript'"),
    ("path,transcript\naudio/order_4172.wav,four one seven two\naudio/order_5093.wav\n", "row 3 has 1 columns, expected 2"),
    ("path,transcript\naudio/order_4172.wav,   \n", "row 2 has an empty transcript"),
    ("path,transcript\naudio/nope.wav,hello\n", "row 2: .*nope.wav: no such file"),
    ("path,transcript\n", "lists no recordings"),
])
def test_a_malformed_manifest_names_the_row_and_why(manifest, content, message):
    bad = manifest.parent / "bad.csv"
    bad.write_text(content)
    with pytest.raises((ConfigError, AudioError), match=message):
        read_manifest(bad)
    run = voicebot("bench", "asr", "--manifest", str(bad), "--backends", "moonshine")
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "bad.csv" in run.stderr
