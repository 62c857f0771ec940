"""The whole bot in this process, for simulated calls without ``voicebot serve``.

``with bot_in_process(settings) as bot:`` starts a local Twilio REST stand-in, builds the app
with the real pipeline (models loaded once, waiting until ``/healthz`` would say 200), serves it
on a free port (real HTTP and WebSocket), and yields ``bot.url``, ``bot.standin`` and
``bot.app``; everything is stopped on exit.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from voicebot.config import Settings
from voicebot.errors import TelephonyError
from voicebot.testing.live_server import LiveServer
from voicebot.testing.rest_standin import RestStandin


@dataclass
class InProcessBot:
    url: str
    standin: RestStandin
    app: object


@contextmanager
def bot_in_process(settings: Settings, *, session_factory: Callable | None = None,
                   load_timeout_s: float = 600.0) -> Iterator[InProcessBot]:
    """A running bot on 127.0.0.1 whose REST calls go to a local stand-in.

    Raises ``TelephonyError`` when the models cannot be loaded (the reason from the loader).
    """
    from voicebot.web.app import create_app

    standin = RestStandin(settings.twilio_account_sid, settings.twilio_auth_token)
    try:
        settings = settings.model_copy(update={"twilio_api_base_url": standin.url, "public_url": ""})
        app = create_app(settings, session_factory=session_factory)
        state = app.extensions["voicebot"]
        waited = 0.0
        while not state.ready.wait(0.2):
            waited += 0.2
            if state.load_error:
                raise TelephonyError(f"the bot could not start: {state.load_error}")
            if waited > load_timeout_s:
                raise TelephonyError(f"the bot's models did not load within {load_timeout_s:.0f} s")
        with LiveServer(app) as server:
            yield InProcessBot(server.url, standin, app)
    finally:
        standin.stop()
