"""``voicebot transcribe FILE...``: offline transcription of WAV files.

Models load once for all files. A bad file prints a one-line error naming it and the run goes
on with the others; the exit status is 1 if any file failed.
"""
from __future__ import annotations

import json
import sys

import click

from voicebot.errors import VoicebotError


@click.command("transcribe")
@click.argument("files", nargs=-1, required=True)
@click.option("--backend", type=click.Choice(["auto", "vosk", "whisper", "moonshine", "cascade", "pocketsphinx"]), default=None, help="Recogniser (default: VOICEBOT_ASR_BACKEND or auto).")
@click.option("--grammar", "grammar_spec", default=None, metavar="digits|yesno|FILE.jsgf", help="Constrain recognition to a grammar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
def transcribe(files, backend, grammar_spec, as_json):
    """Transcribe WAV FILES (any supported rate; audio is converted to 8 kHz telephone band
    unless it already is 8 or 16 kHz)."""
    import time

    from voicebot.asr import grammar as grammars
    from voicebot.asr.registry import load_asr
    from voicebot.audio.wavfile import read_wav
    from voicebot.config import load_settings

    settings = load_settings()
    name = backend or settings.asr_backend
    grammar = grammars.load(grammar_spec) if grammar_spec else None
    asr = load_asr(name, settings)
    failed = 0
    for path in files:
        try:
            audio = read_wav(path)
            if audio.sample_rate not in (8000, 16000):
                audio = audio.at_rate(16000)
            start = time.perf_counter()
            result = asr.transcribe(audio.pcm, audio.sample_rate, grammar)
            decode_s = time.perf_counter() - start
        except VoicebotError as exc:
            failed += 1
            message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            click.echo(f"error: {message}", err=True)
            continue
        used = result.backend or name
        if as_json:
            click.echo(json.dumps({"file": path, "text": result.text, "confidence": result.confidence, "backend": used, "audio_s": round(audio.duration_s, 3), "decode_s": round(decode_s, 3)}, ensure_ascii=False))
        else:
            click.echo(f"{path}\t{result.text}\t(confidence {result.confidence:.2f}, {used}, {decode_s:.2f}s for {audio.duration_s:.2f}s)")
    if failed:
        sys.exit(1)
