"""``voicebot bench calls``: concurrent simulated phone calls over the real Twilio path.

Each call is the simulated Twilio (``voicebot.testing.twilio_sim``) against the web app: signed
webhook, Media Streams WebSocket, caller audio paced in real time. Every call plays the same
script of recorded human speech and keys (see ``SCRIPT``), including two barge-ins. Reported:
turn latency p50/p95 (last caller frame sent -> first bot frame received, as DESIGN.md defines
it), the server's per-stage breakdown from the ``turns`` table (endpoint wait, ASR, NLU, flow,
TTS), barge-in reaction (speech/key onset -> ``clear`` received), CPU and memory.
"""
from __future__ import annotations

import json
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor

import click
import numpy as np

from voicebot.config import PROJECT_ROOT
from voicebot.errors import TelephonyError

FIXTURES = PROJECT_ROOT / "audio_fixtures"
CALLER = "+15550001111"  # seeded demo customer who owns order 4172
# (kind, value, interrupt): the menu is interrupted by a key, the order number is spoken
# (FSDD human digits), "Anything else?" is interrupted by read speech (LJ Speech recording).
SCRIPT = (
    ("keys", "1", True),
    ("speech", "order_4172.wav", False),
    ("speech", "read_LJ001-0012_8k_mulaw.wav", True),
    ("keys", "2", False),
)
INTERRUPTING = {(v if k == "speech" else f"dtmf {v}") for k, v, i in SCRIPT if i}  # simulator turn labels
STAGES = ("endpoint", "asr", "nlu", "flow", "tts", "total")


@click.group("bench")
def bench():
    """Benchmarks: latency, accuracy, throughput."""


