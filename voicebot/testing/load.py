"""Concurrent simulated phone calls over the real Twilio path (``voicebot bench calls``).

Each call is the simulated Twilio (``voicebot.testing.twilio_sim``) against the web app: signed
webhook, Media Streams WebSocket, caller audio paced in real time. Two caller scripts:

- ``natural`` (the default): callers who talk like people. Each says a recorded sentence (read
  speech, 2-10 s) at the open main menu, keys 1, says an order number (a recorded person),
  talks over "Anything else?" with another recorded sentence, then keys 2. Sentences rotate
  per call, so concurrent callers do not say the same thing at the same moment.
- ``demo``: the demo's short script of keys, one order number and one barge-in.

Reported: turn latency p50/p95 (last caller frame sent -> first bot frame received, as DESIGN.md
defines it), the server's per-stage breakdown from the ``turns`` table (endpoint wait, ASR, NLU,
flow, TTS), barge-in reaction (speech/key onset -> ``clear`` received), turns never answered,
holding phrases, and CPU seconds and memory per call (the server process and its recogniser workers).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from voicebot.config import PROJECT_ROOT
from voicebot.errors import ConfigError, TelephonyError

FIXTURES = PROJECT_ROOT / "audio_fixtures"
CALLER = "+15550001111"  # seeded demo customer who owns order 4172
# (kind, value, interrupt): the menu is interrupted by a key, the order number is spoken
# (FSDD human digits), "Anything else?" is interrupted by read speech (LJ Speech recording).
DEMO_SCRIPT = (
    ("keys", "1", True),
    ("speech", "order_4172.wav", False),
    ("speech", "read_LJ001-0012_8k_mulaw.wav", True),
    ("keys", "2", False),
)
STAGES = ("endpoint", "asr", "nlu", "flow", "tts", "total")


def demo_script(_index: int) -> list:
    from voicebot.testing.twilio_sim import Keys, Speech

    return [Speech.from_wav(FIXTURES / v, interrupt=i) if k == "speech" else Keys(v, interrupt=i) for k, v, i in DEMO_SCRIPT]


def natural_script(sentences: list, order_number) -> "callable":
    """Caller ``index``'s turns: a sentence at the main menu, key 1, the order number, a sentence
    over "Anything else?", key 2 (see the module docstring)."""
    from voicebot.testing.twilio_sim import Keys, Speech

    def script(index: int) -> list:
        first, second = sentences[(2 * index) % len(sentences)], sentences[(2 * index + 1) % len(sentences)]
        return [first, Keys("1"), order_number, Speech(second.pcm, second.label, interrupt=True), Keys("2")]

    return script


def load_natural_script():
    """The natural callers' recordings: read speech from the shared datasets (``ConfigError``
    naming the folder when they are not on this machine)."""
    import csv

    from voicebot.testing.datasets import shared_datasets_dir
    from voicebot.testing.twilio_sim import Speech

    folder = shared_datasets_dir() / "read_speech_en"
    if not (folder / "manifest.csv").is_file():
        raise ConfigError(f"the natural callers' recordings are not here: {folder} (set VOICEBOT_DATASETS, or use --script demo)")
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["path"])
    sentences = []
    for row in rows:
        speech = Speech.from_wav(folder / row["path"])
        sentences.append(Speech(_telephone(speech.pcm), speech.label))
    return natural_script(sentences, Speech.from_wav(FIXTURES / "order_4172.wav"))


def _telephone(pcm: np.ndarray) -> np.ndarray:
    """8 kHz int16 through G.711 mu-law, as a phone line delivers it."""
    from voicebot.audio.codecs import ulaw_decode, ulaw_encode

    return ulaw_decode(ulaw_encode(pcm))


def run_calls(concurrency: int, total: int, url: str = "", stagger_s: float = 0.3, tuning: dict | None = None,
              script: str = "natural", rest_standin=None) -> dict:
    """Place ``total`` calls of ``script`` ("natural" or "demo"), ``concurrency`` at a time,
    starting ``stagger_s`` apart; return the measurements. ``tuning``: ``SessionSettings``
    fields for the in-process server; ``rest_standin``: the Twilio REST stand-in a running
    server at ``url`` talks to (so transfers and hang-ups are seen)."""
    from voicebot.config import load_settings
    from voicebot.testing.twilio_sim import TwilioSimulator

    settings = load_settings()
    turns_of = load_natural_script() if script == "natural" else demo_script
    server = _InProcess(settings, tuning or {}) if not url else None
    base_url = url or server.url
    try:
        sim = TwilioSimulator(base_url, auth_token=settings.twilio_auth_token, account_sid=settings.twilio_account_sid,
                              rest_standin=server.standin if server else rest_standin, reply_timeout_s=20.0)
        usage = _Usage(server.worker_pids() if server else [])
        wall0 = time.monotonic()
        with ThreadPoolExecutor(concurrency, thread_name_prefix="bench-call") as pool:
            scripts = [turns_of(i) for i in range(total)]
            results = list(pool.map(lambda i: _one_call(sim, scripts[i], wall0 + i * stagger_s), range(total)))
        wall_s = time.monotonic() - wall0
        cpu_s, rss_mb = usage.done()
        failures = [r for r in results if isinstance(r, Exception)]
        if len(failures) == len(results):
            raise TelephonyError(f"no call completed: {failures[0]}")
        results = [None if isinstance(r, Exception) else r for r in results]
        first_error = str(failures[0]) if failures else ""
        recorded = server_side(results)
    finally:
        if server:
            server.stop()
    summary = summarize(results, scripts, recorded["stages"], concurrency, total, cpu_s if server else None, rss_mb if server else None, wall_s, base_url)
    summary["first_error"] = first_error
    summary["speech_turns_ended_early"] = recorded["ended_early"]
    summary["speech_turns"] = recorded["speech_turns"]
    summary["holding_phrases"] = recorded["holding_phrases"]
    summary["stagger_s"] = stagger_s
    summary["script"] = script
    summary["session_tuning"] = tuning or {}
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews results
    return summary


def _one_call(sim, turns, start_at: float):
    time.sleep(max(0.0, start_at - time.monotonic()))
    try:
        return sim.call(turns, caller=CALLER)
    except TelephonyError as exc:
        return exc


class _InProcess:
    """The real app (models loaded once) on a local port, with a Twilio REST stand-in."""

    def __init__(self, settings, tuning: dict):
        from voicebot.session.call import VoiceCallSession
        from voicebot.session.settings import SessionSettings
        from voicebot.session.pipeline import build_pipeline
        from voicebot.storage.seed import seed_demo
        from voicebot.testing.live_server import LiveServer
        from voicebot.testing.rest_standin import RestStandin
        from voicebot.web.app import create_app

        self.standin = RestStandin(settings.twilio_account_sid, settings.twilio_auth_token)
        settings = settings.model_copy(update={"twilio_api_base_url": self.standin.url, "public_url": ""})
        self.pipeline = build_pipeline(settings)
        seed_demo(self.pipeline.db)
        session_settings = SessionSettings(**tuning)

        def session_factory(call_sid, io, state):
            return VoiceCallSession(state.pipeline, io, call_sid=call_sid, settings=session_settings)

        self.server = LiveServer(create_app(settings, self.pipeline, session_factory=session_factory))
        self.url = self.server.url

    def worker_pids(self) -> list[int]:
        """Process ids of the recogniser workers this server decodes in (none when in-process)."""
        from voicebot.session.recognition import backend_for, grammar_for

        backends = {id(b): b for b in (backend_for(self.pipeline.asr, grammar_for(g)) for g in (None, "digits", "yesno"))}
        return sorted({pid for b in backends.values() for pid in getattr(b, "worker_pids", [])})

    def stop(self) -> None:
        self.server.stop()
        self.standin.stop()


def server_side(results) -> dict:
    """What the server recorded of each caller turn (its transcript, read by the simulator from
    ``/agent/calls/<sid>``, in-process or a running server alike): per-stage seconds, speech turns
    ended early, holding phrases said."""
    from voicebot.session.settings import SessionSettings

    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    speech_turns, holding = [], 0
    for result in (r for r in results if r is not None):
        for line in result.transcript:
            if line.get("speaker") == "bot":
                holding += line.get("text") == SessionSettings().holding_phrase
                continue
            details = line.get("details") or {}
            for stage, seconds in (details.get("stages") or {}).items():
                if stage in stages:
                    stages[stage].append(float(seconds))
            if "endpoint" in (details.get("stages") or {}):
                speech_turns.append({"text": line.get("text"), **{k: details.get(k) for k in ("stages", "speculative", "ended_early", "backend")}})
    return {"stages": stages if any(stages.values()) else {}, "speech_turns": speech_turns, "holding_phrases": holding,
            "ended_early": [sum(bool(t["ended_early"]) for t in speech_turns), len(speech_turns)]}


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; None for no values."""
    return float(np.percentile(values, q)) if values else None


