"""The worker side of a call: recognise, understand, step the flow, carry out its actions.

``TurnWorker`` runs on the call's one worker thread (``VoiceCallSession`` feeds it jobs in
order), so the flow state, the open recognition stream, the transcript and the frustration
tracker are touched by one thread only. Each caller turn is timed per stage (endpoint wait,
ASR, NLU, flow, TTS; total = last speech frame to first reply audio handed to the channel),
persisted to the ``turns`` table and observed in Prometheus.
"""
from __future__ import annotations

import itertools
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from voicebot.actions import HangUp, Listen, Lookup, Say, Transfer
from voicebot.asr.base import Recognition
from voicebot.audio.wavfile import Audio
from voicebot.errors import VoicebotError
from voicebot.events import CallEnded, CallStarted, Utterance
from voicebot.handoff.context import build_context, find_customer, save_transfer
from voicebot.session import metrics
from voicebot.session.completeness import answer_test, is_complete
from voicebot.session.playback import QueuedPrompt, split_chunks
from voicebot.session.records import CallRecorder

if TYPE_CHECKING:
    from voicebot.session.call import VoiceCallSession

log = logging.getLogger(__name__)

BUFFERED_BACKENDS = {"whisper"}  # decode only at finish(): worth a speculative decode
SPECULATION_WAIT_S = 0.3  # an early decode waits this long for a free slot, then is skipped


