"""``voicebot serve``: run the web app (Twilio webhooks, Media Streams, agent views).

Production: gunicorn with ``gthread`` workers (never ``sync``: its timeout kills WebSockets);
each live call holds one worker thread. ``--dev``: werkzeug's threaded server. The app seeds
the demo data and loads the models in the background; ``/healthz`` answers 200 once done.
Without real Twilio credentials (the default dev account) and no ``VOICEBOT_TWILIO_API_URL``,
transfers and hang-ups go to a local REST stand-in, so ``voicebot call`` works end to end.

Safe defaults: it listens on 127.0.0.1 unless ``--host`` or ``VOICEBOT_HOST`` say otherwise,
and refuses any other address while the Twilio auth token or the secret key still have their
public development values. Before listening it opens the database with its encryption key
(generating ``var/encryption.key`` on first start, and saying so; refusing a wrong key). The
banner prints the address the server really bound, once it is bound.
"""
from __future__ import annotations

import ipaddress
import threading
import time

import click
import requests

from voicebot.config import DEV_ACCOUNT_SID
from voicebot.errors import ConfigError


def banner(base: str, rest_url: str, worker: str, bound: str = "") -> str:
    """What to tell the person starting the server: where it listens, where to point Twilio, where to look."""
    ws = base.replace("https://", "wss://").replace("http://", "ws://")
    lines = [
        "voicebot is starting" + f" ({worker})",
        *([f"  Listening on {bound}"] if bound else []),
        f"  Twilio voice webhook (A call comes in, HTTP POST): {base}/twilio/voice",
        f"  Twilio status callback URL:                        {base}/twilio/status",
        f"  Media Streams WebSocket (from the TwiML):           {ws}/twilio/media",
        f"  Health: {base}/healthz   Metrics: {base}/metrics   Start page: {base}/",
        f"  Twilio REST API: {rest_url}",
        f"  Try a simulated call: voicebot call dtmf:1 audio_fixtures/order_4172.wav dtmf:0 --url {base}",
        f"  No phone? Chat or talk with your microphone (browser softphone): {base}/chat",
        f"  Admin console: {base}/admin   (first admin: VOICEBOT_ADMIN_PASSWORD=... voicebot admin create-user NAME --role admin)",
    ]
    return "\n".join(lines)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, settings) -> None:
    """``ConfigError`` (one line, naming what to set) for a non-loopback bind with development credentials."""
    dev = settings.development_credentials()
    if dev and not is_loopback(host):
        raise ConfigError(f"refusing to listen on {host}: {' and '.join(dev)} still "
                          f"{'has its' if len(dev) == 1 else 'have their'} public development "
                          f"value{'' if len(dev) == 1 else 's'}; set {' and '.join(dev)}, or listen on 127.0.0.1")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on [default: VOICEBOT_HOST, else 127.0.0.1]. "
              "Any other than loopback needs real TWILIO_AUTH_TOKEN and VOICEBOT_SECRET_KEY.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn worker processes (each loads the models).")
@click.option("--threads", default=64, show_default=True, type=int, help="Threads per worker: concurrent calls + requests.")
@click.option("--dev", is_flag=True, help="Use werkzeug's development server instead of gunicorn.")
@click.option("--access-log", is_flag=True, help="Log every HTTP request (gunicorn).")
def serve(host, port, workers, threads, dev, access_log):
    """Run the web app: Twilio webhooks, Media Streams, health and metrics."""
    from voicebot.config import load_settings
    from voicebot.privacy.logs import install_log_redaction
    from voicebot.storage.keys import open_database

    install_log_redaction()
    settings = load_settings()
    host = host or settings.host
    check_bind(host, settings)
    opened = open_database(settings)  # refuses a wrong key or an old schema before anything listens
    if opened.key_file_created:
        click.echo(f"voicebot: generated a new encryption key in {opened.key_file_created} (key id {opened.key_ids[0]}); "
                   "back it up apart from the database: without it the stored data cannot be read")
    opened.db.engine.dispose()  # each worker opens its own connections
    # sockets waiting for their `start` hold threads: keep most of them for real calls
    settings = settings.model_copy(update={"max_waiting_streams": min(settings.max_waiting_streams, max(1, threads // 4))})
    standin = None
    if not settings.twilio_api_base_url and settings.twilio_account_sid == DEV_ACCOUNT_SID:
        from voicebot.testing.rest_standin import RestStandin

        standin = RestStandin(settings.twilio_account_sid, settings.twilio_auth_token)
        settings = settings.model_copy(update={"twilio_api_base_url": standin.url})
    rest_url = settings.twilio_api_base_url or "https://api.twilio.com (real Twilio)"
    if standin is not None:
        rest_url += " (local stand-in: dev credentials; set TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN for real calls)"
    worker = "werkzeug dev server" if dev else f"gunicorn gthread, {workers}x{threads}"

    def announce(bound_host: str, bound_port: int) -> None:
        """Called once the socket is bound: print the banner with the real address, watch /healthz."""
        local = f"http://{'127.0.0.1' if bound_host in ('0.0.0.0', '::') else bound_host}:{bound_port}"
        where = f"{bound_host}:{bound_port}" + (" (every interface of this machine)" if bound_host in ("0.0.0.0", "::") else "")
        click.echo(banner(settings.public_url.rstrip("/") or local, rest_url, worker, where))
        threading.Thread(target=_report_ready, args=(local,), daemon=True).start()

    try:
        if dev:
            _run_werkzeug(settings, host, port, announce)
        else:
            _run_gunicorn(settings, host, port, workers, threads, access_log, announce)
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


def _run_werkzeug(settings, host: str, port: int, announce) -> None:
    from werkzeug.serving import make_server

    from voicebot.web.app import create_app

    server = make_server(host, port, create_app(settings), threaded=True)
    announce(*server.server_address[:2])
    server.serve_forever()


def _run_gunicorn(settings, host: str, port: int, workers: int, threads: int, access_log: bool, announce) -> None:
    from gunicorn.app.base import BaseApplication

    def when_ready(server) -> None:  # in the arbiter, once its sockets are bound
        for listener in server.LISTENERS:
            address = listener.sock.getsockname()
            if isinstance(address, tuple):
                announce(address[0], address[1])

    class VoicebotServer(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",  # never sync: its timeout kills WebSockets
                "threads": threads,
                "timeout": 60,
                "graceful_timeout": 10,
                "accesslog": "-" if access_log else None,
                "when_ready": when_ready,
            }.items():
                self.cfg.set(key, value)

        def load(self):
            from voicebot.web.app import create_app

            return create_app(settings)  # per worker, after fork: the model loader thread lives there

    VoicebotServer().run()
