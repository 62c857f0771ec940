"""Recognition evidence on recordings never used for a choice: FSDD takes 20-49 (the report split
of ``benchmarks/asr_sets.py``; every routing rule and threshold was chosen on takes 5-19), through
the default recogniser (the cascade in its worker processes), at 8 kHz mu-law as a phone delivers it.

A subset keeps the run short: isolated digits of takes 20, 25, ... 45 of both speakers (120
clips), and the first 20 four-digit strings per speaker of the report set. The thresholds are the
measured held-out level less a few utterances (decodes are not bit-identical across processes),
not the targets: the targets (98 % digits, 97 % strings) are missed, on nicolas above all
(docs/asr.md, "Report"). Measured on this subset: digits 93.3 % (jackson 95.0, nicolas 91.7),
strings jackson 17/20, nicolas 11/20. A change that makes hearing worse fails here.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from voicebot.testing.datasets import shared_datasets_dir  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (shared_datasets_dir() / "fsdd_digits").exists(),
                                                   reason="needs the shared FSDD dataset")]


@pytest.fixture(scope="module")
def recognise():
    from voicebot.actions import Listen
    from voicebot.asr.workers import ProcessPoolASR
    from voicebot.errors import VoicebotError
    from voicebot.flows.slots import spoken_digits
    from voicebot.session.recognition import recognize

    # The default route (the cascade in 2 worker processes) with a deadline no busy machine
    # reaches: this measures hearing; deadlines and back-pressure are tests/test_asr_workers.py's.
    asr = ProcessPoolASR("cascade", workers=2, timeout_s=300.0, queue_timeout_s=300.0)

    def digits_heard(pcm, listen: Listen) -> str:
        try:
            return spoken_digits(recognize(asr, pcm, listen).text)
        except VoicebotError:  # an engine error counts as a miss
            return ""

    yield digits_heard
    asr.close()


def test_isolated_digits_of_unseen_takes(recognise):
    import asr_sets as sets

    from voicebot.actions import Listen

    survey = Listen(grammar="digits", max_digits=1, complete_when="digits")  # a 1-5 score, as the demo's survey asks
    items = sets.fsdd(sets.SPEAKERS, range(20, 50, 5))
    assert len(items) == 120
    right = {speaker: 0 for speaker in sets.SPEAKERS}
    for item in items:
        right[item.name.split("_")[1]] += recognise(item.pcm, survey) == item.transcript
    assert sum(right.values()) >= 108, right  # 90 % (measured 112 of 120)
    assert right["jackson"] >= 55 and right["nicolas"] >= 52, right


def test_four_digit_order_numbers_of_unseen_takes(recognise):
    import asr_sets as sets

    from voicebot.actions import Listen

    order = Listen(grammar=None, max_digits=4, complete_when="digits")  # as the demo's order question asks
    right = {}
    for speaker in sets.SPEAKERS:
        seed = 11 + (speaker == "nicolas")  # the report set's seeds (benchmarks/asr_accuracy.py)
        items = sets.digit_strings((speaker,), sets.REPORT_TAKES, 20, seed)
        right[speaker] = sum(recognise(item.pcm, order) == item.transcript for item in items)
    assert right["jackson"] >= 15 and right["nicolas"] >= 9, right  # measured 17 and 11 of 20
