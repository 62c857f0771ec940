"""``Pyttsx3TTS``: offline speech synthesis with espeak-ng through pyttsx3's binding.

Why not pyttsx3's engine loop: in pyttsx3 2.99 it ignores rate changes after the first in a
process, returns from ``runAndWait`` before the audio file is complete (so a second
``save_to_file`` races the first and loses audio), and prints to stdout. The cause is its
asynchronous espeak-ng mode. So this module drives libespeak-ng itself, through pyttsx3's own
ctypes binding (``pyttsx3.drivers._espeak``), in *synchronous* mode: each utterance sets its
voice, rate and pitch, renders into memory, and returns when rendering is complete. Nothing
is printed, no files are written, and one utterance takes a few milliseconds.

espeak-ng is one engine per process, so renders are serialised by a lock: ``synthesize`` is
safe from any number of threads. Audio comes back at espeak-ng's native rate (22050 Hz);
``telephone_audio`` / ``telephone_mulaw`` turn any ``Audio`` into the phone line's 8 kHz.
"""
from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from voicebot.audio.codecs import ulaw_encode
from voicebot.audio.wavfile import Audio
from voicebot.errors import TTSError
from voicebot.tts.base import TTS

TELEPHONE_RATE = 8000
DEFAULT_VOICE = "en-us"
DEFAULT_RATE = 165  # words per minute; espeak-ng's own default (175) is brisk on the phone
DEFAULT_PITCH = 50  # espeak-ng's 0-99 scale
RATE_RANGE = (80, 450)  # what espeak-ng accepts


def telephone_audio(audio: Audio) -> Audio:
    """``audio`` resampled to 8 kHz int16, the phone line's rate."""
    return audio.at_rate(TELEPHONE_RATE)


def telephone_mulaw(audio: Audio) -> bytes:
    """``audio`` as 8 kHz G.711 mu-law bytes, ready for Twilio Media Streams."""
    return ulaw_encode(telephone_audio(audio).pcm)


@dataclass(frozen=True)
class VoiceInfo:
    """A voice espeak-ng can speak with. Pass ``id`` (or its language, e.g. ``en-gb``) as
    ``voice=``, optionally with a variant from ``variants`` appended: ``en-us+f3``."""

    id: str
    name: str
    languages: tuple[str, ...]
    gender: str | None


class _Espeak:
    """libespeak-ng, initialised once per process in synchronous mode. Use under ``lock``."""

    lock = threading.Lock()
    _instance: "_Espeak | None" = None

    @classmethod
    def get(cls) -> "_Espeak":
        with cls.lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self):
        try:
            from pyttsx3.drivers import _espeak
        except Exception as exc:  # pyttsx3 raises RuntimeError when libespeak-ng is missing
            raise TTSError(f"espeak-ng is not available ({exc}); install it with `apt-get install libespeak-ng1`") from exc
        self.lib = _espeak
        self.sample_rate = _espeak.Initialize(_espeak.AUDIO_OUTPUT_SYNCHRONOUS, 0)
        if self.sample_rate <= 0:
            raise TTSError("espeak-ng failed to initialise; check that espeak-ng-data is installed")
        self._chunks: list[bytes] = []
        self._callback_ref = self._collect  # keep a reference while espeak holds the pointer
        _espeak.SetSynthCallback(self._callback_ref)
        self.voices = [self._voice_info(v) for v in _espeak.ListVoices(None)]
        self._files = {v.identifier.decode().lower(): v.identifier.decode() for v in _espeak.ListVoices(None)}
        spec = _espeak.VOICE()
        spec.languages = b"variant"
        self.variants = sorted({v.identifier.decode().split("/")[-1].lower() for v in _espeak.ListVoices(ctypes.pointer(spec))})
        self._current_voice: str | None = None

    @staticmethod
    def _voice_info(v) -> VoiceInfo:
        language = v.languages[1:].decode(errors="ignore") if v.languages else ""
        return VoiceInfo(v.identifier.decode().lower(), v.name.decode(), (language,) if language else (), {1: "Male", 2: "Female"}.get(v.gender))

    def _collect(self, wav, numsamples, events) -> int:
        if numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
        return 0  # 0: continue synthesis

    def resolve(self, spec: str) -> str:
        """espeak-ng's voice file for ``spec``: an id (``gmw/en-us``), its last part (``en-us``),
        a voice name (``English (America)``) or a language (``en-gb``), plus an optional
        ``+variant``. Raises ``TTSError`` for anything espeak-ng cannot speak with."""
        base, _, variant = spec.partition("+")
        wanted = base.strip().lower()
        match = next((v for v in self.voices if wanted in (v.id, v.id.rsplit("/", 1)[-1], v.name.lower())), None)
        match = match or next((v for v in self.voices if wanted in v.languages), None)
        if match is None or match.id.startswith("mb/"):  # MBROLA voices need packages we do not ship
            raise TTSError(f"unknown voice {spec!r}; `voicebot say --list-voices` shows the voices")
        if variant and variant.lower() not in self.variants:
            raise TTSError(f"unknown voice variant {variant!r} in {spec!r}; e.g. +f3 (female) or +m3 (male)")
        return self._files[match.id] + (f"+{variant}" if variant else "")

    def render(self, text: str, voice_file: str, rate: int, pitch: int) -> np.ndarray:
        """int16 samples of ``text``. Call with ``lock`` held."""
        lib = self.lib
        if voice_file != self._current_voice:
            if lib.SetVoiceByName(voice_file.encode()) != lib.EE_OK:
                self._current_voice = None
                raise TTSError(f"espeak-ng could not load voice {voice_file!r}")
            self._current_voice = voice_file
        lib.SetParameter(lib.RATE, rate, 0)
        lib.SetParameter(lib.PITCH, pitch, 0)
        self._chunks = []
        status = lib.Synth(text.encode("utf-8"), flags=lib.CHARS_UTF8 | lib.ENDPAUSE)
        lib.Synchronize()
        if status != lib.EE_OK:
            raise TTSError(f"espeak-ng failed to render {text[:40]!r} (status {status})")
        return np.frombuffer(b"".join(self._chunks), dtype=np.int16)


