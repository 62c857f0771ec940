"""The attack from issue 12, on the production server (gunicorn, gthread workers): one client
opens 64 media sockets and never sends ``start``. Before the fix each held one of the server's
threads until an idle timeout, and the next real call's voice webhook waited for them (11.9 s,
its greeting lost). Now at most ``max_waiting_streams`` sockets may wait at once and newcomers
evict the longest waiting, so the real call's webhook is answered and its greeting arrives while
the attacker's last sockets are still open, before any deadline could have freed a thread (the
start timeout is set far out of reach: only the gate can let the call through).

Ordering, not wall-clock bounds: every close the attacker sees is recorded with its reason."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websocket
from conftest import ACCOUNT_SID, AUTH_TOKEN, StreamClient, answer_call
from test_media_stream_limits import close_frame

THREADS = 16
ATTACK_SOCKETS = 64
APP = textwrap.dedent("""
    import os
    from voicebot.config import Settings
    from voicebot.testing.echo_session import EchoSession
    from voicebot.web.app import create_app

    settings = Settings(data_dir=os.environ["VB_DATA"], twilio_account_sid=os.environ["VB_SID"],
                        twilio_auth_token=os.environ["VB_TOKEN"], twilio_api_base_url=os.environ["VB_REST"],
                        stream_start_timeout_s=600.0, max_waiting_streams=int(os.environ["VB_WAITING"]))
    app = create_app(settings, session_factory=EchoSession)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_server(tmp_path_factory, rest_standin):
    folder = tmp_path_factory.mktemp("gunicorn")
    (folder / "echo_app.py").write_text(APP)
    port = _free_port()
    env = dict(os.environ, VB_DATA=str(folder / "var"), VB_SID=ACCOUNT_SID, VB_TOKEN=AUTH_TOKEN, VB_REST=rest_standin.url,
               VB_WAITING=str(THREADS // 4), PYTHONPATH=os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", str(THREADS),
                                "--workers", "1", "--graceful-timeout", "3", "--bind", f"127.0.0.1:{port}", "echo_app:app"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.communicate(timeout=30)


def test_idle_sockets_from_one_client_cannot_starve_a_real_call(gunicorn_server):
    media = gunicorn_server.replace("http://", "ws://") + "/twilio/media"
    events: list[tuple[float, str, str]] = []  # (monotonic time, what, detail)
    lock = threading.Lock()

    def note(what: str, detail: str = "") -> None:
        with lock:
            events.append((time.monotonic(), what, detail))

    def hold_one(_) -> websocket.WebSocket | None:
        try:
            ws = websocket.create_connection(media, timeout=30)
        except (websocket.WebSocketException, OSError) as exc:
            note("attacker refused", type(exc).__name__)
            return None
        note("attacker open")
        return ws

    def watch(ws) -> None:
        frame = close_frame(ws, timeout=60)
        note("attacker closed", frame[1] if frame else "still open")

    with ThreadPoolExecutor(ATTACK_SOCKETS) as pool:
        sockets = [ws for ws in pool.map(hold_one, range(ATTACK_SOCKETS)) if ws is not None]
    watchers = [threading.Thread(target=watch, args=(ws,), daemon=True) for ws in sockets]
    for watcher in watchers:
        watcher.start()
    try:
        call_sid, url, params = answer_call(gunicorn_server, caller="+15550001111")
        note("webhook answered")
        client = StreamClient(url)
        client.start(call_sid, params)
        greeting = client.recv_until(lambda m: m["event"] == "media", timeout=30)
        note("greeting" if greeting else "no greeting")
        client.close()
        settled = _closes_settle(events, lock)  # the attacker's sockets the gate still holds, once evictions are done
        with lock:
            snapshot = list(events)
    finally:
        for ws in sockets:
            ws.close()
    kinds = [what for _, what, _ in snapshot]
    summary = Counter(f"{what}: {detail}" if what != "attacker closed" else f"{what}: {detail[:12]}" for _, what, detail in snapshot)
    assert kinds.count("attacker open") == ATTACK_SOCKETS, f"every attacking handshake was accepted: {summary}"
    assert "greeting" in kinds, f"the real call got no greeting: {kinds[-5:]}"
    greeted_at = next(t for t, what, _ in snapshot if what == "greeting")
    closes_before = [detail for t, what, detail in snapshot if what == "attacker closed" and t <= greeted_at]
    assert closes_before and all(detail.startswith("evicted") for detail in closes_before), \
        f"only the gate freed threads, nothing timed out or dropped before the greeting: {summary}"
    assert ATTACK_SOCKETS - len(closes_before) >= 1, f"the attack was still going on when the call was greeted: {summary}"
    closes = [detail for _, what, detail in snapshot if what == "attacker closed"]
    assert all(detail.startswith("evicted") for detail in closes), summary
    assert 1 <= ATTACK_SOCKETS - settled <= THREADS // 4, f"the gate held at most its limit of the attacker's sockets: {summary}"


def _closes_settle(events: list, lock, quiet_s: float = 1.0, limit_s: float = 15.0) -> int:
    """Wait until no attacker socket has been closed for ``quiet_s``; how many were closed."""
    deadline = time.monotonic() + limit_s
    while True:
        with lock:
            closed = [t for t, what, _ in events if what == "attacker closed"]
        if time.monotonic() - max(closed, default=0.0) >= quiet_s or time.monotonic() > deadline:
            return len(closed)
        time.sleep(0.1)
