"""The turn logic on its own: ``TurnWorker`` fed typed jobs by hand, with a scripted recogniser.

The recogniser is a test double (it returns the texts the test scripts, and records what it was
asked), so each test pins one decision of the worker: which decode becomes the turn's text,
when an early decode ends the turn, what a failed decode does, how a turn is timed across a
lookup, what a transfer hands the channel. Everything else is real: the demo flow and engine,
the understander, espeak-ng speech, SQLite records.
"""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from voicebot.actions import HangUp, Listen, Transfer
from voicebot.asr.base import ASR, Recognition, RecognitionStream
from voicebot.audio.endpointing import SpeechEnded
from voicebot.config import PROJECT_ROOT, load_settings
from voicebot.errors import ASRError, RecogniserSaturatedError
from voicebot.events import LookupCompleted
from voicebot.flows.loader import load_flow
from voicebot.session.datasources import DataSources
from voicebot.session.jobs import EarlyDecode, EndCall, FeedAudio, FinishUtterance, OpenRecognition, StartCall, StepFlow
from voicebot.session.turn import TurnWorker
from voicebot.storage import calls
from voicebot.storage.db import Database
from voicebot.storage.seed import seed_demo

DEMO = load_flow(PROJECT_ROOT / "flows" / "retail_demo.yaml")
KNOWN_CALLER = "+15550001111"


class ScriptedASR(ASR):
    """Answers each ``finish`` with the next scripted result (text or exception), by pass."""

    name = "whisper"
    decodes_at_finish = True  # a buffered recogniser: the worker runs early decodes for it

    def __init__(self):
        self.script: dict[str, list] = {"quick": [], "thorough": [], "auto": []}
        self.finished: list[tuple[str, int]] = []  # (passes, samples decoded)
        self.all_workers_busy = False

    @property
    def busy(self) -> bool:
        return self.all_workers_busy

    def supports_grammar(self, grammar) -> bool:
        return True

    def stream(self, sample_rate=8000, grammar=None, hints=()) -> RecognitionStream:
        asr = self

        class Stream(RecognitionStream):
            def __init__(self):
                self.samples = 0

            def accept(self, pcm):
                self.samples += len(pcm)

            def finish(self, accept=None, passes="auto"):
                asr.finished.append((passes, self.samples))
                result = asr.script[passes].pop(0)
                if isinstance(result, Exception):
                    raise result
                final = accept(result) if (accept is not None and passes == "quick") else True
                return Recognition(result, 0.9, is_final=final, backend="whisper")

        return Stream()


class Control:
    """What the worker asks of the channel side, recorded (the session's ``CallControl``)."""

    def __init__(self):
        self.prompts, self.listens, self.lookups, self.ends, self.early_ends = [], [], [], [], []
        self.voiced_since: float | None = None  # the caller spoke again after this time

    def queue_prompt(self, prompt, chunks):
        self.prompts.append(prompt.text)

    def begin_listen(self, listen):
        self.listens.append(listen)

    def begin_lookup(self, lookup):
        self.lookups.append(lookup)

    def end_after_playback(self, action):
        self.ends.append(action)

    def spoke_after(self, last_voiced_s):
        return self.voiced_since is not None and self.voiced_since > last_voiced_s

    def end_turn_early(self, last_voiced_s):
        self.early_ends.append(last_voiced_s)
        return True


class IO:
    def __init__(self):
        self.transfers, self.hangups = [], []

    def play(self, pcm, label):
        pass

    def clear(self):
        pass

    def transfer(self, handoff):
        self.transfers.append(handoff)

    def hangup(self, reason):
        self.hangups.append(reason)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from voicebot.nlu.understander import Understander
    from voicebot.tts.registry import load_tts

    db = Database(f"sqlite:///{tmp_path_factory.mktemp('turns') / 'v.db'}")
    seed_demo(db)
    return SimpleNamespace(db=db, understander=Understander.from_examples(DEMO.intents), tts=load_tts())


