"""One simulated call's Media Stream: the caller's sending loop and a reader thread.

Used by ``voicebot.testing.twilio_sim.TwilioSimulator``; see there for what it promises.
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import xml.etree.ElementTree as ET

import numpy as np
import requests
import websocket

from voicebot.audio.codecs import ulaw_decode, ulaw_encode
from voicebot.errors import TelephonyError
from voicebot.testing.sim_pacing import FramePacer
from voicebot.testing.sim_playback import BotPlayback
from voicebot.testing.sim_types import FRAME, CallResult, Speech, Turn, TurnResult

SILENCE = np.zeros(FRAME, dtype=np.int16)


class CallRun:
    """One call's Media Stream: the sending loop (main thread) and a reader thread."""

    def __init__(self, sim: TwilioSimulator, call_sid: str, stream_url: str, parameters: dict):
        self.sim, self.call_sid = sim, call_sid
        self.result = CallResult(call_sid)
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.sequence = 0
        self.chunk = 0
        self.frames_sent = 0
        self.clock = sim.clock
        self.t0 = self.clock()
        self.pacer = FramePacer(sim.clock, sim.sleep)
        self.playback = BotPlayback(self.elapsed, sim.clock, lambda: self.frames_sent)
        self.ended = threading.Event()
        self.hanging_up = False  # the caller is closing the socket itself
        self.redirected = False  # a REST update took the call away from this stream
        if sim.rest_standin is not None:
            sim.rest_standin.on_update(self._on_rest_update)
        try:
            self.ws = websocket.create_connection(stream_url, timeout=10)
        except (OSError, websocket.WebSocketException) as exc:
            raise TelephonyError(f"cannot open the media stream {stream_url}: {exc}") from None
        self.ws.settimeout(None)  # the bot may stay quiet for long; finish() closes the socket
        self.reader = threading.Thread(target=self._read, name=f"sim-reader-{call_sid[-6:]}", daemon=True)
        self.reader.start()
        self._send("connected", protocol="Call", version="1.0.0")
        self._send("start", start={"accountSid": sim.account_sid, "streamSid": self.stream_sid, "callSid": call_sid,
                                   "tracks": ["inbound"], "customParameters": parameters,
                                   "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}})

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def event(self, who: str, what: str) -> None:
        self.result.events.append({"t": round(self.elapsed(), 3), "who": who, "what": what})

    # sending -----------------------------------------------------------------------------
    def _send(self, event: str, **body) -> None:
        self.sequence += 1
        message = {"event": event, "sequenceNumber": str(self.sequence), **body}
        if event != "connected":
            message["streamSid"] = self.stream_sid
        try:
            self.ws.send(json.dumps(message))
        except (OSError, websocket.WebSocketConnectionClosedException):
            # the server closed the stream between two frames: like Twilio, stop streaming (the
            # reader, which sees the close too, records how the call ended)
            self.reader.join(timeout=5)
            self.ended.set()

    def _frame(self, pcm: np.ndarray, paced: bool = True) -> None:
        """Send one 20 ms caller frame (paced to real time unless ``paced`` is False), echo due marks."""
        self.pacer.wait(paced)
        self.chunk += 1
        payload = base64.b64encode(ulaw_encode(pcm)).decode("ascii")
        # counted before it is handed to the socket: a reply the frame triggers may arrive (on the
        # reader thread) before ``_send`` returns, and must see the frame counted
        self.frames_sent += 1
        self._send("media", media={"track": "inbound", "chunk": str(self.chunk),
                                   "timestamp": str(self.chunk * 20), "payload": payload})
        for name in self.playback.due_marks():
            self._send("mark", mark={"name": name})
            self.result.marks_echoed.append({"name": name, "t": round(self.elapsed(), 3)})

    def _silence_until(self, condition, timeout_s: float) -> bool:
        deadline = self.clock() + timeout_s
        while not self.ended.is_set():
            if condition():
                return True
            if self.clock() >= deadline:
                return False
            self._frame(SILENCE)
        return False

    # turns -------------------------------------------------------------------------------
    def play(self, turns: list[Turn]) -> None:
        for turn in turns:
            if self.ended.is_set():
                break
            if turn.interrupt:
                self._silence_until(lambda: self.playback.speaking_for() >= 0.3, self.sim.reply_timeout_s)
            else:
                self._silence_until(self._listening, self.sim.reply_timeout_s)
            if self.ended.is_set():
                break
            result = TurnResult("speech" if isinstance(turn, Speech) else "keys", turn.label, round(self.elapsed(), 3))
            self.result.turns.append(result)
            clears_before = self.playback.clears
            onset = last_speech = self.clock()
            last_position = self.frames_sent
            if isinstance(turn, Speech):
                self.event("caller", f"says {turn.label} ({len(turn.pcm) / 8000:.1f} s)")
                pcm = turn.pcm[: len(turn.pcm) - len(turn.pcm) % FRAME]
                first, last = turn.speech_frames()
                for index, offset in enumerate(range(0, len(pcm), FRAME)):
                    if self.ended.is_set():
                        break
                    self._frame(pcm[offset:offset + FRAME], paced=not self.sim.fast)
                    if index == first:
                        onset = self.clock()  # barge-in reaction counts from speech onset
                    if index == last:
                        last_speech, last_position = self.clock(), self.frames_sent
                        self.playback.expect_reply_after(last_speech)
            else:
                self.event("caller", f"presses {turn.digits}")
                for digit in turn.digits:
                    last_speech, last_position = self.clock(), self.frames_sent
                    self.playback.expect_reply_after(last_speech)  # before sending: replies can be instant
                    self._send("dtmf", dtmf={"track": "inbound_track", "digit": digit})
                    self._frame(SILENCE)
            last_input = last_speech
            result.last_input_s = round(last_input - self.t0, 3)
            if turn.interrupt:
                self._silence_until(lambda: self.playback.clears > clears_before, 2.0)
                if self.playback.clears > clears_before:
                    result.clear_ms = round((self.playback.clear_after(clears_before) - onset) * 1000, 1)
                    # the prompt that was cut is not the reply: count from the clear on
                    self.playback.expect_reply_after(max(last_input, self.playback.last_clear_at))
            got_reply = self._silence_until(lambda: self.playback.reply_at is not None, self.sim.reply_timeout_s)
            if got_reply:
                result.latency_ms = round((self.playback.reply_at - last_input) * 1000, 1)
                result.reply_after_frames = self.playback.reply_position - last_position
        # the caller listens to the last answer, stays on a moment (the bot may still transfer
        # or hang up, which ends the stream), then hangs up
        final_quiet_s = max(self.sim.listen_quiet_s, 2.0)
        self._silence_until(lambda: self.playback.quiet_for() >= final_quiet_s, self.sim.final_wait_s)

    def _listening(self) -> bool:
        return self.playback.quiet_for() >= self.sim.listen_quiet_s and self.playback.frames_received > 0

    # reading -----------------------------------------------------------------------------
    def _read(self) -> None:
        while True:
            try:
                raw = self.ws.recv()
            except Exception:
                break
            if not raw:
                break
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            kind = message.get("event")
            if kind == "media":
                self.playback.media(ulaw_decode(base64.b64decode(message["media"]["payload"])))
            elif kind == "mark":
                label = message["mark"]["name"]
                self.playback.mark(label)
            elif kind == "clear":
                self.playback.clear()
                self.event("bot", "clear (playback stopped)")
        if not self.ended.is_set() and not self.hanging_up:
            self.result.ended_by = self.result.ended_by or "server closed the stream"
            self.event("bot", "closes the media stream")
        self.ended.set()

    def _on_rest_update(self, update) -> None:
        """The first update of this call ends this stream; later ones belong to a later leg (a hand-back)."""
        if update.call_sid != self.call_sid or self.redirected:
            return
        self.redirected = True
        twiml = update.params.get("Twiml", "")
        if update.params.get("Status") == "completed" or "<Hangup" in twiml:
            self.result.hung_up_by_bot = True
            self.result.ended_by = "bot hung up (REST)"
            self.event("bot", "hangs up (REST)")
        elif twiml:
            self.result.transfer = {"twiml": twiml, "destination": _dial_target(twiml)}
            self.result.ended_by = "transferred (REST)"
            self.event("bot", f"transfers to {self.result.transfer['destination']} (REST)")
        self.ended.set()  # Twilio leaves <Connect><Stream> for the new TwiML: the stream stops

    def finish(self) -> None:
        self.hanging_up = True
        try:
            if self.ws.connected:
                self._send("stop", stop={"accountSid": self.sim.account_sid, "callSid": self.call_sid})
                self.ws.close()
        except Exception:
            pass
        self.reader.join(timeout=5)
        self.ended.set()
        self.result.ended_by = self.result.ended_by or "caller hung up"
        self.result.prompts = self.playback.prompts
        self.result.prompt_audio = self.playback.prompt_audio
        self.result.bot_audio = self.playback.all_audio()
        for group in _contiguous(self.playback.prompts):
            labels = group[0]["label"] + (f" .. {group[-1]['label']}" if len(group) > 1 else "")
            seconds = sum(p["seconds"] for p in group)
            self.result.events.append({"t": group[0]["t"], "who": "bot", "what": f"plays {labels} ({seconds:.1f} s)"
                                       + (" - interrupted" if group[-1]["cleared"] else "")})
        self.result.events.sort(key=lambda e: e["t"])

    def fetch_server_record(self) -> None:
        """The server's transcript and transfer records, when it serves ``/agent``."""
        try:
            call = self.sim.http.get(f"{self.sim.base_url}/agent/calls/{self.call_sid}", timeout=5)
            if call.status_code == 200:
                body = call.json()
                self.result.transcript = body.get("transcript", [])
                self.result.transfers = body.get("transfers", [])
                if self.result.transfers and self.result.transfer is None:
                    self.result.ended_by = f"transferred (server record); {self.result.ended_by}"
        except (requests.RequestException, ValueError):
            pass


def _contiguous(prompts: list[dict], gap_s: float = 0.1) -> list[list[dict]]:
    """Prompts played back to back (a reply sent in chunks, each with its mark) as one group."""
    groups: list[list[dict]] = []
    for prompt in prompts:
        last = groups[-1][-1] if groups else None
        if last is not None and not last["cleared"] and prompt["t"] - (last["t"] + last["seconds"]) <= gap_s:
            groups[-1].append(prompt)
        else:
            groups.append([prompt])
    return groups


def _dial_target(twiml: str) -> str:
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return "?"
    for path in ("Dial/Number", "Dial/Sip", "Dial/Client/Identity", "Dial/Client", "Enqueue"):
        element = root.find(path)
        if element is not None and (element.text or "").strip():
            return element.text.strip()
    return "?"
