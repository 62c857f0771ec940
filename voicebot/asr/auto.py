"""``AutoASR``: picks a backend per prompt.

``routes`` maps the kind of prompt to a backend name: ``"open"`` for open questions and each
grammar kind (``digits``, ``yesno``, ``phrases``, ``jsgf``) for constrained prompts. The
registry fills it from measurements (docs/asr.md): open speech goes to the most accurate open
backend available (an English Vosk model when installed, else Whisper), each grammar kind to
the most accurate decoder that can enforce it.

Backends are created on first use through ``load(name)``, so a process that only ever runs
JSGF prompts never loads Whisper.
"""
from __future__ import annotations

from typing import Callable

from voicebot.asr.base import ASR, Grammar, RecognitionStream


class AutoASR(ASR):
    """Routes each stream to the backend ``routes`` names for its grammar kind."""

    name = "auto"

    def __init__(self, routes: dict[str, str], load: Callable[[str], ASR]):
        self.routes = dict(routes)
        self._load = load

    def backend_for(self, grammar: Grammar | None) -> ASR:
        """The loaded recogniser that handles ``grammar`` (None: open speech)."""
        kind = "open" if grammar is None else grammar.kind
        backend = self._load(self.routes.get(kind, self.routes["open"]))
        if not backend.supports_grammar(grammar):
            for name in dict.fromkeys(self.routes.values()):
                if self._load(name).supports_grammar(grammar):
                    return self._load(name)
        return backend

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return True

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        return self.backend_for(grammar).stream(sample_rate, grammar, hints)