@pytest.fixture()
def call(shared):
    from voicebot.session.pipeline import Pipeline

    asr, control, io = ScriptedASR(), Control(), IO()
    pipeline = Pipeline(load_settings(), asr, shared.tts, SimpleNamespace(current=lambda: DEMO), None, shared.db)
    pipeline._understanders[DEMO.sha256] = shared.understander
    worker = TurnWorker(control, pipeline, io, call_sid=f"CA-turn-{time.monotonic_ns()}")
    c = SimpleNamespace(worker=worker, asr=asr, control=control, io=io, db=shared.db, sources=DataSources.for_flow(DEMO, shared.db))
    worker.handle(StartCall(KNOWN_CALLER, {"local_time": "2026-11-24T10:00"}))
    answer_lookups(c)  # the greeting looks the caller up first
    return c


def answer_lookups(c) -> None:
    """Answer the lookups the flow started, from the real demo data sources, as the session would."""
    while c.control.lookups:
        lookup = c.control.lookups.pop(0)
        c.worker.handle(StepFlow(LookupCompleted(lookup.lookup_id, c.sources.call(lookup.source, lookup.params))))


def _speech(seconds: float) -> np.ndarray:
    return (np.random.default_rng(1).normal(0, 3000, int(8000 * seconds))).astype(np.int16)


def _utterance(c, listen: Listen, pcm: np.ndarray, last_speech_at_s: float = 2.0, endpoint_s: float = 1.0, early: bool = False):
    c.worker.handle(OpenRecognition(listen))
    c.worker.handle(FeedAudio(pcm))
    return FinishUtterance(SpeechEnded(pcm, last_speech_at_s), endpoint_s, time.perf_counter(), early)


def _open_number_question(c, seconds: float):
    """The caller has spoken ``seconds`` of audio at a 4-digit question (stream open, audio fed)."""
    ask = Listen(grammar="digits", max_digits=4, complete_when="digits")
    pcm = _speech(seconds)
    c.worker.handle(OpenRecognition(ask))
    c.worker.handle(FeedAudio(pcm))
    return ask, pcm


def test_start_greets_the_known_caller_and_opens_the_menu(call):
    assert call.control.prompts[:2] == ["Hi Ana, welcome back to Acme.", call.control.prompts[1]]
    assert call.control.prompts[1].startswith("How can I help?")
    assert len(call.control.listens) == 1 and call.worker.turns == []


def test_the_final_decode_is_the_turn_and_the_turn_is_stored_with_its_stages(call):
    menu = call.control.listens[-1]
    call.asr.script["auto"] = ["billing"]
    call.worker.handle(_utterance(call, menu, _speech(1.0)))
    assert call.asr.finished == [("auto", 8000)]  # the whole utterance, decoded once
    assert "billing specialist" in " ".join(call.control.prompts).lower()
    [turn] = call.worker.turns
    assert turn["text"] == "billing" and turn["intent"] == "billing" and not turn.get("speculative")
    assert set(turn["stages"]) == {"endpoint", "asr", "nlu", "flow", "tts", "total"} and turn["stages"]["endpoint"] == 1.0
    stored = [t for t in calls.load_call(call.db, call.worker.call_sid)["transcript"] if t["speaker"] == "caller"]
    assert stored[-1]["text"] == "billing" and stored[-1]["details"]["stages"] == turn["stages"]
    assert stored[-1]["latency_ms"] == pytest.approx(1000 * turn["stages"]["total"], abs=0.1)


def test_a_complete_early_decode_ends_the_turn_and_is_reused(call):
    ask, pcm = _open_number_question(call, 1.6)
    call.asr.script["quick"] = ["4 1 7 2"]
    call.worker.handle(EarlyDecode(pcm, 1.9, ask, thorough=False))
    assert call.control.early_ends == [1.9]  # semantic endpointing: the answer is complete
    call.worker.handle(FinishUtterance(SpeechEnded(pcm, 1.9), 0.16, time.perf_counter(), early=True))
    answer_lookups(call)  # the menu takes an order number: its status is looked up
    assert [p for p, _ in call.asr.finished] == ["quick"]  # not decoded again at the end
    turn = call.worker.turns[-1]
    assert turn["text"] == "4 1 7 2" and turn["speculative"] is True and turn["ended_early"] is True


