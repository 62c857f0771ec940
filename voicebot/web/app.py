"""The voicebot web app: ``create_app()`` builds it (Flask application factory).

Areas are blueprints: Twilio webhooks (``/twilio/voice``, ``/twilio/status``), the Media Stream
WebSocket (``/twilio/media``), the agent's transfer view (``/agent``), and here the operational
routes: ``/`` (where to point Twilio), ``/healthz`` (200 once models are loaded, else 503) and
``/metrics`` (Prometheus).

Models load once per process in a background thread (so a server answers ``/healthz`` with 503
while it warms up) unless a ``pipeline`` or a ``session_factory`` is given.

On creation the app opens the database with its encryption key (``storage.keys``: refuses a
wrong key or an older schema), deletes data past its retention period (``storage.retention``),
redacts personal data from every ``voicebot`` log line (``privacy.logs``) and applies the web
protections of ``web.security`` (headers, cookies, CSRF, size limits).
"""
from __future__ import annotations

import logging
import os
import threading

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from voicebot.config import Settings, load_settings
from voicebot.errors import VoicebotError
from voicebot.privacy.logs import install_log_redaction
from voicebot.storage.db import Database
from voicebot.storage.keys import open_database
from voicebot.storage.retention import purge_expired, retention_days
from voicebot.web.security import secure_app
from voicebot.web.state import AppState, SessionFactory, current_state

# torch/librosa environment facts (see DESIGN.md); set before anything imports them.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger(__name__)

ops = Blueprint("ops", __name__)


def create_app(settings: Settings | None = None, pipeline=None, *, session_factory: SessionFactory | None = None,
               db: Database | None = None) -> Flask:
    """Build the app. ``settings`` default to ``load_settings()``.

    ``pipeline``: an already built ``voicebot.session.pipeline.Pipeline`` to share; when None
    and no ``session_factory`` is given, ``build_pipeline(settings)`` runs in the background and
    ``/healthz`` says 503 until it is done. ``session_factory(call_sid, io, state)`` makes the
    per-call session (tests pass ``voicebot.testing.echo_session.EchoSession``).
    """
    from voicebot.telephony.twilio import handoff_hooks, media_stream, webhooks
    from voicebot.web import admin as admin_console, agent, channels

    install_log_redaction()
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": 25, "max_message_size": media_stream.MAX_MESSAGE_BYTES}
    if db is None and getattr(pipeline, "db", None) is not None:
        db = pipeline.db
    if db is None:
        opened = open_database(settings)
        if opened.key_file_created:
            log.warning("generated a new encryption key in %s: back it up apart from the database", opened.key_file_created)
        db = opened.db
    purged = purge_expired(db, retention_days(settings))
    if any(purged.values()):
        log.info("retention: deleted %s", ", ".join(f"{n} {kind}" for kind, n in purged.items() if n))
    csrf = secure_app(app, settings)
    state = AppState(settings=settings, db=db, session_factory=session_factory or voice_call_session, pipeline=pipeline)
    app.extensions["voicebot"] = state
    if pipeline is not None or session_factory is not None:
        state.ready.set()
    else:
        threading.Thread(target=_load_pipeline, args=(state,), name="voicebot-model-loader", daemon=True).start()

    app.register_blueprint(ops)
    handoff = handoff_hooks.blueprint(state, webhooks.stream_url)  # warm transfers and queues
    for signed in (webhooks.blueprint(state), media_stream.blueprint(state), handoff):  # Twilio signs these instead
        csrf.exempt(signed)
        app.register_blueprint(signed)
    app.register_blueprint(agent.bp)
    app.register_blueprint(admin_console.bp)
    channels.register(app, state, csrf)  # web chat, SMS, email, WeChat, the browser softphone
    return app


def voice_call_session(call_sid: str, io, state: AppState):
    """The real per-call session (``voicebot.session.call.VoiceCallSession``) on the shared pipeline."""
    from voicebot.session.call import VoiceCallSession

    return VoiceCallSession(state.pipeline, io, call_sid=call_sid)


def _load_pipeline(state: AppState) -> None:
    """Seed the demo data and load the models; ``/healthz`` turns 200 when this finishes."""
    try:
        try:
            from voicebot.storage.seed import seed_demo
        except ImportError:
            seed_demo = None
        if seed_demo is not None:
            seed_demo(state.db)
        from voicebot.session.pipeline import build_pipeline

        state.pipeline = build_pipeline(state.settings)
        state.ready.set()
        log.info("models loaded; ready for calls")
    except VoicebotError as exc:  # reported by /healthz; the server stays up to say so
        state.load_error = " ".join(str(exc).split())
        log.error("cannot take calls: %s", state.load_error)
    except Exception as exc:
        state.load_error = " ".join(str(exc).split()) or exc.__class__.__name__
        log.exception("could not load the pipeline")


def public_base_url(settings: Settings) -> str:
    """The base URL Twilio should use: ``VOICEBOT_PUBLIC_URL``, else this request's host."""
    return (settings.public_url or request.host_url).rstrip("/")


@ops.get("/")
def start_page():
    state = current_state()
    base = public_base_url(state.settings)
    return render_template("start.html", base=base, ready=state.ready.is_set(),
                           public_url_set=bool(state.settings.public_url))


@ops.get("/healthz")
def healthz():
    state = current_state()
    if state.ready.is_set():
        return jsonify(status="ok", models_loaded=True)
    body = {"status": "error" if state.load_error else "loading", "models_loaded": False}
    if state.load_error:
        body["error"] = state.load_error
    return jsonify(body), 503


@ops.get("/metrics")
def metrics_endpoint():
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
