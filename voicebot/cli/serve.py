"""``voicebot serve``: run the web app (Twilio webhooks, Media Streams, agent views).

Production: gunicorn with ``gthread`` workers (never ``sync``: its timeout kills WebSockets);
each live call holds one worker thread. ``--dev``: werkzeug's threaded server. The app seeds
the demo data and loads the models in the background; ``/healthz`` answers 200 once done.
Without real Twilio credentials (the default dev account) and no ``VOICEBOT_TWILIO_API_URL``,
transfers and hang-ups go to a local REST stand-in, so ``voicebot call`` works end to end.
"""
from __future__ import annotations

import threading
import time

import click
import requests

DEV_ACCOUNT_SID = "AC00000000000000000000000000000000"


def banner(base: str, rest_url: str, worker: str) -> str:
    """What to tell the person starting the server: where to point Twilio, where to look."""
    ws = base.replace("https://", "wss://").replace("http://", "ws://")
    lines = [
        "voicebot is starting" + f" ({worker})",
        f"  Twilio voice webhook (A call comes in, HTTP POST): {base}/twilio/voice",
        f"  Twilio status callback URL:                        {base}/twilio/status",
        f"  Media Streams WebSocket (from the TwiML):           {ws}/twilio/media",
        f"  Health: {base}/healthz   Metrics: {base}/metrics   Start page: {base}/",
        f"  Twilio REST API: {rest_url}",
        f"  Try a simulated call: voicebot call dtmf:1 audio_fixtures/order_4172.wav dtmf:0 --url {base}",
    ]
    return "\n".join(lines)


@click.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn worker processes (each loads the models).")
@click.option("--threads", default=64, show_default=True, type=int, help="Threads per worker: concurrent calls + requests.")
@click.option("--dev", is_flag=True, help="Use werkzeug's development server instead of gunicorn.")
@click.option("--access-log", is_flag=True, help="Log every HTTP request (gunicorn).")
def serve(host, port, workers, threads, dev, access_log):
    """Run the web app: Twilio webhooks, Media Streams, health and metrics."""
    from voicebot.config import load_settings

    settings = load_settings()
    standin = None
    if not settings.twilio_api_base_url and settings.twilio_account_sid == DEV_ACCOUNT_SID:
        from voicebot.testing.rest_standin import RestStandin

        standin = RestStandin(settings.twilio_account_sid, settings.twilio_auth_token)
        settings = settings.model_copy(update={"twilio_api_base_url": standin.url})
    rest_url = settings.twilio_api_base_url or "https://api.twilio.com (real Twilio)"
    if standin is not None:
        rest_url += " (local stand-in: dev credentials; set TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN for real calls)"
    local = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    base = settings.public_url.rstrip("/") or local
    click.echo(banner(base, rest_url, "werkzeug dev server" if dev else f"gunicorn gthread, {workers}x{threads}"))
    threading.Thread(target=_report_ready, args=(local,), daemon=True).start()
    try:
        if dev:
            _run_werkzeug(settings, host, port)
        else:
            _run_gunicorn(settings, host, port, workers, threads, access_log)
    finally:
        if standin is not None:
            standin.stop()


def _report_ready(local: str, timeout_s: float = 600.0) -> None:
    """Print one line when ``/healthz`` first answers 200 (models loaded)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            response = requests.get(f"{local}/healthz", timeout=2)
            if response.status_code == 200:
                click.echo(f"voicebot is ready: models loaded after {time.monotonic() - started:.1f} s")
                return
            error = response.json().get("error")
            if error:
                click.echo(f"voicebot cannot take calls: {error}", err=True)
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)


def _run_werkzeug(settings, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    from voicebot.web.app import create_app

    run_simple(host, port, create_app(settings), threaded=True, use_reloader=False)


def _run_gunicorn(settings, host: str, port: int, workers: int, threads: int, access_log: bool) -> None:
    from gunicorn.app.base import BaseApplication

    class VoicebotServer(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",  # never sync: its timeout kills WebSockets
                "threads": threads,
                "timeout": 60,
                "graceful_timeout": 10,
                "accesslog": "-" if access_log else None,
            }.items():
                self.cfg.set(key, value)

        def load(self):
            from voicebot.web.app import create_app

            return create_app(settings)  # per worker, after fork: the model loader thread lives there

    VoicebotServer().run()
