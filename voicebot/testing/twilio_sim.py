"""Simulated Twilio: a whole phone call against a voicebot server, speaking Twilio's protocol.

``TwilioSimulator(base_url, ...).call(turns)`` does what Twilio does for an inbound call:
signs and posts the voice webhook (``X-Twilio-Signature``), parses the TwiML, opens the Media
Stream URL with its ``<Parameter>`` values, sends ``connected`` and ``start``, streams the
caller's audio as 20 ms mu-law ``media`` frames (silence between turns, as a phone line does),
paced in real time on ``clock`` (``fast=True`` sends caller speech as fast as it can), plays each caller
turn when the bot is listening (its prompts have played and it has gone quiet), echoes marks
once the audio before them has "played" (at once on ``clear``), sends DTMF, and at the end
sends ``stop`` and posts the status callback. The caller hangs up after the last turn; the
bot may end the call first (REST hang-up/transfer seen by a ``RestStandin``, or the socket
closing). The result is a ``CallResult``: events, prompts, each turn's latency (last caller
speech frame sent -> first bot media frame received after it), the bot's audio, any
transfer, and the server's transcript when ``/agent/calls/<sid>`` is reachable.
"""
from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import requests

from voicebot.errors import TelephonyError
from voicebot.security.signatures import sign
from voicebot.testing.sim_stream import CallRun
from voicebot.testing.sim_types import CallResult, Keys, Speech, Turn, TurnResult

__all__ = ["CallResult", "Keys", "Speech", "Turn", "TurnResult", "TwilioSimulator"]


class TwilioSimulator:
    """Places simulated calls to the server at ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str, *, auth_token: str, account_sid: str = "AC" + "0" * 32,
                 public_url: str = "", fast: bool = False, rest_standin=None,
                 listen_quiet_s: float = 0.5, reply_timeout_s: float = 12.0, final_wait_s: float = 20.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.public_url = (public_url or base_url).rstrip("/")
        self.auth_token, self.account_sid = auth_token, account_sid
        self.fast = fast
        self.listen_quiet_s, self.reply_timeout_s, self.final_wait_s = listen_quiet_s, reply_timeout_s, final_wait_s
        self.rest_standin = rest_standin
        self.clock, self.sleep = clock, sleep  # the caller's time: pacing, playback, timeline
        self.http = requests.Session()

    # webhooks ------------------------------------------------------------------------------
    def post_webhook(self, path: str, params: dict) -> requests.Response:
        """POST ``params`` to ``path`` signed exactly as Twilio would sign it."""
        signature = sign(self.public_url + path, params, self.auth_token)
        try:
            return self.http.post(self.base_url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
        except requests.RequestException as exc:
            raise TelephonyError(f"cannot reach the voicebot server at {self.base_url}: {exc.__class__.__name__}") from None

    def answer(self, call_sid: str, caller: str, called: str) -> tuple[str, dict[str, str]]:
        """Post the voice webhook; return the stream URL and its parameters from the TwiML."""
        params = {"CallSid": call_sid, "AccountSid": self.account_sid, "From": caller, "To": called,
                  "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01",
                  "Caller": caller, "Called": called}
        response = self.post_webhook("/twilio/voice", params)
        if response.status_code != 200:
            raise TelephonyError(f"voice webhook answered {response.status_code}: {response.text.strip()[:120]}")
        try:
            stream = ET.fromstring(response.text).find("Connect/Stream")
        except ET.ParseError as exc:
            raise TelephonyError(f"voice webhook answered something that is not TwiML: {exc}") from None
        if stream is None or not stream.get("url"):
            raise TelephonyError("voice webhook TwiML has no <Connect><Stream url=...>")
        parameters = {p.get("name"): p.get("value", "") for p in stream.findall("Parameter")}
        return self._reachable(stream.get("url")), parameters

    def _reachable(self, stream_url: str) -> str:
        """The stream URL, pointed at ``base_url``'s host when the public URL is not local."""
        if self.public_url == self.base_url:
            return stream_url
        base = urlsplit(self.base_url)
        parts = urlsplit(stream_url)
        scheme = "wss" if base.scheme == "https" else "ws"
        return urlunsplit((scheme, base.netloc, parts.path, parts.query, ""))

    # the call ------------------------------------------------------------------------------
    def call(self, turns: list[Turn], *, caller: str = "+15551230001", called: str = "+15559870002",
             call_sid: str | None = None) -> CallResult:
        call_sid = call_sid or "CA" + secrets.token_hex(16)
        stream_url, parameters = self.answer(call_sid, caller, called)
        return self._stream(call_sid, stream_url, parameters, turns)

    def resume(self, call_sid: str, twiml: str, turns: list[Turn]) -> CallResult:
        """Go on with ``call_sid`` after Twilio ran ``twiml`` (a ``<Connect><Stream>`` giving the
        caller back to the bot, e.g. after a transfer nobody answered): a new Media Stream with
        that TwiML's parameters, ``turns`` as the caller's, the status callback at the end."""
        try:
            stream = ET.fromstring(twiml).find("Connect/Stream")
        except ET.ParseError as exc:
            raise TelephonyError(f"cannot resume {call_sid}: not TwiML: {exc}") from None
        if stream is None or not stream.get("url"):
            raise TelephonyError(f"cannot resume {call_sid}: the TwiML has no <Connect><Stream url=...>")
        parameters = {p.get("name"): p.get("value", "") for p in stream.findall("Parameter")}
        return self._stream(call_sid, self._reachable(stream.get("url")), parameters, turns)

    def _stream(self, call_sid: str, stream_url: str, parameters: dict, turns: list[Turn]) -> CallResult:
        run = CallRun(self, call_sid, stream_url, parameters)
        try:
            run.play(turns)
        finally:
            run.finish()
        status = "completed"
        self.post_webhook("/twilio/status", {"CallSid": call_sid, "AccountSid": self.account_sid,
                                             "CallStatus": status, "CallDuration": str(int(round(run.elapsed())))})
        run.fetch_server_record()
        return run.result
