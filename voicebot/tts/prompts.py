"""Recorded prompts: an admin's WAV file played to callers instead of synthesised speech.

``load_prompt`` accepts a mono or stereo WAV at any supported rate, 16-bit PCM, float or
G.711 mu-law, and returns 8 kHz int16 telephone audio. Loaded prompts are kept in memory and
re-read when the file changes. A missing or bad file raises ``AudioError`` naming the file.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from voicebot.audio.wavfile import Audio, read_wav
from voicebot.errors import AudioError

TELEPHONE_RATE = 8000
MAX_PROMPT_S = 300.0  # a five-minute "prompt" is a mistake, not a greeting

_cache: dict[Path, tuple[tuple[int, int], Audio]] = {}
_lock = threading.Lock()


def load_prompt(path: str | os.PathLike, *, base_dir: str | os.PathLike | None = None) -> Audio:
    """The recording at ``path`` (relative to ``base_dir`` when given) as 8 kHz telephone audio.

    Stereo recordings are mixed down to mono. Raises ``AudioError`` when the file is missing,
    empty, not a WAV, truncated, at an unsupported rate, or longer than five minutes.
    """
    path = Path(path)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    try:
        stat = path.stat()
    except OSError:
        raise AudioError(f"recorded prompt {path}: no such file; check the path in the flow or upload the recording") from None
    if path.is_dir():
        raise AudioError(f"recorded prompt {path}: is a directory, expected a WAV file")
    version = (stat.st_mtime_ns, stat.st_size)
    key = path.resolve()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    try:
        audio = read_wav(path, allow_stereo=True)
    except AudioError as exc:
        raise AudioError(f"recorded prompt {exc}") from exc
    if audio.duration_s > MAX_PROMPT_S:
        raise AudioError(f"recorded prompt {path}: {audio.duration_s:.0f} s long; prompts may last at most {MAX_PROMPT_S:.0f} s")
    audio = audio.at_rate(TELEPHONE_RATE)
    audio.pcm.setflags(write=False)  # shared between calls
    with _lock:
        _cache[key] = (version, audio)
    return audio
