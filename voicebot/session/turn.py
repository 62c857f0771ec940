"""``TurnWorker``: everything a call does off the channel's thread, one job at a time.

It runs on the call's one worker thread (``VoiceCallSession`` queues typed jobs, in order), so
the conversation (``Dialogue``), the open recognition stream (``CallRecognizer``) and the turn
being timed (``CallerTurn``) are touched by one thread only. It answers the channel side through
``CallControl`` and the channel through ``CallIO``; it never sees the session object.
"""
from __future__ import annotations

import itertools
import logging
import queue
import time
from typing import Any

from voicebot import observability as metrics
from voicebot.actions import HangUp, Listen, Lookup, Say, Transfer
from voicebot.session.tone import tone_for
from voicebot.audio.wavfile import Audio
from voicebot.errors import VoicebotError
from voicebot.events import Utterance
from voicebot.session.base import CallIO
from voicebot.session.caller_turn import CallerTurn
from voicebot.session.completeness import is_complete
from voicebot.session.dialogue import Dialogue
from voicebot.session.jobs import (CallControl, DropRecognition, EarlyDecode, EndCall, FeedAudio, FinishUtterance, Job,
                                   OpenRecognition, SayFiller, StartCall, StepFlow, StopCall)
from voicebot.session.playback import QueuedPrompt, split_chunks
from voicebot.session.recognition import CallRecognizer, grammar_label

log = logging.getLogger(__name__)


