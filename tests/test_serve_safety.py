"""``voicebot serve``'s safe defaults, as a user runs it: loopback unless told otherwise, a refused
non-loopback bind while development credentials are in use (one line naming what to set), the
banner printing the address really bound, the key file made on first start and announced, and
a wrong key refused before anything listens.

The server gets a flow file that does not exist, so it never loads models (cheap to run)."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
from conftest import ACCOUNT_SID, AUTH_TOKEN

from voicebot.privacy.crypto import generate_key


def _env(data_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEBOT_", "TWILIO_"))}
    env.update(VOICEBOT_DATA_DIR=str(data_dir), VOICEBOT_FLOW="/nonexistent/flow.yaml", PYTHONUNBUFFERED="1", **extra)
    return env


def _serve(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "voicebot.cli.main", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)


def _lines_until(process: subprocess.Popen, marker: str, timeout_s: float = 60.0) -> list[str]:
    """Output lines up to and including the first that contains ``marker`` (the process keeps running)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line.rstrip("\n"))
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} not printed; output was:\n" + "\n".join(seen))


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.parametrize("host_from", ["--host", "VOICEBOT_HOST"])
def test_a_non_loopback_bind_with_development_credentials_is_refused(tmp_path, host_from):
    env = _env(tmp_path, VOICEBOT_HOST="0.0.0.0") if host_from == "VOICEBOT_HOST" else _env(tmp_path)
    args = ["--host", "0.0.0.0"] if host_from == "--host" else []
    done = subprocess.run([sys.executable, "-m", "voicebot.cli.main", "serve", *args, "--port", "0"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: refusing to listen on 0.0.0.0: TWILIO_AUTH_TOKEN and VOICEBOT_SECRET_KEY still have their public "
        "development values; set TWILIO_AUTH_TOKEN and VOICEBOT_SECRET_KEY, or listen on 127.0.0.1"]
    assert "Listening" not in done.stdout
    half = subprocess.run([sys.executable, "-m", "voicebot.cli.main", "serve", "--host", "10.0.0.1", "--port", "0"],
                          capture_output=True, text=True, env=dict(env, VOICEBOT_SECRET_KEY="a-real-secret"), timeout=120)
    assert half.returncode == 1 and "TWILIO_AUTH_TOKEN still has its public development value" in half.stderr


def test_by_default_it_listens_on_loopback_says_where_and_announces_a_new_key(tmp_path):
    process = _serve(_env(tmp_path), "--port", "0", "--threads", "4")  # gunicorn, as `make run`
    try:
        lines = _lines_until(process, "Try a simulated call")
        assert any(f"generated a new encryption key in {tmp_path / 'encryption.key'}" in line for line in lines)
        bound = next(line for line in lines if "Listening on" in line).split("Listening on ")[1]
        host, port = bound.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        deadline = time.monotonic() + 60
        while (health := requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)).json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert health.status_code == 503 and "flow.yaml" in health.json()["error"]
        assert health.headers["X-Frame-Options"] == "DENY"
    finally:
        _stop(process)


def test_with_real_credentials_every_interface_is_allowed_and_the_banner_says_so(tmp_path):
    env = _env(tmp_path, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, VOICEBOT_SECRET_KEY="s" * 32)
    process = _serve(env, "--host", "0.0.0.0", "--port", "0", "--dev")
    try:
        lines = _lines_until(process, "Try a simulated call")
        bound = next(line for line in lines if "Listening on" in line)
        assert bound.startswith("  Listening on 0.0.0.0:") and bound.endswith("(every interface of this machine)")
        port = int(bound.split("0.0.0.0:")[1].split()[0])
        assert any(f"http://127.0.0.1:{port}/twilio/voice" in line for line in lines)  # where to point Twilio
    finally:
        _stop(process)


def test_a_wrong_key_is_refused_before_anything_listens(tmp_path):
    first = _serve(_env(tmp_path), "--port", "0", "--dev")
    try:
        _lines_until(first, "Listening on")  # the first start made the key file and the database
    finally:
        _stop(first)
    from voicebot.config import Settings
    from voicebot.storage import calls
    from voicebot.storage.keys import open_database

    db = open_database(Settings(data_dir=str(tmp_path))).db
    calls.add_turn(db, calls.begin_call(db, "CA" + "7" * 32, caller="+15550001111"), "caller", "hello")
    db.engine.dispose()
    done = subprocess.run([sys.executable, "-m", "voicebot.cli.main", "serve", "--port", "0", "--dev"], capture_output=True,
                          text=True, env=_env(tmp_path, VOICEBOT_ENCRYPTION_KEY=generate_key()), timeout=120)
    assert done.returncode == 1 and "Listening" not in done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: the encryption key from VOICEBOT_ENCRYPTION_KEY") and "nothing was changed" in line
