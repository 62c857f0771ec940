"""What the Twilio channel needs from the app that hosts it, handed to its blueprints by
``voicebot.web.app.create_app`` (the telephony layer never imports the web layer)."""
from __future__ import annotations

import threading
from typing import Any, Callable, Protocol

from voicebot.config import Settings
from voicebot.storage.db import Database


class TwilioAppContext(Protocol):
    """The app's settings, database, readiness, per-call session factory and REST client."""

    settings: Settings
    db: Database
    ready: threading.Event  # set once the models are loaded
    load_error: str  # why they could not be loaded, if so
    session_factory: Callable[[str, Any, Any], Any]  # (call_sid, CallIO, this context) -> CallSession

    def rest(self) -> Any:
        """The ``voicebot.telephony.twilio.rest.TwilioRest`` for transfers and hang-ups."""