@bench.command("calls")
@click.option("--concurrency", "-c", default=1, show_default=True, type=click.IntRange(1, 64), help="Calls in progress at once.")
@click.option("--calls", "-n", "total", default=None, type=click.IntRange(1, 1000), help="Calls to place (default: --concurrency).")
@click.option("--stagger", "stagger_s", default=1.5, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between call starts (callers do not all dial in the same millisecond; 0: all at once).")
@click.option("--vad", type=click.Choice(["silero", "webrtc"]), default=None, help="In-process server: the VAD engine of the sessions.")
@click.option("--end-silence", type=click.FloatRange(0.2, 3.0), default=None, help="In-process server: end-of-turn silence (s) instead of each prompt's own.")
@click.option("--speculate-after", type=click.FloatRange(0.05, 2.0), default=None,
              help="In-process server: pause (s) before the early decode (default: SessionSettings').")
@click.option("--url", default="", help="A running voicebot server (default: an in-process one with the real models).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every number.")
def calls(concurrency, total, stagger_s, vad, end_silence, speculate_after, url, as_json):
    """Turn latency p50/p95 (per stage), barge-in reaction, CPU and memory under N concurrent calls."""
    if url and (vad or end_silence or speculate_after):
        raise click.UsageError("--vad, --end-silence and --speculate-after tune the in-process server; a running server uses its own settings")
    tuning = {k: v for k, v in (("vad_engine", vad), ("end_silence_s", end_silence), ("speculate_after_s", speculate_after)) if v is not None}
    result = run_calls(concurrency, total or concurrency, url, stagger_s, tuning)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(format_report(result))


def run_calls(concurrency: int, total: int, url: str = "", stagger_s: float = 1.5, tuning: dict | None = None) -> dict:
    """Place ``total`` scripted calls, ``concurrency`` at a time, starting ``stagger_s`` apart;
    return the measurements. ``tuning``: ``SessionSettings`` fields for the in-process server."""
    from voicebot.config import load_settings
    from voicebot.testing.twilio_sim import Keys, Speech, TwilioSimulator

    settings = load_settings()
    turns = [Speech.from_wav(FIXTURES / v, interrupt=i) if k == "speech" else Keys(v, interrupt=i) for k, v, i in SCRIPT]
    server = _InProcess(settings, tuning or {}) if not url else None
    base_url = url or server.url
    try:
        sim = TwilioSimulator(base_url, auth_token=settings.twilio_auth_token, account_sid=settings.twilio_account_sid,
                              rest_standin=server.standin if server else None, reply_timeout_s=20.0)
        cpu0, wall0 = time.process_time(), time.monotonic()
        with ThreadPoolExecutor(concurrency, thread_name_prefix="bench-call") as pool:
            results = list(pool.map(lambda i: _one_call(sim, turns, wall0 + i * stagger_s), range(total)))
        cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
        failures = [r for r in results if isinstance(r, Exception)]
        if len(failures) == len(results):
            raise TelephonyError(f"no call completed: {failures[0]}")
        results = [None if isinstance(r, Exception) else r for r in results]
        first_error = str(failures[0]) if failures else ""
        stages = server.stages([r.call_sid for r in results if r is not None]) if server else {}
    finally:
        if server:
            server.stop()
    summary = summarize(results, stages, concurrency, total, cpu_s if server else None, wall_s, base_url)
    summary["first_error"] = first_error
    if server:
        summary["speech_turns_ended_early"] = [server.ended_early, server.spoken_turns]
        summary["speech_turns"] = server.speech_turns
    summary["stagger_s"] = stagger_s
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

    def stages(self, call_sids: list[str]) -> dict[str, list[float]]:
        """Per-stage seconds of every caller turn of these calls, from the ``turns`` table."""
        from sqlalchemy import select

        from voicebot.storage.tables import Call, Turn

        out: dict[str, list[float]] = {stage: [] for stage in STAGES}
        self.ended_early = self.spoken_turns = 0  # speech turns ended by a complete early decode / all
        self.speech_turns: list[dict] = []  # what each speech turn heard and how its time was spent
        with self.pipeline.db.session() as s:
            rows = s.scalars(select(Turn).join(Call).where(Call.call_sid.in_(call_sids), Turn.speaker == "caller")).all()
            for row in rows:
                details = row.details or {}
                for stage, seconds in (details.get("stages") or {}).items():
                    if stage in out:
                        out[stage].append(float(seconds))
                if "endpoint" in (details.get("stages") or {}):
                    self.spoken_turns += 1
                    self.ended_early += bool(details.get("ended_early"))
                    self.speech_turns.append({"text": row.text, **{k: details.get(k) for k in ("stages", "speculative", "ended_early", "backend")}})
        return out

    def stop(self) -> None:
        self.server.stop()
        self.standin.stop()


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; None for no values."""
    return float(np.percentile(values, q)) if values else None


def summarize(results, stages, concurrency, total, cpu_s, wall_s, url) -> dict:
    ok = [r for r in results if r is not None]
    speech = [t.latency_ms for r in ok for t in r.turns if t.kind == "speech" and t.latency_ms is not None]
    keys = [t.latency_ms for r in ok for t in r.turns if t.kind == "keys" and t.latency_ms is not None]
    clears = [t.clear_ms for r in ok for t in r.turns if t.clear_ms is not None]
    missing = sum(1 for r in ok for t in r.turns if t.latency_ms is None)
    interrupts = sum(1 for r in ok for t in r.turns if t.label in INTERRUPTING and t.clear_ms is None)

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
        "max_rss_mb": _round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "wall_s": _round(wall_s),
    }


def _round(value):
    return None if value is None else round(value, 1)


def format_report(r: dict) -> str:
    lat = r["turn_latency_ms"]
    lines = [
        f"{r['calls_ok']}/{r['calls']} calls, {r['concurrency']} concurrent (starts {r.get('stagger_s')} s apart), "
        f"{r['wall_s']} s, server {r['url']}, session tuning {r.get('session_tuning') or 'default'}, "
        f"machine load average {r.get('load_average')}",
        "turn latency (ms)        n     p50     p95",
    ]
    for name in ("speech", "keys", "all"):
        s = lat[name]
        lines.append(f"  {name:<20} {s['n']:>4} {_fmt(s['p50'])} {_fmt(s['p95'])}")
    if r["stages_ms"]:
        lines.append("speech turn stages (ms, server side)")
        for stage, s in r["stages_ms"].items():
            lines.append(f"  {stage:<20} {s['n']:>4} {_fmt(s['p50'])} {_fmt(s['p95'])}")
    c = r["barge_in_clear_ms"]
    lines.append(f"barge-in onset->clear    {c['n']:>4} {_fmt(c['p50'])} {_fmt(c['p95'])}   (missed: {r['barge_ins_without_clear']})")
    lines.append(f"turns without a reply: {r['turns_without_reply']}")
    if r.get("speech_turns_ended_early"):
        early, spoken = r["speech_turns_ended_early"]
        lines.append(f"speech turns ended early (complete answer before the full silence): {early}/{spoken}")
    if r.get("first_error"):
        lines.append(f"{r['calls'] - r['calls_ok']} calls failed, e.g.: {r['first_error']}")
    if r["cpu_percent_of_one_core"] is not None:
        lines.append(f"process CPU: {r['cpu_percent_of_one_core']}% of one core; max RSS {r['max_rss_mb']} MB")
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:>7.0f}" if value is not None else "      -"


from voicebot.cli.bench_asr import asr as _asr  # noqa: E402  (`voicebot bench asr`, its own module)

bench.add_command(_asr)
