"""Transfer and hang-up of live calls through Twilio's Calls REST API.

Uses the twilio library's ``Client`` (``calls(sid).update(twiml=...)``). The API base URL is
``VOICEBOT_TWILIO_API_URL`` when set (tests and dev point it at
``voicebot.testing.rest_standin``), Twilio's real API otherwise: the library builds every URL
from its ``api`` domain's ``base_url``, so overriding that attribute redirects all calls.
Every failure (HTTP error, unreachable server) becomes a one-line ``TelephonyError``.
"""
from __future__ import annotations

import logging
from typing import Mapping

from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from voicebot.config import Settings
from voicebot.errors import TelephonyError
from voicebot.storage.db import Database
from voicebot.telephony.twilio.call_store import record_transfer
from voicebot.telephony.twilio.twiml import transfer_twiml

log = logging.getLogger(__name__)


class TwilioRest:
    """Live-call control for one Twilio account: ``transfer`` and ``hangup``."""

    def __init__(self, settings: Settings, db: Database | None = None, *, timeout_s: float = 10.0):
        self.settings = settings
        self.db = db
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token)
        if settings.twilio_api_base_url:
            self.client.api.base_url = settings.twilio_api_base_url.rstrip("/")
        self.client.http_client.timeout = timeout_s

    def transfer(self, call_sid: str, destination: str, reason: str, context: Mapping | None = None,
                 transfer_id: int | None = None) -> int | None:
        """Redirect the live call to ``destination`` with a ``<Dial>`` carrying the context.

        Persists a ``TransferRecord`` first (unless ``transfer_id`` names one already saved) so
        the agent can open it at ``/agent/transfers/<id>``; returns that id (None without a db).
        """
        context = dict(context or {})
        if transfer_id is None and self.db is not None:
            transfer_id = record_transfer(self.db, call_sid, destination, reason, context)
        headers = {"reason": reason, "transfer_id": transfer_id, "intent": context.get("intent")}
        twiml = transfer_twiml(destination, headers)
        self._update(call_sid, twiml=twiml)
        log.info("call %s transferred to %s (transfer %s): %s", call_sid, destination, transfer_id, reason)
        return transfer_id

    def hangup(self, call_sid: str) -> None:
        """End the live call (``Status=completed``)."""
        self._update(call_sid, status="completed")
        log.info("call %s hung up through REST", call_sid)

    def _update(self, call_sid: str, **fields) -> None:
        try:
            self.client.calls(call_sid).update(**fields)
        except TwilioException as exc:
            raise TelephonyError(f"Twilio REST update of call {call_sid} failed: {_one_line(exc)}") from exc
        except OSError as exc:  # requests' connection errors derive from OSError
            raise TelephonyError(f"Twilio REST API unreachable for call {call_sid}: {_one_line(exc)}") from exc


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:200]
