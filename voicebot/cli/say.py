"""``voicebot say "text" --out reply.wav``: synthesise speech to a WAV file, offline."""
from __future__ import annotations

import json

import click

from voicebot.audio.wavfile import write_wav
from voicebot.errors import TTSError
from voicebot.tts.pyttsx3 import RATE_RANGE, Pyttsx3TTS, telephone_audio


@click.command("say")
@click.argument("text", required=False)
@click.option("--out", "out", type=click.Path(dir_okay=False), help="WAV file to write.")
@click.option("--rate", type=click.IntRange(*RATE_RANGE), help="Words per minute (default 165).")
@click.option("--voice", help="espeak-ng voice id or language, e.g. en-us, en-gb-scotland, en-us+f3.")
@click.option("--pitch", type=click.IntRange(0, 99), help="Pitch 0-99 (default 50).")
@click.option("--telephone", is_flag=True, help="Write 8 kHz G.711 mu-law, as sent to a phone.")
@click.option("--list-voices", is_flag=True, help="List the voices and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def say(text, out, rate, voice, pitch, telephone, list_voices, as_json):
    """Speak TEXT into a WAV file (16-bit PCM at 22050 Hz, or 8 kHz mu-law with --telephone).

    Variants change the voice's character: append +f1..+f5 (female) or +m1..+m7 to a voice.
    """
    tts = Pyttsx3TTS()
    try:
        if list_voices:
            for v in tts.list_voices():
                if as_json:
                    click.echo(json.dumps({"id": v.id, "name": v.name, "languages": list(v.languages), "gender": v.gender}))
                else:
                    click.echo(f"{v.id:28} {','.join(v.languages):12} {v.gender or '':7} {v.name}")
            return
        if text is None or not out:
            raise click.UsageError('give the text and --out, e.g. voicebot say "Hello" --out reply.wav')
        if not text.strip():
            raise TTSError("nothing to say: the text is empty")
        audio = tts.synthesize(text, voice=voice, rate=rate, pitch=pitch)
        if telephone:
            audio = telephone_audio(audio)
        try:
            path = write_wav(out, audio, mulaw=telephone)
        except Exception as exc:  # OSError or libsndfile's error for an unwritable path
            raise TTSError(f"cannot write {out}: {exc}") from exc
        if as_json:
            click.echo(json.dumps({"out": str(path), "sample_rate": audio.sample_rate,
                                   "encoding": "mulaw" if telephone else "pcm16",
                                   "duration_s": round(audio.duration_s, 3)}))
        else:
            click.echo(f"wrote {path} ({audio.duration_s:.2f} s, {audio.sample_rate} Hz, {'mu-law' if telephone else '16-bit PCM'})")
    finally:
        tts.close()
