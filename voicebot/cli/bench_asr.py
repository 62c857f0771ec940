"""``voicebot bench asr --manifest FILE.csv``: recognisers scored on your own recordings.

A call center checks the recogniser on its own callers before going live: a CSV manifest
(``path,transcript``; paths relative to the CSV) of recordings, each decoded once per backend
as the bot would hear it (8 kHz). Reported per backend: WER, digit-string accuracy (rows whose
transcript is only digits) and decode time p50/p95 (wall clock on this machine: other load
makes it noisy, run it twice).
"""
from __future__ import annotations

import json

import click


@click.command("asr")
@click.option("--manifest", required=True, type=click.Path(dir_okay=False), help="CSV with the columns path,transcript.")
@click.option("--backends", default="cascade,whisper,moonshine", show_default=True,
              help="Comma-separated recognisers (auto, cascade, whisper, moonshine, pocketsphinx, vosk:PATH).")
@click.option("--misses", "show_misses", is_flag=True, help="Also list every file that was not recognised exactly.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per backend.")
def asr(manifest, backends, show_misses, as_json):
    """WER, digit-string accuracy and decode latency per backend on MANIFEST's recordings."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from voicebot.asr.evaluation import evaluate, read_manifest
    from voicebot.asr.registry import load_asr

    samples = read_manifest(manifest)
    names = [b.strip() for b in backends.split(",") if b.strip()]
    if not names:
        raise click.UsageError("--backends names no recogniser")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    for name in names:
        recogniser = load_asr(name)
        with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:  # stdout stays the report
            task = progress.add_task(f"{name}: decoding", total=len(samples))
            report = evaluate(recogniser, samples, lambda: progress.advance(task))
        report["backend"] = name
        if not show_misses:
            report["misses"] = len(report["misses"])
        click.echo(json.dumps(report, ensure_ascii=False) if as_json else format_report(report))


def format_report(r: dict) -> str:
    """One backend's figures as a few readable lines."""
    wer = "-" if r["wer"] is None else f"{r['wer']:.3f}"
    digits = f"{r['digit_accuracy']:.1%} of {r['digit_strings']}" if r["digit_strings"] else "no digit-string rows"
    lines = [f"{r['backend']}: WER {wer} on {r['files']} files; digit strings {digits}; "
             f"decode p50 {r['decode_p50_s']:.2f} s, p95 {r['decode_p95_s']:.2f} s"]
    if isinstance(r["misses"], list):
        lines += [f"  {m['file']}: said {m['said']!r}, heard {m['heard']!r}" for m in r["misses"]]
    return "\n".join(lines)
