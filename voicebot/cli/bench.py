"""``voicebot bench``: benchmarks a buyer would run. ``calls``: concurrent simulated phone calls
over the real Twilio path (``voicebot.testing.load``); ``asr``: recognisers on your own
recordings (``voicebot.cli.bench_asr``)."""
from __future__ import annotations

import json

import click


@click.group("bench")
def bench():
    """Benchmarks: latency, accuracy, throughput."""


@bench.command("calls")
@click.option("--concurrency", "-c", default=1, show_default=True, type=click.IntRange(1, 64), help="Calls in progress at once.")
@click.option("--calls", "-n", "total", default=None, type=click.IntRange(1, 1000), help="Calls to place (default: --concurrency).")
@click.option("--stagger", "stagger_s", default=0.3, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between call starts (callers do not all dial in the same millisecond; 0: all at once).")
@click.option("--script", type=click.Choice(["natural", "demo"]), default="natural", show_default=True,
              help="natural: callers say recorded sentences, an order number, and talk over prompts; demo: the short keys-first script.")
@click.option("--vad", type=click.Choice(["silero", "webrtc", "gated"]), default=None, help="In-process server: the VAD engine of the sessions.")
@click.option("--end-silence", type=click.FloatRange(0.2, 3.0), default=None, help="In-process server: end-of-turn silence (s) instead of each prompt's own.")
@click.option("--speculate-after", type=click.FloatRange(0.05, 2.0), default=None,
              help="In-process server: pause (s) before the early decode (default: SessionSettings').")
@click.option("--url", default="", help="A running voicebot server (default: an in-process one with the real models).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every number.")
def calls(concurrency, total, stagger_s, script, vad, end_silence, speculate_after, url, as_json):
    """Turn latency p50/p95 (per stage), barge-in reaction, CPU and memory under N concurrent calls."""
    if url and (vad or end_silence or speculate_after):
        raise click.UsageError("--vad, --end-silence and --speculate-after tune the in-process server; a running server uses its own settings")
    tuning = {k: v for k, v in (("vad_engine", vad), ("end_silence_s", end_silence), ("speculate_after_s", speculate_after)) if v is not None}
    from voicebot.testing.load import run_calls

    result = run_calls(concurrency, total or concurrency, url, stagger_s, tuning, script)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(format_report(result))


def format_report(r: dict) -> str:
    lat = r["turn_latency_ms"]
    lines = [
        f"{r['calls_ok']}/{r['calls']} {r.get('script')} calls, {r['concurrency']} concurrent (starts {r.get('stagger_s')} s apart), "
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
    lines.append(f"turns without a reply: {r['turns_without_reply']}; holding phrases said: {r.get('holding_phrases', '-')}")
    if r.get("speech_turns_ended_early"):
        early, spoken = r["speech_turns_ended_early"]
        lines.append(f"speech turns ended early (complete answer before the full silence): {early}/{spoken}")
    if r.get("first_error"):
        lines.append(f"{r['calls'] - r['calls_ok']} calls failed, e.g.: {r['first_error']}")
    if r["cpu_percent_of_one_core"] is not None:
        lines.append(f"CPU (server and recogniser workers): {r['cpu_percent_of_one_core']}% of one core, {r['cpu_s_per_call']} s per call; "
                     f"memory {r['rss_mb']} MB ({r['rss_mb_per_call']} MB per concurrent call)")
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:>7.0f}" if value is not None else "      -"


from voicebot.cli.bench_asr import asr as _asr  # noqa: E402  (`voicebot bench asr`, its own module)

bench.add_command(_asr)
