"""``CachingTTS``: a phrase cache in front of any ``TTS``, so fixed prompts render once.

Promises:
- an in-memory LRU of at most ``max_items`` utterances, keyed by text, voice, rate and any
  extra style keyword (``pitch``);
- optionally a disk cache (``disk_dir``, e.g. ``var/tts-cache``) that survives restarts: one
  16-bit WAV per phrase, written atomically, named by a hash of the key and the inner engine;
  a phrase synthesised with ``private=True`` (it holds a caller's personal data: "Hi Ana",
  an order's details) stays in memory only and never touches the disk;
- thread-safe and single-flight: when several threads ask for the same phrase at once, the
  inner engine renders it once and every caller gets that result (or that error);
- errors are never cached.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from voicebot.audio.wavfile import Audio, read_wav, write_wav
from voicebot.errors import AudioError, TTSError
from voicebot.tts.base import TTS


@dataclass
class CacheStats:
    """Counters since the cache was made: memory/disk hits, and renders by the inner engine."""

    memory_hits: int = 0
    disk_hits: int = 0
    renders: int = 0
    shared_waits: int = 0  # callers that waited for another thread's render of the same phrase


class CachingTTS(TTS):
    """Wraps ``inner``; returns cached ``Audio`` for phrases already rendered.

    The returned ``Audio`` is shared between callers: treat its samples as read-only.
    """

    def __init__(self, inner: TTS, *, max_items: int = 256, disk_dir: str | os.PathLike | None = None):
        if max_items < 1:
            raise TTSError("max_items must be at least 1")
        self.inner = inner
        self.name = f"cached-{inner.name}"
        self.max_items = max_items
        self.disk_dir = Path(disk_dir) if disk_dir else None
        self.stats = CacheStats()
        self._items: OrderedDict[tuple, Audio] = OrderedDict()
        self._inflight: dict[tuple, Future] = {}
        self._lock = threading.Lock()

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None, private: bool = False,
                   **style) -> Audio:
        key = (text, voice, rate, tuple(sorted(style.items())))
        with self._lock:
            audio = self._items.get(key)
            if audio is not None:
                self._items.move_to_end(key)
                self.stats.memory_hits += 1
                return audio
            pending = self._inflight.get(key)
            if pending is None:
                pending = self._inflight[key] = Future()
                leader = True
            else:
                self.stats.shared_waits += 1
                leader = False
        if not leader:
            return pending.result()
        try:
            audio = None if private else self._from_disk(key)
            if audio is None:
                audio = self.inner.synthesize(text, voice=voice, rate=rate, **style)
                with self._lock:
                    self.stats.renders += 1
                if not private:
                    self._to_disk(key, audio)
            audio.pcm.setflags(write=False)
        except BaseException as exc:
            with self._lock:
                del self._inflight[key]
            pending.set_exception(exc)
            raise
        with self._lock:
            self._items[key] = audio
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            del self._inflight[key]
        pending.set_result(audio)
        return audio

    def clear(self) -> None:
        """Forget the in-memory phrases (the disk cache stays)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getattr__(self, name):
        # Engine-specific extras (list_voices, close) pass through to the inner engine.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _disk_path(self, key: tuple) -> Path | None:
        if self.disk_dir is None:
            return None
        digest = hashlib.sha256(json.dumps([self.inner.name, *key], default=str).encode()).hexdigest()
        return self.disk_dir / f"{digest[:32]}.wav"

    def _from_disk(self, key: tuple) -> Audio | None:
        path = self._disk_path(key)
        if path is None or not path.exists():
            return None
        try:
            audio = read_wav(path)
        except AudioError:
            path.unlink(missing_ok=True)  # a damaged entry is re-rendered
            return None
        with self._lock:
            self.stats.disk_hits += 1
        return audio

    def _to_disk(self, key: tuple, audio: Audio) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.wav")
        try:
            write_wav(tmp, audio)
            os.replace(tmp, path)  # readers never see a half-written file
        except Exception:  # OSError or libsndfile's error: the disk cache is only an optimisation
            tmp.unlink(missing_ok=True)