def test_an_incomplete_early_decode_is_a_draft_then_the_thorough_one_counts(call):
    ask, pcm = _open_number_question(call, 1.2)
    call.asr.script["quick"], call.asr.script["auto"] = ["4 1"], ["4 1 7"]
    call.worker.handle(EarlyDecode(pcm, 1.5, ask, thorough=False))
    call.worker.handle(EarlyDecode(pcm, 1.5, ask, thorough=True))
    assert call.control.early_ends == []  # neither is a complete 4-digit answer: wait for the silence
    call.worker.handle(FinishUtterance(SpeechEnded(pcm, 1.5), 1.0, time.perf_counter()))
    answer_lookups(call)
    assert [p for p, _ in call.asr.finished] == ["quick", "auto"]  # the later (full) decode is reused at the end
    assert call.worker.turns[-1]["text"] == "4 1 7" and call.worker.turns[-1]["speculative"] is True


def test_an_early_decode_is_dropped_when_the_caller_went_on(call):
    ask, pcm = _open_number_question(call, 1.0)
    call.control.voiced_since = 1.4  # spoke again after the pause the decode was for
    call.worker.handle(EarlyDecode(pcm, 1.2, ask, thorough=False))
    assert call.asr.finished == []  # stale: the recogniser was not even asked
    call.asr.script["auto"] = ["4 1 7 2"]
    call.worker.handle(FinishUtterance(SpeechEnded(pcm, 2.4), 1.0, time.perf_counter()))
    answer_lookups(call)
    assert call.asr.finished == [("auto", 8000)] and "speculative" not in call.worker.turns[-1]


def test_no_early_decode_runs_while_every_recogniser_worker_is_busy(call):
    ask, pcm = _open_number_question(call, 1.0)
    call.asr.all_workers_busy = True  # it would queue ahead of other callers' end-of-turn decodes
    call.worker.handle(EarlyDecode(pcm, 1.2, ask, thorough=False))
    call.worker.handle(EarlyDecode(pcm, 1.2, ask, thorough=True))
    assert call.asr.finished == []
    call.asr.all_workers_busy = False
    call.asr.script["auto"] = ["4 1 7 2"]
    call.worker.handle(FinishUtterance(SpeechEnded(pcm, 1.2), 1.0, time.perf_counter()))
    answer_lookups(call)
    assert call.asr.finished == [("auto", 8000)] and call.worker.turns[-1]["text"] == "4 1 7 2"


def test_a_decode_after_newer_speech_is_not_reused(call):
    ask, pcm = _open_number_question(call, 1.0)
    call.asr.script["quick"], call.asr.script["auto"] = ["5 0 9 3"], ["4 1 7 2"]
    call.worker.handle(EarlyDecode(pcm, 1.2, ask, thorough=False))  # final (4 digits) for speech up to 1.2 s
    call.worker.handle(FeedAudio(pcm))  # ... but the caller went on and the turn ended at 2.6 s
    call.worker.handle(FinishUtterance(SpeechEnded(np.concatenate([pcm, pcm]), 2.6), 1.0, time.perf_counter()))
    answer_lookups(call)
    assert call.asr.finished[-1] == ("auto", 16000)  # decoded again, all of it
    assert call.worker.turns[-1]["text"] == "4 1 7 2" and "speculative" not in call.worker.turns[-1]


def test_a_failed_recognition_is_heard_as_nothing_and_the_call_goes_on(call):
    menu = call.control.listens[-1]
    call.asr.script["auto"] = [ASRError("recogniser saturated")]
    call.worker.handle(_utterance(call, menu, _speech(0.8)))
    turn = call.worker.turns[-1]
    assert turn["text"] == "" and turn["backend"] == "failed" and turn["intent"] == "oos"
    # the flow's no-match: the menu rephrased (its keys), listening again
    assert call.control.prompts[-1].startswith("Sorry, I didn't get that. Press 1 for order status")
    assert call.control.listens[-1] == menu


