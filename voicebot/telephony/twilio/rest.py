"""Transfer and hang-up of live calls through Twilio's Calls REST API.

Uses the twilio library's ``Client`` (``calls(sid).update(twiml=...)``). The API base URL is
``VOICEBOT_TWILIO_API_URL`` when set (tests and dev point it at
``voicebot.testing.rest_standin``), Twilio's real API otherwise: the library builds every URL
from its ``api`` domain's ``base_url``, so overriding that attribute redirects all calls.
Every failure (HTTP error, unreachable server) becomes a one-line ``TelephonyError``.
"""
from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from voicebot.config import Settings
from voicebot.errors import TelephonyError
from voicebot.handoff.context import Handoff
from voicebot.telephony.twilio.twiml import transfer_twiml
from voicebot.telephony.twilio.warm import AGENT_PATH, AGENT_STATUS_PATH, caller_conference_twiml, enqueue_twiml, url

log = logging.getLogger(__name__)


class TwilioRest:
    """Live-call control for one Twilio account: ``transfer`` and ``hangup``."""

    def __init__(self, settings: Settings, *, timeout_s: float = 10.0):
        self.settings = settings
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token)
        if settings.twilio_api_base_url:
            self.client.api.base_url = settings.twilio_api_base_url.rstrip("/")
        self.client.http_client.timeout = timeout_s

    def transfer(self, call_sid: str, handoff: Handoff) -> None:
        """Redirect the live call to ``handoff.destination`` with a ``<Dial>`` carrying the reason,
        intent and the id of the context record the agent opens at ``/agent/transfers/<id>``
        (stored by the session before; this only talks to Twilio)."""
        kind, _, target = handoff.destination.partition(":") if ":" in handoff.destination else ("number", "", "")
        base, settings = self.settings.public_url, self.settings
        if base and kind.lower() == "queue":  # position announcements and a way back need our URLs
            self._update(call_sid, twiml=enqueue_twiml(base, target, call_sid))
            log.info("call %s queued in %s (transfer %s): %s", call_sid, target, handoff.record_id, handoff.reason)
            return
        if base and settings.transfer_mode == "warm" and settings.twilio_number and kind.lower() in ("number", "client", "sip"):
            self.warm_transfer(call_sid, handoff)
            return
        headers = {"reason": handoff.reason, "transfer_id": handoff.record_id, "intent": handoff.context.get("intent")}
        self._update(call_sid, twiml=transfer_twiml(handoff.destination, headers))
        log.info("call %s transferred to %s (transfer %s): %s", call_sid, handoff.destination, handoff.record_id, handoff.reason)

    def warm_transfer(self, call_sid: str, handoff: Handoff) -> None:
        """Ring the agent (who hears the summary first, ``/twilio/handoff/agent``), then put the
        caller on hold in the conference they will meet in. The agent's call is placed first: if
        Twilio refuses it, the caller is still with the bot and the error says why."""
        base, record = self.settings.public_url, handoff.record_id
        try:
            self.client.calls.create(to=handoff.destination, from_=self.settings.twilio_number,
                                     url=url(base, AGENT_PATH, call=call_sid, transfer=record), method="POST",
                                     timeout=self.settings.ring_timeout_s, status_callback_method="POST",
                                     status_callback=url(base, AGENT_STATUS_PATH, call=call_sid, transfer=record),
                                     status_callback_event=["completed"])
        except (TwilioException, OSError) as exc:
            raise TelephonyError(f"Twilio REST call to agent {handoff.destination} failed: {_one_line(exc)}") from exc
        self._update(call_sid, twiml=caller_conference_twiml(base, call_sid, record))
        log.info("call %s: warm transfer to %s (transfer %s): %s", call_sid, handoff.destination, record, handoff.reason)

    def give_back(self, call_sid: str, twiml: str) -> None:
        """Redirect a handed-over caller (back to the bot: a ``resume_twiml``)."""
        self._update(call_sid, twiml=twiml)

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
