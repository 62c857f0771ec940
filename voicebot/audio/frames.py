"""``Framer``: audio arriving in chunks of any length, handed on in whole frames."""
from __future__ import annotations

import numpy as np


class Framer:
    """Cuts int16 chunks into frames of ``size`` samples; a remainder waits for the next chunk."""

    def __init__(self, size: int):
        self.size = size
        self._pending = np.zeros(0, dtype=np.int16)

    def feed(self, pcm: np.ndarray) -> list[np.ndarray]:
        """The whole frames that ``pcm`` completes, in order (none while a frame is still short)."""
        if len(self._pending):
            pcm = np.concatenate([self._pending, pcm])
        whole = len(pcm) - len(pcm) % self.size
        self._pending = pcm[whole:]
        return [pcm[offset:offset + self.size] for offset in range(0, whole, self.size)]
