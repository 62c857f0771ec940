"""``voicebot talk``: talk to the bot with your microphone and speakers.

The same per-call session as a phone call (``VoiceCallSession``: endpointing, ASR, NLU, the
flow, TTS, barge-in), with ``LocalCallIO`` in place of Twilio. Frames are paced to real time,
so a device without a clock (an ALSA ``file`` PCM, as the tests use) behaves like a live one.
"""
from __future__ import annotations

import json
import time

import click


@click.command("talk")
@click.option("--input-device", "-i", default=None, help="Microphone: PortAudio index or part of its name (default: system default).")
@click.option("--output-device", "-o", default=None, help="Speaker: PortAudio index or part of its name (default: system default).")
@click.option("--caller", default="+15550001111", show_default=True, help="Caller number the flow sees (the demo knows this customer).")
@click.option("--seconds", type=click.FloatRange(min=0.1), default=None, help="Hang up after this long (default: until Ctrl-C or the bot ends the call).")
@click.option("--device-rate", type=click.IntRange(8000, 192000), default=None,
              help="Open both sound devices at this rate (Hz) and resample to the 8 kHz line here (default: 8 kHz when the device takes it, else its own rate).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: who said what.")
def talk(input_device, output_device, caller, seconds, device_rate, as_json):
    """Talk to the bot through your microphone and speakers (Ctrl-C hangs up)."""
    from voicebot.audio.devices import LocalAudio
    from voicebot.config import load_settings
    from voicebot.session.call import VoiceCallSession
    from voicebot.session.local_io import LocalCallIO
    from voicebot.session.pipeline import build_pipeline
    from voicebot.storage.seed import seed_demo

    def show(kind: str, text: str) -> None:
        if as_json:
            click.echo(json.dumps({"type": kind, "text": text}))
        else:
            click.echo(f"{kind:>8}: {text}")

    audio = LocalAudio(_device(input_device), _device(output_device), input_rate=device_rate, output_rate=device_rate)
    audio.check()  # a missing device fails now, before the models load
    if not as_json:
        click.echo("loading models...", err=True)
    pipeline = build_pipeline(load_settings())
    seed_demo(pipeline.db)
    io = LocalCallIO(audio, on_event=show)
    session = VoiceCallSession(pipeline, io, channel="voice")
    io.on_mark = session.on_mark
    shown = 0
    reason = "hangup"
    frames = audio.frames(max_seconds=seconds)  # the microphone opens as the call starts
    session.start(caller, {"channel": "local"})
    try:
        next_at = time.monotonic()
        for frame in frames:
            session.on_audio(frame)
            shown = _show_new_lines(session, shown, show)
            if io.ended.is_set():
                reason = "ended by the bot"
                break
            next_at += 0.02  # real time: a microphone delivers at this pace, a file device at once
            time.sleep(max(0.0, next_at - time.monotonic()))
    except KeyboardInterrupt:
        reason = "hangup"
    finally:
        audio.stop()
        session.on_stop(reason)
        io.close()
        _show_new_lines(session, shown, show)
    if audio.overflows:
        click.echo(f"warning: the microphone overflowed {audio.overflows} times (audio was lost)", err=True)
    if io.error is not None:
        raise io.error


def _device(spec: str | None):
    return int(spec) if spec is not None and spec.isdigit() else spec


def _show_new_lines(session, shown: int, show) -> int:
    lines = session.lines
    for line in lines[shown:]:
        show("bot" if line.speaker == "bot" else "you", line.text or "(not understood)")
    return len(lines)
