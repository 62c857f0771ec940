"""Conferences, queues and the called party of an outbound call, as Twilio runs them, for a
``RestStandin`` (the simulated Twilio's REST side).

What Twilio does and this reproduces (TwiML <Dial><Conference>, <Enqueue>, Calls create):
- a call redirected to ``<Dial><Conference startConferenceOnEnter="false" waitUrl=...>`` waits in
  the room: Twilio POSTs (signed) its ``waitUrl`` and plays what comes back (``hold_twiml``);
- an outbound call (``Calls.json``) rings the called party: with ``agent="answer"`` Twilio POSTs
  (signed) its ``Url`` and runs that TwiML (``whispers``: the ``<Say>`` the agent hears first, then
  ``<Dial><Conference startConferenceOnEnter="true">`` starts the room and connects the waiting
  caller); with ``"no-answer"``/``"busy"``/``"failed"`` it POSTs ``StatusCallback`` with that
  ``CallStatus`` once the caller is in the room (the ring timeout, which Twilio waits out);
- ``<Enqueue waitUrl action>``: ``waitUrl`` is POSTed with ``QueuePosition``/``QueueTime`` each
  round (``advance_queue``); ``<Leave/>`` in its answer makes Twilio POST ``action`` with
  ``QueueResult=leave`` and run the answer (``given_back``);
- a call redirected to ``<Connect><Stream>`` is back with the bot (``given_back``; the test
  continues it with ``TwilioSimulator.resume``).
"""
from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import requests

from voicebot.security.signatures import sign


class TwilioRooms:
    """Plays Twilio's side of warm transfers and queues for the calls ``standin`` sees."""

    def __init__(self, standin, agent: str = "answer"):
        self.standin, self.agent = standin, agent
        self.rooms: dict[str, list[str]] = {}  # conference name -> call sids in it
        self.started: set[str] = set()
        self.hold_twiml: dict[str, str] = {}  # caller sid -> what its waitUrl answered
        self.whispers: dict[str, str] = {}  # caller sid -> the TwiML the agent's leg ran
        self.agent_legs: list[dict] = []
        self.queue: list[dict] = []
        self.announcements: dict[str, list[str]] = {}
        self.given_back: dict[str, str] = {}
        self.log: list[str] = []
        self._changed = threading.Condition()
        standin.on_update(self._updated)
        standin.on_create(self._created)

    # what the bot asked for ----------------------------------------------------------------
    def _updated(self, update) -> None:
        twiml = update.params.get("Twiml", "")
        root = _parse(twiml)
        if root is None:
            return
        conference = root.find("Dial/Conference")
        if conference is not None:
            room = conference.text or ""
            self.rooms.setdefault(room, []).append(update.call_sid)
            self._note(f"{update.call_sid} waits in {room}")
            if conference.get("waitUrl"):
                self.hold_twiml[update.call_sid] = self._post(conference.get("waitUrl"), {"CallSid": update.call_sid,
                                                                                          "ConferenceSid": "CF" + room[-8:]})
            for leg in self.agent_legs:
                if leg["caller"] == update.call_sid and not leg["rung"]:
                    self._ring(leg)
        elif root.find("Enqueue") is not None:
            enqueue = root.find("Enqueue")
            entry = {"sid": update.call_sid, "wait": enqueue.get("waitUrl"), "action": enqueue.get("action"), "name": enqueue.text}
            self.queue.append(entry)
            self._note(f"{update.call_sid} queued in {enqueue.text}")
            self.advance_queue(update.call_sid, 0)
        elif root.find("Connect/Stream") is not None:
            self._give_back(update.call_sid, twiml)

    def _created(self, created) -> None:
        query = parse_qs(urlsplit(created.params.get("Url", "")).query)
        leg = {"sid": created.call_sid, "params": created.params, "caller": (query.get("call") or [""])[0], "rung": False}
        self.agent_legs.append(leg)
        self._note(f"agent leg {created.call_sid} to {created.params.get('To')} placed")
        if any(leg["caller"] in members for members in self.rooms.values()):
            self._ring(leg)

    # the called party ----------------------------------------------------------------------
    def _ring(self, leg: dict) -> None:
        leg["rung"] = True
        params = {"CallSid": leg["sid"], "To": leg["params"]["To"], "From": leg["params"]["From"], "Direction": "outbound-api"}
        if self.agent != "answer":
            self._note(f"agent leg {leg['sid']}: {self.agent}")
            self._post(leg["params"]["StatusCallback"], dict(params, CallStatus=self.agent, CallDuration="0"))
            return
        twiml = self._post(leg["params"]["Url"], dict(params, CallStatus="in-progress"))
        self.whispers[leg["caller"]] = twiml
        conference = (_parse(twiml) or ET.Element("x")).find("Dial/Conference")
        if conference is not None and conference.get("startConferenceOnEnter") == "true":
            self.rooms.setdefault(conference.text or "", []).append(leg["sid"])
            self.started.add(conference.text or "")
            self._note(f"agent joined {conference.text}: conference started")

    # queues --------------------------------------------------------------------------------
    def advance_queue(self, call_sid: str, waited_s: float) -> str:
        """One round of ``waitUrl`` for the queued ``call_sid`` after ``waited_s`` seconds; its TwiML."""
        entry = next(e for e in self.queue if e["sid"] == call_sid)
        position = self.queue.index(entry) + 1
        twiml = self._post(entry["wait"], {"CallSid": call_sid, "QueuePosition": str(position), "QueueTime": str(int(waited_s)),
                                           "CurrentQueueSize": str(len(self.queue)), "QueueSid": "QU" + "0" * 32})
        self.announcements.setdefault(call_sid, []).append(twiml)
        root = _parse(twiml)
        if root is not None and root.find("Leave") is not None:
            self.queue.remove(entry)
            answer = self._post(entry["action"], {"CallSid": call_sid, "QueueResult": "leave", "QueueTime": str(int(waited_s))})
            if (_parse(answer) or ET.Element("x")).find("Connect/Stream") is not None:
                self._give_back(call_sid, answer)
        return twiml

    # waiting for what happened ---------------------------------------------------------------
    def wait_given_back(self, call_sid: str, timeout: float = 10.0) -> str | None:
        """The TwiML that gave ``call_sid`` back to the bot, once it has (None after ``timeout``)."""
        with self._changed:
            self._changed.wait_for(lambda: call_sid in self.given_back, timeout)
            return self.given_back.get(call_sid)

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def _give_back(self, call_sid: str, twiml: str) -> None:
        self._note(f"{call_sid} back with the bot")
        with self._changed:
            self.given_back[call_sid] = twiml

    def _note(self, line: str) -> None:
        with self._changed:
            self.log.append(line)
            self._changed.notify_all()

    def _post(self, url: str, params: dict) -> str:
        params = dict(params, AccountSid=self.standin.account_sid, ApiVersion="2010-04-01")
        signature = sign(url, params, self.standin.auth_token)
        response = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=15)
        self._note(f"POST {urlsplit(url).path} -> {response.status_code}")
        return response.text


def _parse(twiml: str):
    try:
        return ET.fromstring(twiml) if twiml and twiml.lstrip().startswith("<") else None
    except ET.ParseError:
        return None
