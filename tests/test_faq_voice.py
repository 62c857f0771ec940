"""FAQ answers on the voice channel (slow): an answer stored the way the console stores it is
spoken in a whole call through ``VoiceCallSession`` with the real pipeline (ASR, understander,
demo flow, espeak-ng) on ``RecordingCallIO``, without restarting anything. The caller's words are
espeak audio through the real VAD and endpointer, heard by a recogniser that returns the words
that were synthesised: what the real recognisers make of espeak audio depends on which pass
answers (seen: "where can i tolerate my car" under load), and this test is about the plumbing
(a voice turn reaches ``session.faq`` and the answer is spoken), not about recognition."""
from __future__ import annotations

import dataclasses

import pytest

from voicebot.actions import Say
from voicebot.asr.base import ASR, Recognition, RecognitionStream
from voicebot.session.call import SessionSettings, VoiceCallSession
from voicebot.session.timers import FrameClock
from voicebot.storage import faq
from voicebot.testing.memory_call import CallDriver, RecordingCallIO

ANSWER = "Yes, there is free parking behind every store."
QUESTION = "Where can I park my car?"


class HeardAs(ASR):
    """A recogniser that hears ``text`` in any speech it is given."""

    name = "scripted"
    decodes_at_finish = True

    def __init__(self, text: str):
        self.text = text

    def supports_grammar(self, grammar) -> bool:
        return True

    def stream(self, sample_rate=8000, grammar=None, hints=()) -> RecognitionStream:
        text = self.text

        class Stream(RecognitionStream):
            def accept(self, pcm):
                pass

            def finish(self, accept=None, passes="auto"):
                return Recognition(text, 0.9, backend="scripted")

        return Stream()


@pytest.mark.slow
def test_a_voice_caller_gets_the_faq_answer_and_the_same_question_again(real_pipeline):
    pipeline = dataclasses.replace(real_pipeline, asr=HeardAs(QUESTION))
    faq_id = faq.add_answer(real_pipeline.db, ["is there parking at the store", "where can I park"], ANSWER, "admin")
    clock = FrameClock()
    io = RecordingCallIO(clock)
    session = VoiceCallSession(pipeline, io, clock=clock, settings=SessionSettings())
    io.on_mark = session.on_mark
    drive = CallDriver(session, io, clock)
    session.start("+15550009999", {})
    try:
        assert drive.until_quiet(30.0)
        asked = session.prompts[-1]
        drive.say(real_pipeline.speak(Say(QUESTION)))
        assert drive.until(lambda: any(ANSWER in p for p in session.prompts), 40.0), (session.prompts, session.turns)
        said = next(p for p in session.prompts if ANSWER in p)
        assert said.startswith(ANSWER) and session.worker.dialogue.faq_match.faq_id == faq_id
        assert not session.worker.dialogue.state.ended and session.worker.dialogue.state.nomatch_count == 0
        node = session.worker.dialogue.flow.nodes[session.worker.dialogue.state.node]
        assert said == f"{ANSWER} {node.reprompt or node.prompt}"  # then the node's question again
        assert asked.startswith(node.prompt.split("?")[0])  # the node the caller was at
    finally:
        session.on_stop("hangup")
        faq.delete_answer(real_pipeline.db, faq_id)