class TurnWorker:
    """The slow, ordered work of one call. Single-threaded by construction."""

    def __init__(self, control: CallControl, pipeline, io: CallIO, *, call_sid: str, channel: str = "voice",
                 calm_frustration: float = 0.6, holding_phrase: str = "One moment, please."):
        self.control, self.pipeline, self.io = control, pipeline, io
        self.call_sid, self.channel = call_sid, channel
        self.calm_frustration, self.holding_phrase = calm_frustration, holding_phrase
        self.dialogue: Dialogue | None = None  # made when the call starts (the flow version is fixed then)
        self.recognizer = CallRecognizer(pipeline.asr, pipeline.speculation_slots, call_sid)
        self.turns: list[dict[str, Any]] = []  # every answered caller turn, with its stage timings
        self.prompts: list[str] = []  # every text the bot said, in order
        self._turn: CallerTurn | None = None  # the caller turn waiting for the reply's first audio
        self._labels = itertools.count(1)
        self._handlers = {
            StartCall: lambda job: self._start(job.caller, job.params),
            StepFlow: lambda job: self._step(job.event),
            OpenRecognition: lambda job: self.recognizer.open(job.listen),
            FeedAudio: lambda job: self.recognizer.feed(job.pcm),
            EarlyDecode: self._early_decode,
            DropRecognition: lambda job: self.recognizer.drop(),
            FinishUtterance: self._finish_utterance,
            SayFiller: lambda job: self._say(job.say),
            EndCall: lambda job: self._end(job.action),
        }

    def run(self, jobs: "queue.Queue[Job]") -> None:
        """The worker thread: run ``jobs`` in order until ``StopCall``; one bad job never ends the call."""
        while True:
            job = jobs.get()
            try:
                if isinstance(job, StopCall):
                    self.stop(job)
                    return
                self.handle(job)
            except Exception:
                log.exception("call %s: error handling %s", self.call_sid, type(job).__name__)
                metrics.ERRORS.labels("session").inc()
            finally:
                jobs.task_done()

    def handle(self, job: Job) -> None:
        """Do one job (``StopCall`` is ``stop``'s)."""
        self._handlers[type(job)](job)

    def _start(self, caller: str, params: dict) -> None:
        """The call began: make its dialogue on the current flow version and greet."""
        pipeline = self.pipeline
        flow = pipeline.current_flow()
        self.dialogue = Dialogue(flow, pipeline.understander(flow), call_sid=self.call_sid, caller=caller, channel=self.channel,
                                 db=pipeline.db, transfer_number=pipeline.settings.transfer_number)
        self._run_actions(self.dialogue.start(params))

    def stop(self, job: StopCall) -> None:
        """The call is over: tell the flow (its actions are moot), record the outcome."""
        self.recognizer.drop()
        if self.dialogue is not None:
            self.dialogue.end(job.reason)

    # ---- the flow --------------------------------------------------------------------------------
    def _step(self, event) -> None:
        started = time.perf_counter()
        actions = self.dialogue.step(event)
        if self._turn is not None:
            self._turn.flow += time.perf_counter() - started
        self._run_actions(actions)

    def _run_actions(self, actions) -> None:
        for action in actions:
            if isinstance(action, Say):
                self._say(action)
            elif isinstance(action, Listen):
                self.control.begin_listen(action)
            elif isinstance(action, Lookup):
                self.control.begin_lookup(action)
            elif isinstance(action, (Transfer, HangUp)):
                self.control.end_after_playback(action)
            else:
                log.warning("call %s: unknown action %r", self.call_sid, action)
        # a turn answered by a lookup is timed until its answer (or filler) is spoken
        if not any(isinstance(a, Lookup) for a in actions):
            self._close_turn()

    # ---- speech out ------------------------------------------------------------------------------
    def _say(self, say: Say) -> None:
        u = self.dialogue.understanding if self.dialogue else None
        calm = u is not None and u.frustration >= self.calm_frustration
        profile = self.dialogue.state.variables.get("customer") if self.dialogue and self.dialogue.state else None
        tone = tone_for(u.frustration if u is not None else None, profile)  # rate, pauses, wording (session.tone)
        started = time.perf_counter()
        try:
            pcm = self.pipeline.speak(say, calm=calm, flow=self.dialogue.flow if self.dialogue else None, tone=tone)
        except VoicebotError as exc:  # a prompt that cannot be rendered is skipped; the call goes on
            log.error("call %s: cannot say %r: %s", self.call_sid, say.text, exc)
            return
        if self._turn is not None:
            self._turn.replied(time.perf_counter() - started)
        chunks = split_chunks(pcm)
        label = f"p{next(self._labels)}"
        prompt = QueuedPrompt(label, say.text, say.interruptible, [f"{label}.{i}" for i in range(len(chunks))], [len(c) / 8000 for c in chunks])
        self.control.queue_prompt(prompt, chunks)
        self.prompts.append(say.text)
        self.dialogue.said(say.text, {"label": label, "style": say.style or ("calm" if calm else None), "duration_s": round(prompt.duration_s, 3)})

    # ---- speech in -------------------------------------------------------------------------------
    def _early_decode(self, job: EarlyDecode) -> None:
        """Decode the utterance so far; a complete answer ends the turn at once (semantic endpointing)."""
        recognition = self.recognizer.early_decode(job.pcm, job.last_voiced_s, job.listen, job.thorough,
                                                   stale=lambda: self.control.spoke_after(job.last_voiced_s))
        if recognition is not None and is_complete(job.listen, recognition.text):
            self.control.end_turn_early(job.last_voiced_s)

    def _finish_utterance(self, job: FinishUtterance) -> None:
        turn = CallerTurn(job.endpoint_s, job.ended_at, ended_early=job.early, grammar=grammar_label(self.recognizer.listen))
        recognition, speculative = self.recognizer.finish(job.ended.audio, job.ended.last_speech_at_s, hold=self._hold)
        turn.recognised(recognition, speculative)
        started = time.perf_counter()
        u = self.dialogue.understand(recognition.text, Audio(job.ended.audio, 8000))
        turn.understood(u, time.perf_counter() - started)
        turn.turn_id = self.dialogue.heard(recognition.text, u)  # stored now so the transcript keeps its order
        self._turn = turn
        self._step(Utterance(recognition.text, recognition.confidence, u))

    def _hold(self) -> None:
        """Every recogniser is busy: the caller hears a holding phrase, not silence. It is not the
        turn's reply (the turn being recognised is not open yet): the turn is timed to its answer."""
        metrics.HOLDING_PHRASES.inc()
        self._say(Say(self.holding_phrase))

    def _close_turn(self) -> None:
        """After the flow answered a caller turn: report it and store its stage timings."""
        turn, self._turn = self._turn, None
        if turn is None:
            return
        turn.observe()
        self.turns.append(turn.as_dict())
        total = turn.stages().get("total")
        self.dialogue.update_turn(turn.turn_id, latency_ms=round(1000 * total, 1) if total is not None else None,
                                  details=turn.details())

    # ---- ending ----------------------------------------------------------------------------------
    def _end(self, action: HangUp | Transfer) -> None:
        if isinstance(action, HangUp):
            self.dialogue.hang_up(action)
            self.io.hangup(action.reason)
            return
        metrics.TRANSFERS.labels(action.reason).inc()
        self.io.transfer(self.dialogue.handoff(action))
