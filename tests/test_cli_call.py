"""``voicebot call`` as a user runs it (a subprocess): against a running server (EchoSession),
and in-process with the real pipeline (slow: loads the models)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN, spoken_digits

from voicebot.audio.wavfile import Audio, read_wav, write_wav
from voicebot.testing.echo_session import tone


def _run(*args, timeout=60):
    env = dict(os.environ, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT_SID)
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", "call", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def beep_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "beep.wav"
    write_wav(path, Audio(np.concatenate([np.zeros(800, np.int16), tone(300, 0.6, 6000), np.zeros(800, np.int16)]), 8000))
    return path


def test_call_prints_json_timeline_and_writes_the_bot_audio(echo_server, beep_wav, tmp_path):
    out = tmp_path / "bot.wav"
    done = _run(str(beep_wav), "dtmf:0", "--url", echo_server.url, "--json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    turns = [line for line in lines if line["type"] == "turn"]
    assert [t["label"] for t in turns] == ["beep.wav", "dtmf 0"]
    # the echo bot answers after 15 quiet frames (0.3 s of caller audio) following the beep
    assert turns[0]["latency_ms"] is not None and turns[0]["reply_after_frames"] >= 15
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["transfer"]["destination"] == "+15550100000"
    assert summary["transfer"]["reason"] == "caller pressed 0"  # the server's transfer record
    audio = read_wav(out)
    # all the caller heard: greeting 0.6 s, reply 0.4 s, transfer tone 0.3 s, each followed by
    # the recording's 0.2 s gap (the server closed the stream after the tone had been sent)
    assert audio.sample_rate == 8000 and audio.duration_s == pytest.approx(0.6 + 0.4 + 0.3 + 3 * 0.2)
    assert abs(audio.duration_s - summary["bot_audio_s"]) < 0.01


def test_call_prints_a_readable_timeline(echo_server, beep_wav):
    done = _run(str(beep_wav), "--dtmf", "3", "--url", echo_server.url)
    assert done.returncode == 0, done.stderr
    assert "caller turns" in done.stdout and "beep.wav" in done.stdout and "dtmf 3" in done.stdout
    assert "plays greeting" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["missing.wav"], "missing.wav: no such file"),
    (["dtmf:12x"], "keys must be digits"),
])
def test_bad_input_is_one_line_and_exit_code_is_nonzero(echo_server, args, message):
    done = _run(*args, "--url", echo_server.url)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_unreachable_server_is_one_line(beep_wav):
    done = _run(str(beep_wav), "--url", "http://127.0.0.1:9")
    assert done.returncode == 1 and "cannot reach the voicebot server" in done.stderr
    assert "Traceback" not in done.stderr



# --- the headline path, as a new user types it ---------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
GREETING = ["Hi Ana, welcome back to Acme.",
            "How can I help? Say the number of your order, or order status, billing, returns, store hours, or recommendations."]
ANSWER = ["Order 4 1 7 2 has shipped and arrives Thursday.", "Anything else? Say main menu, or no to finish."]


def fresh_user_env(data_dir) -> dict:
    """The environment of someone who just cloned the project: no voicebot or Twilio settings,
    only a data folder of their own (so the test does not touch ``var/``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEBOT_", "TWILIO_"))}
    return dict(env, VOICEBOT_DATA_DIR=str(data_dir))


def assert_the_bot_answered_the_order(stdout: str) -> None:
    """``voicebot call audio_fixtures/order_4172.wav --json``: the bot heard 4 1 7 2 at the main
    menu and said the order has shipped."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    said = [line["text"] for line in lines if line["type"] == "transcript" and line["speaker"] == "bot"]
    heard = [line["text"] for line in lines if line["type"] == "transcript" and line["speaker"] == "caller"]
    assert said == GREETING + ANSWER, said  # the order number was never asked for
    assert len(heard) == 1 and spoken_digits(heard[0]) == "4172", heard
    [turn] = [line for line in lines if line["type"] == "turn"]
    assert turn["label"] == "order_4172.wav" and turn["latency_ms"] is not None
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["ended_by"] == "caller hung up" and summary["bot_audio_s"] > 5


@pytest.mark.slow
def test_call_in_process_with_the_real_pipeline_answers_the_order(tmp_path):
    done = subprocess.run([sys.executable, "-m", "voicebot.cli.main", "call", "audio_fixtures/order_4172.wav", "--json"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT, env=fresh_user_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert_the_bot_answered_the_order(done.stdout)