class Pyttsx3TTS(TTS):
    """Text to int16 PCM at 22050 Hz through espeak-ng, every setting honoured per utterance.

    ``voice``: an espeak-ng voice id, name or language (``en-us``, ``en-gb-scotland``),
    optionally with a variant (``en-us+f3``). ``rate``: words per minute (80-450).
    ``pitch``: 0-99. The constructor's values are the defaults for each ``synthesize``.
    Raises ``TTSError`` for empty text, an unknown voice, a value out of range, or a failed render.
    """

    name = "pyttsx3"

    def __init__(self, *, voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE, pitch: int = DEFAULT_PITCH):
        self._engine = _Espeak.get()
        self.sample_rate = self._engine.sample_rate
        self.default_voice = voice
        self._default_file = self._engine.resolve(voice)
        self.default_rate = _check_rate(rate)
        self.default_pitch = _check_pitch(pitch)

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None,
                   pitch: int | None = None) -> Audio:
        if not isinstance(text, str) or not text.strip():
            raise TTSError("nothing to say: the text is empty")
        voice_file = self._default_file if voice is None else self._engine.resolve(str(voice))
        rate = self.default_rate if rate is None else _check_rate(rate)
        pitch = self.default_pitch if pitch is None else _check_pitch(pitch)
        with _Espeak.lock:
            pcm = self._engine.render(text, voice_file, rate, pitch)
        if len(pcm) == 0:
            raise TTSError(f"espeak-ng rendered no audio for {text[:40]!r}")
        return Audio(pcm, self.sample_rate)

    def list_voices(self) -> list[VoiceInfo]:
        """The voices espeak-ng can use here (MBROLA voices need extra packages and are left out)."""
        return [v for v in self._engine.voices if not v.id.startswith("mb/")]

    def list_variants(self) -> list[str]:
        """Variant names to append to a voice with ``+`` (``f3``, ``m2``, ``klatt`` ...)."""
        return list(self._engine.variants)

    def close(self) -> None:
        """Nothing to release: espeak-ng lives as long as the process."""


def _check_rate(rate) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int) or not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise TTSError(f"rate {rate!r} words/minute is out of range; use {RATE_RANGE[0]}-{RATE_RANGE[1]}")
    return rate


def _check_pitch(pitch) -> int:
    if isinstance(pitch, bool) or not isinstance(pitch, int) or not 0 <= pitch <= 99:
        raise TTSError(f"pitch {pitch!r} is out of range; use 0-99")
    return pitch
