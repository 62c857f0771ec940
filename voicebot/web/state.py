"""What a running voicebot web app holds: settings, database, the shared pipeline, and how
to make a per-call session. Stored on the Flask app as ``app.extensions["voicebot"]`` and handed
to the Twilio blueprints (it is their ``TwilioAppContext``)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import current_app

from voicebot.config import Settings
from voicebot.security.passwords import LoginThrottle
from voicebot.storage.db import Database

# session_factory(call_sid, io, state) -> CallSession
SessionFactory = Callable[[str, Any, "AppState"], Any]


@dataclass
class AppState:
    """Everything request handlers need. ``pipeline`` is None until models are loaded."""

    settings: Settings
    db: Database
    session_factory: SessionFactory
    pipeline: Any = None
    ready: threading.Event = field(default_factory=threading.Event)
    load_error: str = ""
    rest_factory: Callable[[], Any] | None = None  # -> voicebot.telephony.twilio.rest.TwilioRest
    login_throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle(max_failures=5, lockout_s=900.0))

    def rest(self):
        """The REST client used for transfers and hang-ups (built lazily, one per app)."""
        if self.rest_factory is None:
            from voicebot.telephony.twilio.rest import TwilioRest

            client = TwilioRest(self.settings)
            self.rest_factory = lambda: client
        return self.rest_factory()


def current_state() -> AppState:
    return current_app.extensions["voicebot"]
