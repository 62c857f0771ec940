"""``voicebot analyze``: transcript, intent, entities, emotion and frustration of audio or text.

Models load once per run, however many inputs. Intents come from ``--model DIR`` (from
``voicebot nlu train``) or else from the example phrases of ``--flow`` (default: the configured
flow). Each input is judged on its own unless ``--as-call`` makes them successive turns of one
call (frustration then accumulates, and the voice is compared with the caller's earlier turns).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click


def load_understander(model_dir: str | None, flow_path: str | None, with_voice: bool):
    """An Understander from a trained model directory, else from the flow's intent examples."""
    from voicebot.nlu.understander import Understander

    acoustic = None
    if with_voice:
        from voicebot.nlu.emotion.acoustic import AcousticAnalyzer

        acoustic = AcousticAnalyzer(warm=True)
    if model_dir:
        return Understander.load(model_dir, acoustic=acoustic)
    from voicebot.config import load_settings
    from voicebot.flows.loader import load_flow

    flow = load_flow(flow_path or load_settings().flow_path)
    return Understander.from_examples(flow.intents, acoustic=acoustic)


def _record(source: str, understanding, voice=None, no_speech: bool = False) -> dict:
    u = understanding
    record = {"input": source, "transcript": u.text, "intent": u.intent, "confidence": u.confidence,
              "entities": [asdict(e) for e in u.entities], "emotion": u.emotion,
              "emotion_scores": u.emotion_scores, "frustration": u.frustration}
    if no_speech:
        record["no_speech"] = True
    if voice is not None:
        record["voice"] = {"arousal": None if voice.arousal is None else round(voice.arousal, 3), "note": voice.reason}
    return record


def _print_human(record: dict) -> None:
    entities = ", ".join(f"{e['kind']}={e['value']}" for e in record["entities"]) or "-"
    click.echo(f"{record['input']}")
    click.echo(f"  transcript  {record['transcript']!r}" + ("  (no speech)" if record.get("no_speech") else ""))
    click.echo(f"  intent      {record['intent']} ({record['confidence']:.2f})")
    click.echo(f"  entities    {entities}")
    top = sorted(record["emotion_scores"].items(), key=lambda kv: -kv[1])[:3]
    click.echo(f"  emotion     {record['emotion']}  [" + ", ".join(f"{k} {v:.2f}" for k, v in top) + "]")
    if "voice" in record:
        click.echo(f"  voice       arousal {record['voice']['arousal']}" + (f" ({record['voice']['note']})" if record['voice']['note'] else ""))
    click.echo(f"  frustration {record['frustration']:.2f}")


@click.command(help="Intent, entities, emotion and frustration of WAV files or text.")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--text", "texts", multiple=True, help="an utterance to analyse (repeatable)")
@click.option("--text-file", type=click.Path(dir_okay=False, exists=True), help="a file with one utterance per line")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="intent model directory (default: train on the flow's examples)")
@click.option("--flow", "flow_path", type=click.Path(dir_okay=False), help="flow whose intent examples to use (default: the configured flow)")
@click.option("--backend", default="auto", show_default=True, help="speech recogniser for WAV input")
@click.option("--as-call", is_flag=True, help="treat the inputs as successive turns of one call")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per input")
def analyze(files, texts, text_file, model_dir, flow_path, backend, as_call, as_json):
    inputs: list[tuple[str, str]] = [("wav", f) for f in files] + [("text", t) for t in texts]
    if text_file:
        lines = Path(text_file).read_text(encoding="utf-8", errors="replace").splitlines()
        inputs += [("text", line) for line in lines if line.strip()]
    if not inputs:
        raise click.UsageError("give WAV files, --text or --text-file")
    wavs = [path for kind, path in inputs if kind == "wav"]
    audio_by_path = {}
    if wavs:
        from voicebot.audio.wavfile import read_wav

        audio_by_path = {p: read_wav(p) for p in wavs}  # bad files fail before any model loads
    understander = load_understander(model_dir, flow_path, with_voice=bool(wavs))
    asr = None
    if wavs:
        from voicebot.asr.registry import load_asr

        asr = load_asr(backend)
    from voicebot.nlu.emotion.fusion import FrustrationTracker

    call_tracker = FrustrationTracker() if as_call else None
    for kind, value in inputs:
        tracker = call_tracker
        if kind == "text":
            understanding = understander.understand(value, tracker=tracker)
            record = _record("text", understanding, no_speech=not understanding.text)
        else:
            audio = audio_by_path[value]
            recognition = asr.transcribe(audio.pcm, audio.sample_rate)
            understanding, voice = understander.understand_turn(recognition.text, audio, tracker)
            record = _record(value, understanding, voice, no_speech=not recognition.text.strip())
        if as_json:
            click.echo(json.dumps(record, default=str))
        else:
            _print_human(record)


__all__ = ["analyze"]