def _holding_count() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("voicebot_holding_phrases_total") or 0.0


def test_busy_recognisers_give_a_holding_phrase_then_the_answer(call):
    menu = call.control.listens[-1]
    before = _holding_count()
    call.asr.script["auto"] = [RecogniserSaturatedError("every worker busy"), "billing"]
    call.worker.handle(_utterance(call, menu, _speech(1.0)))
    assert [passes for passes, _ in call.asr.finished] == ["auto", "auto"]  # refused, then the whole utterance again
    assert call.asr.finished[-1][1] == 8000
    hold = call.control.prompts.index("One moment, please.")
    assert "billing specialist" in call.control.prompts[hold + 1].lower()  # the answer follows the holding phrase
    assert call.worker.turns[-1]["text"] == "billing" and _holding_count() == before + 1


def test_recognisers_busy_for_good_are_heard_as_nothing(call):
    menu = call.control.listens[-1]
    call.asr.script["auto"] = [RecogniserSaturatedError("busy")] * 3
    call.worker.handle(_utterance(call, menu, _speech(1.0)))
    assert len(call.asr.finished) == 3 and call.control.prompts.count("One moment, please.") == 1
    assert call.worker.turns[-1]["backend"] == "failed"
    assert call.control.prompts[-1].startswith("Sorry, I didn't get that. Press 1 for order status")


def test_a_turn_answered_by_a_lookup_is_timed_until_the_answer(call):
    menu = call.control.listens[-1]
    call.asr.script["auto"] = ["4 1 7 2"]  # an order number at the main menu: status straight away
    call.worker.handle(_utterance(call, menu, _speech(1.5)))
    [lookup] = call.control.lookups
    assert lookup.source == "order_by_number" and lookup.params == {"number": "4172"} and call.worker.turns == []  # still open
    time.sleep(0.05)  # the lookup's time belongs to the turn
    answer_lookups(call)
    assert "Order 4 1 7 2 has shipped and arrives Thursday." in call.control.prompts
    [turn] = call.worker.turns
    assert turn["stages"]["total"] >= turn["stages"]["endpoint"] + 0.05


def test_a_transfer_hands_the_channel_a_stored_context(call):
    menu = call.control.listens[-1]
    call.asr.script["auto"] = ["I want to talk to an agent"]
    call.worker.handle(_utterance(call, menu, _speech(1.5)))
    [end] = call.control.ends
    assert isinstance(end, Transfer) and end.destination == "agent"  # the flow's name for the agent line
    call.worker.handle(EndCall(end))
    [handoff] = call.io.transfers
    assert handoff.destination == load_settings().transfer_number and handoff.record_id is not None
    context = calls.load_transfer(call.db, handoff.record_id)["context"]
    assert context == handoff.context and context["customer"]["name"] == "Ana Lopez"
    said = [(line["speaker"], line["text"], line["intent"]) for line in context["transcript"]]
    assert ("caller", "I want to talk to an agent", "agent") in said and said[0][0] == "bot"
    assert all(line["at"] for line in context["transcript"])
    assert calls.get_call(call.db, call.worker.call_sid).outcome == "transferred"


def test_hangup_is_contained(call):
    call.worker.handle(EndCall(HangUp("done")))
    assert call.io.hangups == ["done"] and call.worker.dialogue.outcome == "contained"


def test_jobs_run_in_order_and_a_bad_job_does_not_end_the_call(call):
    import queue

    from voicebot.session.jobs import StopCall

    jobs: queue.Queue = queue.Queue()
    call.asr.script["auto"] = ["billing"]
    menu = call.control.listens[-1]
    jobs.put(FeedAudio(_speech(0.2)))  # no stream open yet: ignored
    jobs.put(StepFlow(object()))  # not an event the flow knows: logged, the call goes on
    jobs.put(_utterance(call, menu, _speech(1.0)))
    jobs.put(StopCall("hangup"))
    runner = threading.Thread(target=call.worker.run, args=(jobs,))
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive() and call.worker.turns[-1]["text"] == "billing"
    assert calls.get_call(call.db, call.worker.call_sid).ended_at is not None
