"""``AutoASR``: picks a backend per prompt.

- A constrained grammar (digits, yes/no, menu phrases, JSGF) goes to the grammar decoder:
  ``grammar_backend`` (pocketsphinx by default: cheapest, decodes as audio streams in).
- Open speech goes to the most accurate open-vocabulary backend available: an English Vosk
  model when one is installed under ``models/``, else Whisper tiny.en.

Backends are created on first use by the factories given, so a process that only ever asks
yes/no questions never loads Whisper.
"""
from __future__ import annotations

import threading
from typing import Callable

from voicebot.asr.base import ASR, Grammar, RecognitionStream


class AutoASR(ASR):
    """Routes each stream to ``open_factory()``'s or ``grammar_factory()``'s recogniser."""

    name = "auto"

    def __init__(self, open_factory: Callable[[], ASR], grammar_factory: Callable[[], ASR], open_name: str = "", grammar_name: str = ""):
        self._factories = {"open": open_factory, "grammar": grammar_factory}
        self._loaded: dict[str, ASR] = {}
        self._lock = threading.Lock()
        self.open_name = open_name
        self.grammar_name = grammar_name

    def backend_for(self, grammar: Grammar | None) -> ASR:
        """The loaded recogniser that handles ``grammar`` (None: open speech)."""
        role = "open" if grammar is None else "grammar"
        with self._lock:
            if role not in self._loaded:
                self._loaded[role] = self._factories[role]()
            backend = self._loaded[role]
        if grammar is not None and not backend.supports_grammar(grammar):
            return self.backend_for(None)
        return backend

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return True

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        return self.backend_for(grammar).stream(sample_rate, grammar, hints)
