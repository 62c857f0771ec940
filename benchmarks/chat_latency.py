"""Web chat reply latency: the real app (echo call session: no speech models) on a local server,
the demo flow and its understander, 20 fresh chats each asked "where is my order 4172" over
``POST /api/chat/sessions/<id>/messages``. Prints p50/p95 of the HTTP round trip.

Run: PYTHONPATH=. OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python benchmarks/chat_latency.py
"""
import statistics, tempfile, time, requests
from voicebot.config import Settings
from voicebot.storage.seed import seed_demo
from voicebot.testing.echo_session import EchoSession
from voicebot.testing.live_server import LiveServer
from voicebot.web.app import create_app

app = create_app(Settings(data_dir=tempfile.mkdtemp()), session_factory=lambda sid, io, st: EchoSession(sid, io, st))
seed_demo(app.extensions["voicebot"].db)
with LiveServer(app) as server:
    t = time.perf_counter(); sid = requests.post(server.url + "/api/chat/sessions", json={}, timeout=300).json()["id"]
    print(f"first session (loads the understander): {time.perf_counter() - t:.2f} s")
    times = []
    for i in range(20):
        sid = requests.post(server.url + "/api/chat/sessions", json={}, timeout=60).json()["id"]
        t = time.perf_counter()
        r = requests.post(f"{server.url}/api/chat/sessions/{sid}/messages", json={"text": "where is my order 4172"}, timeout=60)
        times.append(time.perf_counter() - t)
        assert "has shipped" in r.json()["messages"][0]["text"], r.text
    times.sort()
    print(f"reply to 'where is my order 4172' over HTTP: p50 {statistics.median(times)*1000:.0f} ms, p95 {times[18]*1000:.0f} ms (n=20)")
