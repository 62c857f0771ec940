"""Per-call frustration: fuses words, voice and the conversation into one score in [0, 1].

The session runner creates one ``FrustrationTracker`` per call and passes it to
``Understander.understand`` each turn; it can also report conversation events itself
(``note_silence``, ``note_no_match``). Promises:
  * ``score`` is in [0, 1] and moves smoothly: it rises by at most half the gap to a turn's
    evidence and falls by a quarter, so one sharp word does not flip a call;
  * ``upset`` has hysteresis: on at ``score >= UPSET_ON``, off only below ``UPSET_OFF``;
  * ``tts_rate`` suggests slower, calmer delivery (0.85) while the caller is upset.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

UPSET_ON = 0.6
UPSET_OFF = 0.4
RISE, FALL = 0.5, 0.25          # fraction of the gap to this turn's evidence
LONG_SILENCE_S = 6.0            # a caller silent this long after a prompt is stuck or giving up
REPEAT_JACCARD = 0.6            # word overlap at which a turn counts as the caller repeating themselves
NO_MATCH_EVIDENCE = (0.0, 0.2, 0.4, 0.6)   # by consecutive no-matches 0, 1, 2, 3+
VOICE_WEIGHT = 0.5              # voice alone can bring a turn's evidence to at most this


@dataclass
class TurnEvidence:
    """Why the score moved on one turn (for logs and the admin UI)."""

    text: float | None
    voice: float | None
    conversation: float
    combined: float
    reasons: list[str] = field(default_factory=list)


class FrustrationTracker:
    """Frustration state of one call. Methods are safe to call from the call's threads."""

    def __init__(self):
        self.score = 0.0
        self.upset = False
        self.turns: list[TurnEvidence] = []
        self.voice_baseline: list[dict] = []  # acoustic features of this caller's earlier turns
        self._texts: list[set[str]] = []
        self._no_matches = 0
        self._pending_silence = 0.0
        self._lock = threading.Lock()

    # ---- events from outside understand() -----------------------------------------------------
    def note_silence(self, seconds: float) -> None:
        """The caller said nothing for ``seconds`` after a prompt (counts on the next update)."""
        with self._lock:
            self._pending_silence = max(self._pending_silence, float(seconds))

    def note_no_match(self) -> float:
        """A turn the bot could not use (no speech, no intent): an update with only that."""
        return self.update(text_frustration=None, no_match=True)

    def remember_voice(self, features: dict) -> None:
        """Keep this turn's acoustic features as baseline for later turns (first 5 turns)."""
        with self._lock:
            if len(self.voice_baseline) < 5:
                self.voice_baseline.append(features)

    # ---- one turn -------------------------------------------------------------------------------
    def update(self, text_frustration: float | None = None, voice: float | None = None, no_match: bool = False,
               text: str = "", cues: tuple[str, ...] = ()) -> float:
        """Fold one caller turn into the score and return it.

        ``text_frustration``: from the text-emotion head (None when there were no words);
        ``voice``: arousal relative to the caller's own earlier turns, 0.5 = as before;
        ``no_match``: the turn matched no intent; ``text`` is used to spot repetition.
        """
        with self._lock:
            reasons = []
            self._no_matches = self._no_matches + 1 if no_match else 0
            conv = NO_MATCH_EVIDENCE[min(self._no_matches, len(NO_MATCH_EVIDENCE) - 1)]
            if conv:
                reasons.append(f"{self._no_matches} no-match in a row")
            words = set(re.findall(r"[a-z']+", text.lower()))
            if len(words) >= 2 and any(_jaccard(words, old) >= REPEAT_JACCARD for old in self._texts):
                conv = 1 - (1 - conv) * (1 - 0.35)
                reasons.append("repeated themselves")
            if words:
                self._texts.append(words)
            if self._pending_silence >= LONG_SILENCE_S:
                conv = 1 - (1 - conv) * (1 - 0.2)
                reasons.append(f"silent {self._pending_silence:.0f}s")
            self._pending_silence = 0.0
            if voice is not None and _voice_part(voice) > 0.1:
                reasons.append("raised voice")
            if text_frustration is not None and text_frustration > 0.5:
                reasons.append("frustrated words" + (f" ({', '.join(cues)})" if cues else ""))
            evidence = 1 - (1 - turn_evidence(text_frustration, voice)) * (1 - conv)
            rate = RISE if evidence > self.score else FALL
            self.score = min(max(self.score + rate * (evidence - self.score), 0.0), 1.0)
            if self.score >= UPSET_ON:
                self.upset = True
            elif self.score < UPSET_OFF:
                self.upset = False
            self.turns.append(TurnEvidence(text_frustration, voice, conv, evidence, reasons))
            return self.score

    @property
    def tts_rate(self) -> float:
        """Speaking-rate factor for TTS: slower and calmer for an upset caller."""
        return 0.85 if self.upset else 1.0

    def summary(self) -> dict:
        """Score, upset flag and the last turns' reasons, for a transfer's context."""
        return {"frustration": round(self.score, 3), "upset": self.upset,
                "reasons": [r for t in self.turns[-3:] for r in t.reasons]}


def turn_evidence(text_frustration: float | None, voice: float | None) -> float:
    """One turn's frustration evidence inside a call, from words and voice arousal relative to
    the caller's earlier turns: each source independently raises it; only arousal above the
    caller's usual (0.5) counts, and voice alone reaches at most ``VOICE_WEIGHT``."""
    keep = 1 - (text_frustration or 0.0)
    if voice is not None:
        keep *= 1 - _voice_part(voice)
    return float(min(max(1 - keep, 0.0), 1.0))


def single_turn_frustration(text_frustration: float | None, voice: float | None) -> float:
    """Frustration of one utterance judged on its own (no call around it): words and voice
    arousal combined as independent evidence, voice contributing ``VOICE_WEIGHT`` x arousal.

    Unlike ``turn_evidence`` it rises with arousal over the whole range: with no earlier turns
    there is no "usual" to compare with, and a cut-off at 0.5 would make every clip of a quietly
    recorded line tie on voice, leaving the order to the words alone."""
    keep = 1 - (text_frustration or 0.0)
    if voice is not None:
        keep *= 1 - VOICE_WEIGHT * min(max(voice, 0.0), 1.0)
    return float(min(max(1 - keep, 0.0), 1.0))


def _voice_part(voice: float) -> float:
    """Arousal above the caller's usual (0.5) mapped to [0, VOICE_WEIGHT]."""
    return VOICE_WEIGHT * min(max((voice - 0.5) * 2, 0.0), 1.0)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