class TurnWorker:
    """Everything a call does off the channel's thread. Single-threaded by construction."""

    def __init__(self, session: "VoiceCallSession", channel: str = "voice"):
        self.session = session
        self.pipeline = session.pipeline
        self.channel = channel
        self.flow = None
        self.flow_state = None
        self.caller = ""
        self.recorder: CallRecorder | None = None
        self.tracker = None  # FrustrationTracker, one per call
        self.understanding = None
        self.transcript: list[tuple[str, str]] = []
        self.turns: list[dict[str, Any]] = []  # per caller turn: text, intent, stage timings
        self.prompts: list[str] = []  # every text the bot said, in order
        self.outcome = "abandoned"
        self.transfer_context: dict[str, Any] | None = None
        self._stream = None
        self._stream_grammar = None
        self._grammar = None  # the Grammar object of the open stream
        self._accept = None  # which quick recognitions count (completeness.answer_test)
        self._speculation: tuple[float, Recognition] | None = None  # (last voiced time, result)
        self._labels = itertools.count(1)
        self._pending_turn: dict[str, Any] | None = None  # timings waiting for the reply's first audio

    # ---- jobs ------------------------------------------------------------------------------
    def handle(self, job: tuple) -> None:
        kind = job[0]
        if kind == "event":
            self.step(job[1])
        elif kind == "asr_open":
            self._open_stream(job[1])
        elif kind == "asr_feed":
            if self._stream is not None:
                self._stream.accept(job[1])
        elif kind == "asr_speculate":
            self._speculate(*job[1:])
        elif kind == "asr_drop":
            self._stream = None
        elif kind == "asr_finish":
            self._finish_utterance(*job[1:])
        elif kind == "say":  # a lookup's filler
            self._say(job[1])
        elif kind == "end":
            self._end(job[1])

    def stop(self, ended: CallEnded) -> None:
        """The call is over: tell the flow (its actions are moot), record the outcome."""
        self._stream = None
        if self.flow_state is not None:
            from voicebot.flows.engine import step

            self.flow_state, _ = step(self.flow, self.flow_state, ended)
        if self.recorder is not None:
            self.recorder.end(self.outcome, ended.reason)

    # ---- the flow ----------------------------------------------------------------------------
    def step(self, event) -> None:
        from voicebot.flows.engine import step

        if isinstance(event, CallStarted):
            self._start(event)
            event = CallStarted(event.call_id, event.caller, event.channel, {"local_time": datetime.now().isoformat(timespec="minutes"), **event.params})
        started = time.perf_counter()
        self.flow_state, actions = step(self.flow, self.flow_state, event)
        if self._pending_turn is not None:
            self._pending_turn["flow"] = self._pending_turn.get("flow", 0.0) + time.perf_counter() - started
        self.execute(actions)
        # a turn answered by a lookup is timed until its answer (or filler) is spoken
        if not any(isinstance(a, Lookup) for a in actions):
            self._close_turn()

    def _start(self, event: CallStarted) -> None:
        from voicebot.nlu.emotion.fusion import FrustrationTracker

        self.caller = event.caller
        self.flow = self.pipeline.current_flow()
        self.tracker = FrustrationTracker()
        self.recorder = CallRecorder(self.pipeline.db, self.session.call_sid, event.caller, event.channel)

    def execute(self, actions) -> None:
        for action in actions:
            if isinstance(action, Say):
                self._say(action)
            elif isinstance(action, Listen):
                self.session.begin_listen(action)
            elif isinstance(action, Lookup):
                self.session.begin_lookup(action)
            elif isinstance(action, (Transfer, HangUp)):
                self.session.end_after_playback(action)
            else:
                log.warning("call %s: unknown action %r", self.session.call_sid, action)

    # ---- speech out ----------------------------------------------------------------------------
    def _say(self, say: Say) -> None:
        calm = self.understanding is not None and self.understanding.frustration >= self.session.settings.calm_frustration
        started = time.perf_counter()
        try:
            pcm = self.pipeline.speak(say, calm=calm, flow=self.flow)
        except VoicebotError as exc:  # a prompt that cannot be rendered is skipped; the call goes on
            log.error("call %s: cannot say %r: %s", self.session.call_sid, say.text, exc)
            return
        if self._pending_turn is not None and "tts" not in self._pending_turn:
            self._pending_turn["tts"] = time.perf_counter() - started
            self._pending_turn["total"] = self._pending_turn["endpoint"] + (time.perf_counter() - self._pending_turn["t_ended"])
        chunks = split_chunks(pcm)
        label = f"p{next(self._labels)}"
        prompt = QueuedPrompt(label, say.text, say.interruptible, [f"{label}.{i}" for i in range(len(chunks))], [len(c) / 8000 for c in chunks])
        self.session.queue_prompt(prompt, chunks)
        self.prompts.append(say.text)
        self.transcript.append(("bot", say.text))
        if self.recorder is not None:
            self.recorder.add_turn("bot", say.text, details={"label": label, "style": say.style or ("calm" if calm else None), "duration_s": round(prompt.duration_s, 3)})

    # ---- speech in -----------------------------------------------------------------------------
    def _open_stream(self, listen: Listen | None) -> None:
        grammar = self.pipeline.grammar_for(listen.grammar) if listen is not None else None
        self._speculation = None
        self._accept = answer_test(listen)
        try:
            self._stream = self.pipeline.asr.stream(8000, grammar)
            self._stream_grammar = listen.grammar if listen is not None else None
        except Exception as exc:  # e.g. a grammar the backend rejects: fall back to open speech
            log.warning("call %s: cannot open a recognition stream with grammar %r (%s); using open vocabulary", self.session.call_sid, listen and listen.grammar, exc)
            grammar = None
            self._stream, self._stream_grammar = self.pipeline.asr.stream(8000, None), None
        self._grammar = grammar

    def _speculate(self, pcm, last_voiced_s: float, listen: Listen | None = None, thorough: bool = False) -> None:
        """Decode the utterance so far (see ``SessionSettings.speculate_after_s``) when the
        recogniser only decodes at the end; streaming recognisers already keep up. A decode
        that completely answers ``listen`` ends the turn at once (semantic endpointing).
        The first early decode of a pause is quick only; a ``thorough`` one (later in the same
        pause, ``thorough_after_s``) runs the slow, accurate decode, only if the quick one
        left no final result."""
        if self._stream is None or self.pipeline.backend_name(self._grammar) not in BUFFERED_BACKENDS:
            return
        if thorough and self._speculation is not None and self._speculation[0] == last_voiced_s:
            return  # the quick decode of this pause was final already
        if not self.pipeline.speculation_slots.acquire(timeout=SPECULATION_WAIT_S):
            return  # other calls' early decodes are queued already: do not add to the recogniser's queue
        try:
            if self.session.spoke_after(last_voiced_s):  # the caller went on while this job waited
                return
            stream = self.pipeline.asr.stream(8000, self._grammar)
            stream.accept(pcm)
            # quick: an early look that is not yet an answer is dropped, not decoded again on the
            # slow path at once (the caller may still be talking); a longer pause brings the
            # thorough decode, and the decode at the end covers the rest
            recognition = stream.finish(answer_test(listen), passes="thorough" if thorough else "quick")
        except VoicebotError as exc:  # the regular decode at the end still happens
            log.info("call %s: speculative decode skipped: %s", self.session.call_sid, exc)
            return
        finally:
            self.pipeline.speculation_slots.release()
        if not recognition.is_final:
            return
        self._speculation = (last_voiced_s, recognition)
        if is_complete(listen, recognition.text):
            self.session.end_turn_early(last_voiced_s)

    def _finish_utterance(self, ended, endpoint_s: float, t_ended: float, early: bool = False) -> None:
        timings: dict[str, Any] = {"endpoint": endpoint_s, "t_ended": t_ended}
        if early:  # ended by a complete early decode, before the full end-of-turn silence
            timings["ended_early"] = True
        speculation, self._speculation = self._speculation, None
        if speculation is not None and speculation[0] == ended.last_speech_at_s:
            recognition = speculation[1]  # nothing was said after the speculative decode
            timings["speculative"] = True
        else:
            try:
                recognition = self._stream.finish(self._accept) if self._stream is not None else Recognition("", 0.0)
            except VoicebotError as exc:  # e.g. an overloaded recogniser: the flow hears "not understood"
                log.error("call %s: recognition failed: %s", self.session.call_sid, exc)
                recognition = Recognition("", 0.0, backend="failed")
        self._stream = None
        timings["asr"] = time.perf_counter() - t_ended  # end of speech -> result, waiting included
        started = time.perf_counter()
        understander = self.pipeline.understander(self.flow)
        self.understanding = understander.understand(recognition.text, Audio(ended.audio, 8000), self.tracker)
        timings["nlu"] = time.perf_counter() - started
        u = self.understanding
        self._pending_turn = {**timings, "text": recognition.text, "asr_confidence": recognition.confidence, "backend": recognition.backend,
                              "grammar": self._stream_grammar if isinstance(self._stream_grammar, (str, type(None))) else "phrases",
                              "intent": u.intent, "confidence": u.confidence, "frustration": u.frustration, "emotion": u.emotion}
        self.transcript.append(("caller", recognition.text))
        if self.recorder is not None:  # stored now so the transcript keeps its order; timings follow
            self._pending_turn["turn_id"] = self.recorder.add_turn("caller", recognition.text, intent=u.intent, confidence=u.confidence,
                                                                   frustration=u.frustration)
        self.step(Utterance(recognition.text, recognition.confidence, u))

    def _close_turn(self) -> None:
        """After the flow answered a caller turn: persist it with its stage timings."""
        turn, self._pending_turn = self._pending_turn, None
        if turn is None:
            return
        turn.pop("t_ended")
        turn_id = turn.pop("turn_id", None)
        stages = {k: round(turn[k], 4) for k in metrics.STAGES if k in turn}
        metrics.observe_turn(stages)
        turn["stages"] = stages
        self.turns.append(turn)
        if self.recorder is not None:
            details = {k: turn.get(k) for k in ("stages", "asr_confidence", "backend", "grammar", "emotion", "speculative", "ended_early")}
            total = stages.get("total")
            self.recorder.update_turn(turn_id, latency_ms=round(1000 * total, 1) if total is not None else None, details=details)

    # ---- ending ----------------------------------------------------------------------------
    def _end(self, action: HangUp | Transfer) -> None:
        io = self.session.io
        if isinstance(action, HangUp):
            self.outcome = "contained"
            io.hangup(action.reason)
            return
        self.outcome = "transferred"
        metrics.TRANSFERS.labels(action.reason).inc()
        if action.destination == "agent":  # the flow's name for the configured agent line
            action = Transfer(self.pipeline.settings.transfer_number, action.reason, action.context)
        u = self.understanding
        customer = find_customer(self.pipeline.db, self.caller) if self.pipeline.db is not None else None
        context = build_context(action, call_sid=self.session.call_sid, caller=self.caller, transcript=self.transcript, understanding=u,
                                frustration=u.frustration if u else 0.0, emotion=u.emotion if u else "neutral", customer=customer,
                                slots=(action.context or {}).get("slots"))
        record_id = ""
        if self.pipeline.db is not None and self.recorder is not None and self.recorder.call_id is not None:
            try:
                record_id = save_transfer(self.pipeline.db, self.session.call_sid, action, context)
            except VoicebotError as exc:  # the caller still reaches a human, without the record
                log.error("call %s: cannot save the transfer context: %s", self.session.call_sid, exc)
        self.transfer_context = context
        io.transfer(Transfer(action.destination, action.reason, context), record_id)