class _Usage:
    """CPU seconds and peak memory of this process and the recogniser workers over a run (psutil)."""

    def __init__(self, pids: list[int]):
        import psutil

        self.processes = [psutil.Process()] + [psutil.Process(p) for p in pids]
        self.start = [self._cpu(p) for p in self.processes]

    @staticmethod
    def _cpu(process) -> float:
        t = process.cpu_times()
        return t.user + t.system

    def done(self) -> tuple[float, float]:
        """(CPU seconds used since start, resident memory now in MB), all processes together."""
        cpu = sum(self._cpu(p) - s for p, s in zip(self.processes, self.start))
        return cpu, sum(p.memory_info().rss for p in self.processes) / 2**20


def summarize(results, scripts, stages, concurrency, total, cpu_s, rss_mb, wall_s, url) -> dict:
    ok = [r for r in results if r is not None]
    speech = [t.latency_ms for r in ok for t in r.turns if t.kind == "speech" and t.latency_ms is not None]
    keys = [t.latency_ms for r in ok for t in r.turns if t.kind == "keys" and t.latency_ms is not None]
    clears = [t.clear_ms for r in ok for t in r.turns if t.clear_ms is not None]
    missing = sum(1 for r in ok for t in r.turns if t.latency_ms is None)
    interrupts = sum(1 for script, r in zip(scripts, results) if r is not None
                     for turn, t in zip(script, r.turns) if turn.interrupt and t.clear_ms is None)

    def stats(values):
        return {"n": len(values), "p50": _round(percentile(values, 50)), "p95": _round(percentile(values, 95))}

    return {
        "concurrency": concurrency,
        "calls": total,
        "calls_ok": len(ok),
        "url": url,
        "turn_latency_ms": {"speech": stats(speech), "keys": stats(keys), "all": stats(speech + keys)},
        "turns_without_reply": missing,
        "barge_in_clear_ms": stats(clears),
        "barge_ins_without_clear": interrupts,
        "stages_ms": {stage: stats([1000 * v for v in values]) for stage, values in stages.items()},
        "cpu_percent_of_one_core": _round(100 * cpu_s / wall_s) if cpu_s is not None else None,
        "cpu_s_per_call": _round(cpu_s / max(1, len(ok))) if cpu_s is not None else None,
        "rss_mb": _round(rss_mb),
        "rss_mb_per_call": _round(rss_mb / max(1, concurrency)) if rss_mb is not None else None,
        "wall_s": _round(wall_s),
    }


def _round(value):
    return None if value is None else round(value, 1)
