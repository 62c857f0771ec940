"""The one entry point to understanding: text (+ optional audio) -> ``Understanding``.

    und = Understander.from_examples({"billing": ["question about my bill", ...], ...})
    und.understand("I was charged twice", audio=None, tracker=FrustrationTracker())

One sentence embedding is shared by the intent head and the text-emotion head, so a warm
``understand()`` costs about one MiniLM forward pass (~15 ms on one core). Thread-safe:
heads are read-only; the embedder serialises its own calls; a tracker belongs to one call.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from voicebot.audio.wavfile import Audio
from voicebot.errors import NLUError
from voicebot.nlu.base import Understanding
from voicebot.nlu.emotion.fusion import FrustrationTracker, single_turn_frustration
from voicebot.nlu.emotion.text import TextEmotion, TextEmotionResult
from voicebot.nlu.embeddings import MODEL_NAME, get_embedder
from voicebot.nlu.entities import extract_entities
from voicebot.nlu.intents import OOS, IntentClassifier

MAX_CHARS = 1000  # longer input is truncated: a caller turn is never this long
MIN_LETTERS = 2   # fewer letters (empty, "...", "?") is no speech, hence out of scope


class Understander:
    """Intent head + entity extraction + emotion; ``understand`` never raises on odd text."""

    def __init__(self, intents: IntentClassifier | None, emotion: TextEmotion | None = None, acoustic=None):
        self.intents = intents
        self.emotion = emotion if emotion is not None else TextEmotion.load_default()
        self.acoustic = acoustic
        self.embedder = get_embedder()
        self.human_intent = intents.metadata.get("human_intent") if intents is not None else None

    # ---- building -------------------------------------------------------------------------
    @classmethod
    def from_examples(cls, examples: dict[str, list[str]], oos_label: str = OOS, **kw) -> "Understander":
        """Train an intent head on a flow's example phrases ({intent: [phrases]}); examples under
        ``oos_label`` only calibrate out-of-scope rejection. Needs >= 2 intents."""
        texts, labels = [], []
        for intent, phrases in examples.items():
            for phrase in phrases:
                if phrase and phrase.strip():
                    texts.append(phrase.strip())
                    labels.append(intent)
        if len({l for l in labels if l != oos_label}) < 2:
            raise NLUError(f"need example phrases for at least 2 intents, got {sorted(set(labels)) or 'none'}")
        embeddings = get_embedder().embed(texts)
        head = IntentClassifier.fit(embeddings, labels, oos_label=oos_label)
        head.metadata.update(training_manifest(texts, labels), human_intent=find_human_intent(examples))
        return cls(head, **kw)

    @classmethod
    def load(cls, model_dir: str | Path, **kw) -> "Understander":
        """Load an intent head saved by ``save`` or ``voicebot nlu train``."""
        return cls(IntentClassifier.load(model_dir), **kw)

    def save(self, model_dir: str | Path, metrics: dict | None = None) -> Path:
        """Save the intent head and a ``manifest.json`` (version, data hash, metrics)."""
        if self.intents is None:
            raise NLUError("nothing to save: this Understander has no intent head")
        model_dir = self.intents.save(model_dir)
        manifest = {"kind": "intent-head", "version": 1, "embedding_model": MODEL_NAME,
                    "intents": self.intents.classes,
                    "prob_threshold": self.intents.prob_threshold, "sim_threshold": self.intents.sim_threshold,
                    **{k: v for k, v in self.intents.metadata.items() if k in ("data_sha256", "examples", "created", "oos_label", "human_intent")},
                    "metrics": metrics or {}}
        (Path(model_dir) / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return Path(model_dir)

    # ---- understanding ----------------------------------------------------------------------
    def understand(self, text: str, audio: Audio | None = None, tracker: FrustrationTracker | None = None) -> Understanding:
        """Understand one caller turn. Empty or letter-less text is out of scope with no
        entities; ``tracker`` (one per call) is updated and its score reported as ``frustration``;
        without one, ``frustration`` is this turn's evidence alone (words and voice)."""
        return self.understand_turn(text, audio, tracker)[0]

    def understand_turn(self, text: str, audio: Audio | None = None, tracker: FrustrationTracker | None = None):
        """``understand`` plus the voice analysis of ``audio`` -> (Understanding, VoiceResult | None)."""
        text = (text or "").strip()[:MAX_CHARS]
        voice = self._voice(audio, tracker)
        arousal = voice.arousal if voice is not None else None
        if sum(c.isalpha() for c in text) < MIN_LETTERS and not any(c.isdigit() for c in text):
            frustration = tracker.update(voice=arousal, no_match=True) if tracker else single_turn_frustration(None, arousal)
            return Understanding(text=text, frustration=round(frustration, 4)), voice
        vector = self.embedder.embed_one(text)
        intent, confidence, intent_scores = OOS, 0.0, {}
        if self.intents is not None:
            pred = self.intents.predict(vector)
            intent, confidence, intent_scores = pred.intent, pred.confidence, pred.scores
        emotion = self.emotion.classify(text, vector)
        if intent == OOS and self.human_intent and "human_request" in emotion.cues:
            # "get me a real person" may be far from the flow's phrasing, but it is unambiguous
            intent, confidence = self.human_intent, max(confidence, intent_scores.get(self.human_intent, 0.0))
        if tracker is not None:
            frustration = tracker.update(text_frustration=emotion.frustration, voice=arousal,
                                         no_match=intent == OOS, text=text, cues=emotion.cues)
        else:
            frustration = single_turn_frustration(emotion.frustration, arousal)
        understanding = Understanding(
            text=text, intent=intent, confidence=round(confidence, 4),
            intent_scores={k: round(v, 4) for k, v in intent_scores.items()},
            entities=extract_entities(text), emotion=emotion.label,
            emotion_scores={k: round(v, 4) for k, v in emotion.scores.items()},
            frustration=round(float(frustration), 4))
        return understanding, voice

    def _voice(self, audio: Audio | None, tracker: FrustrationTracker | None):
        """Voice analysis relative to the caller's earlier turns (kept in ``tracker``), or None."""
        if audio is None or self.acoustic is None:
            return None
        result = self.acoustic.analyze(audio, tracker.voice_baseline if tracker is not None else None)
        if tracker is not None and result.features is not None:
            tracker.remember_voice(result.features)
        return result


def find_human_intent(examples: dict[str, list[str]]) -> str | None:
    """The intent whose example phrases mostly ask for a person ("talk to an agent"), if any."""
    from voicebot.nlu.emotion.text import HUMAN_REQUEST

    best, best_share = None, 0.5
    for intent, phrases in examples.items():
        share = sum(bool(HUMAN_REQUEST.search(p)) for p in phrases) / max(len(phrases), 1)
        if share >= best_share:
            best, best_share = intent, share
    return best


def training_manifest(texts: list[str], labels: list[str]) -> dict:
    """Data hash and size of a training set, for ``manifest.json``."""
    digest = hashlib.sha256("\n".join(f"{t}\t{l}" for t, l in zip(texts, labels)).encode()).hexdigest()
    return {"data_sha256": digest, "examples": len(texts), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


__all__ = ["Understander", "FrustrationTracker", "TextEmotionResult"]
