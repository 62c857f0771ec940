"""`voicebot analyze` and `voicebot nlu train|evaluate|predict` through their real click commands
(in-process, so the embedding model loads once), plus the console entry for error handling."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from voicebot.audio.wavfile import Audio, write_wav
from voicebot.cli.analyze import analyze
from voicebot.cli.nlu import nlu

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "flows" / "retail_demo.yaml"
TRAIN_CSV = """text,label
where is my order,order_status
track my package,order_status
has my order shipped yet,order_status
when will my order arrive,order_status
I have a question about my bill,billing
I was charged twice,billing
why is my bill so high,billing
there is a wrong charge on my card,billing
I want to return an item,returns
how do I send this back,returns
I need a refund for this item,returns
can I exchange this,returns
what's the weather today,oos
tell me a joke,oos
who won the game last night,oos
"""
TEST_CSV = """text,label
my package has not arrived,order_status
I think I was billed the wrong amount,billing
I'd like to return these shoes,returns
what is the capital of france,oos
"""


def run(command, args):
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def json_lines(output):
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_analyze_text_json_one_object_per_input():
    out = run(analyze, ["--flow", str(FLOW), "--json", "--text", "where is my order, it's one two three four",
                        "--text", "GET ME A REAL PERSON NOW, this is ridiculous!!", "--text", ""])
    first, angry, empty = json_lines(out)
    for record in (first, angry, empty):
        assert {"transcript", "intent", "confidence", "entities", "emotion", "emotion_scores", "frustration"} <= set(record)
        assert 0.0 <= record["frustration"] <= 1.0
    assert first["intent"] == "order_status"
    assert {"kind": "digits", "value": "1234"}.items() <= next(e for e in first["entities"] if e["kind"] == "digits").items()
    assert angry["intent"] == "agent" and angry["frustration"] > first["frustration"]
    assert empty["intent"] == "oos" and empty["no_speech"] is True


def test_analyze_text_file_as_one_call_accumulates_frustration(tmp_path):
    lines = ["where is my order", "I already told you, where is my order", "this is useless",
             "you are not helping me at all", "I am so angry right now"]
    (tmp_path / "turns.txt").write_text("\n".join(lines) + "\n\n")
    records = json_lines(run(analyze, ["--flow", str(FLOW), "--json", "--as-call", "--text-file", str(tmp_path / "turns.txt")]))
    assert len(records) == len(lines)
    scores = [r["frustration"] for r in records]
    assert scores[-1] > scores[0] + 0.3


def test_analyze_human_readable_output():
    out = run(analyze, ["--flow", str(FLOW), "--text", "I was charged $45 twice"])
    assert "intent      billing" in out and "money=" in out and "frustration" in out


@pytest.mark.slow
def test_analyze_wav_transcribes_and_understands(tmp_path):
    silence = write_wav(tmp_path / "silence.wav", Audio(np.zeros(16000, np.int16), 8000))
    out = run(analyze, ["--flow", str(FLOW), "--json", str(ROOT / "audio_fixtures" / "order_4172.wav"), str(silence)])
    spoken, quiet = json_lines(out)
    assert next(e["value"] for e in spoken["entities"] if e["kind"] == "digits") == "4172"
    assert spoken["voice"]["arousal"] is not None
    assert quiet["no_speech"] is True and quiet["intent"] == "oos" and quiet["voice"]["arousal"] is None


def test_nlu_train_evaluate_predict(tmp_path):
    (tmp_path / "train.csv").write_text(TRAIN_CSV)
    (tmp_path / "test.csv").write_text(TEST_CSV)
    model = tmp_path / "model"
    run(nlu, ["train", "--data", str(tmp_path / "train.csv"), "--out", str(model)])
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["intents"] == ["billing", "order_status", "returns"] and len(manifest["data_sha256"]) == 64
    metrics = json.loads(run(nlu, ["evaluate", "--model", str(model), "--data", str(tmp_path / "test.csv"), "--json"]))
    # evaluate must agree with predict, row by row
    rows = [line.rsplit(",", 1) for line in TEST_CSV.strip().splitlines()[1:]]
    predicted = [json.loads(run(nlu, ["predict", "--model", str(model), "--json", text]))["intent"] for text, _ in rows]
    assert metrics["n"] == 4
    assert metrics["accuracy"] == pytest.approx(sum(p == g for p, (_, g) in zip(predicted, rows)) / 4, abs=1e-3)
    assert metrics["oos_recall"] == (1.0 if predicted[-1] == "oos" else 0.0)
    assert predicted[:2] == ["order_status", "billing"]
    report = run(nlu, ["evaluate", "--model", str(model), "--data", str(tmp_path / "test.csv")])
    assert "macro-F1" in report and "order_status" in report
    assert "confusion summary:" in report
    assert set(metrics["confusion_summary"]) == {"correct", "wrong_intent", "rejected_in_scope", "accepted_oos"}
    assert sum(metrics["confusion_summary"].values()) == metrics["n"]
    assert (model / "branch.safetensors").exists()  # fine-tuned by default


@pytest.mark.parametrize("content, message", [
    ("utterance,intent\nhi,greet\n", "missing column(s) text, label"),
    ("text,label\nhi,greet\nhello,greet\nbye,\n", "empty label in row(s) 4"),
    ("text,label\nhi,greet\nhello,greet\nbye,farewell\n", "'farewell' (row 4)"),
])
def test_bad_training_csv_is_a_one_line_error(tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    proc = subprocess.run([sys.executable, "-m", "voicebot.cli.main", "nlu", "train", "--data", str(tmp_path / "bad.csv"),
                           "--out", str(tmp_path / "m")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
