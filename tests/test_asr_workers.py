"""ProcessPoolASR: real worker processes running the real Moonshine model on recorded speech."""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from voicebot.asr import grammar as grammars
from voicebot.asr.base import RecogniserSaturatedError, RecognitionTimeoutError
from voicebot.asr.registry import load_asr
from voicebot.asr.workers import ProcessPoolASR
from voicebot.audio.wavfile import read_wav
from voicebot.errors import ASRError

FIXTURES = Path(__file__).resolve().parent.parent / "audio_fixtures"
ORDER = read_wav(FIXTURES / "order_4172.wav").pcm
SENTENCE = read_wav(FIXTURES / "read_LJ001-0001_8k_mulaw.wav").pcm


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def wait_for(condition, what: str, limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def pool():
    pool = ProcessPoolASR("moonshine", workers=2, max_waiting=4, timeout_s=60)
    yield pool
    pool.close()


def test_pool_decodes_like_the_backend_in_two_processes(pool):
    assert len(pool.worker_pids) == 2 and os.getpid() not in pool.worker_pids
    local = load_asr("moonshine")
    for grammar in (None, grammars.digits()):
        remote = pool.transcribe(ORDER, 8000, grammar)
        assert (remote.text, remote.confidence, remote.backend) == (local.transcribe(ORDER, 8000, grammar).text, local.transcribe(ORDER, 8000, grammar).confidence, "moonshine")
    results = []
    threads = [threading.Thread(target=lambda: results.append(pool.transcribe(ORDER, 8000, grammars.digits()).text)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == ["four one seven two"] * 4


def test_the_answer_test_runs_in_the_calling_process(pool):
    asked = []

    def four_digits(text: str) -> bool:
        asked.append((os.getpid(), text))
        return len(re.findall(r"\w+", text)) == 4

    stream = pool.stream(8000, grammars.digits())
    stream.accept(ORDER)
    assert stream.finish(accept=four_digits).text == "four one seven two"
    assert pool.decodes_at_finish and pool.supports_grammar(grammars.yesno()) and not pool.supports_grammar(grammars.from_jsgf("#JSGF V1.0;\ngrammar g;\npublic <a> = yes;\n"))


def test_a_decode_past_its_deadline_kills_and_replaces_the_worker():
    pool = ProcessPoolASR("moonshine", workers=1, timeout_s=0.001)  # no real decode returns within 1 ms
    try:
        before, timeouts = pool.worker_pids, metric("voicebot_asr_timeouts_total")
        with pytest.raises(RecognitionTimeoutError, match="restarted"):
            pool.transcribe(SENTENCE, 8000)
        assert metric("voicebot_asr_timeouts_total") == timeouts + 1
        wait_for(lambda: pool.worker_pids and pool.worker_pids != before and not pool._idle.empty(), "a replacement worker")
        pool.timeout_s = 60
        assert pool.transcribe(ORDER, 8000, grammars.digits()).text == "four one seven two"
    finally:
        pool.close()


def test_a_full_queue_refuses_at_once_with_a_clear_error():
    pool = ProcessPoolASR("moonshine", workers=1, max_waiting=0, timeout_s=120, queue_timeout_s=60)
    try:
        long = np.concatenate([SENTENCE] * 3)
        assert not pool.busy  # its worker is idle: an early (speculative) decode may run
        busy = threading.Thread(target=pool.transcribe, args=(long, 8000))
        busy.start()
        wait_for(lambda: pool._idle.empty(), "the long decode to take the only worker")
        assert pool.busy  # the session skips speculative decodes now
        rejected = metric("voicebot_asr_rejected_total")
        with pytest.raises(RecogniserSaturatedError, match="recogniser saturated"):
            pool.transcribe(ORDER, 8000)
        assert metric("voicebot_asr_rejected_total") == rejected + 1
        busy.join(timeout=120)
        assert not pool.busy
        assert pool.transcribe(ORDER, 8000, grammars.digits()).text == "four one seven two"  # served again once free
    finally:
        pool.close()


def test_a_worker_that_dies_mid_decode_is_reported_and_replaced():
    pool = ProcessPoolASR("moonshine", workers=1, timeout_s=120)
    try:
        victim = pool.worker_pids[0]
        killer = threading.Timer(0.3, os.kill, (victim, signal.SIGKILL))
        killer.start()
        with pytest.raises(ASRError, match="worker died"):
            pool.transcribe(np.concatenate([SENTENCE] * 6), 8000)
        wait_for(lambda: pool.worker_pids and victim not in pool.worker_pids and not pool._idle.empty(), "a replacement worker")
        assert pool.transcribe(ORDER, 8000, grammars.digits()).text == "four one seven two"
    finally:
        pool.close()


def test_a_backend_that_cannot_load_fails_the_pool_clearly():
    with pytest.raises(ASRError, match="unknown ASR backend 'nope'"):
        ProcessPoolASR("nope", workers=1)


def test_workers_run_below_the_server_priority_when_asked():
    """``VOICEBOT_ASR_WORKER_NICE``: decoding yields the CPU to the serving process's frames and keys."""
    pool = ProcessPoolASR("moonshine", workers=1, nice=7)
    try:
        [pid] = pool.worker_pids
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0) + 7
        assert pool.transcribe(ORDER, 8000).text  # and it still decodes
    finally:
        pool.close()
