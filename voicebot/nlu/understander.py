"""The one entry point to understanding: text (+ optional audio) -> ``Understanding``.

    und = Understander.from_examples({"billing": ["question about my bill", ...], ...})
    und.understand("I was charged twice", audio=None, tracker=FrustrationTracker())

The encoder's shared layers run once per turn; the intent head and the text-emotion head each
read the sentence vector of their own branch of top layers (the pre-trained ones, or ones
fine-tuned for the task: ``voicebot.nlu.branch``), so a warm ``understand()`` costs about one
and a third MiniLM forward passes. Thread-safe: heads and branches are read-only; the embedder
serialises its own calls; a tracker belongs to one call.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

from voicebot.audio.wavfile import Audio
from voicebot.errors import NLUError
from voicebot.nlu.base import Understanding
from voicebot.nlu.branch import BRANCH_FILE, EncoderBranch
from voicebot.nlu.emotion.fusion import FrustrationTracker, single_turn_frustration
from voicebot.nlu.emotion.text import TextEmotion, TextEmotionResult
from voicebot.nlu.embeddings import MODEL_NAME, get_embedder
from voicebot.nlu.entities import extract_entities
from voicebot.nlu.intent_training import IntentModel, Progress, train_intent_model, training_key
from voicebot.nlu.intents import OOS, IntentClassifier

MAX_CHARS = 1000  # longer input is truncated: a caller turn is never this long
MIN_LETTERS = 2   # fewer letters (empty, "...", "?") is no speech, hence out of scope
AUTO_FINE_TUNE_MAX = 400   # from_examples fine-tunes by itself up to this many phrases (~10-30 s once)
AUTO_FINE_TUNE_MIN_PER_INTENT = 4  # fewer phrases per intent: the frozen encoder (fine-tuning overfits)


class Understander:
    """Intent head + entity extraction + emotion; ``understand`` never raises on odd text."""

    def __init__(self, intents: IntentClassifier | None, emotion: TextEmotion | None = None, acoustic=None,
                 intent_branch: EncoderBranch | None = None):
        self.intents = intents
        self.intent_branch = intent_branch  # None: the pre-trained encoder
        self.emotion = emotion if emotion is not None else TextEmotion.load_default()
        self.acoustic = acoustic
        self.embedder = get_embedder()
        self.human_intent = intents.metadata.get("human_intent") if intents is not None else None

    # ---- building -------------------------------------------------------------------------
    @classmethod
    def from_examples(cls, examples: dict[str, list[str]], oos_label: str = OOS, fine_tune: bool | None = None,
                      cache_dir: str | Path | None = None, progress: Progress | None = None, **kw) -> "Understander":
        """Train on a flow's example phrases ({intent: [phrases]}); examples under ``oos_label``
        only calibrate out-of-scope rejection. Needs >= 2 intents.

        ``fine_tune``: True fine-tunes the encoder's top layers (``intent_training``), False keeps
        the pre-trained encoder (about a second), None decides: fine-tune flow-sized data (at most
        ``AUTO_FINE_TUNE_MAX`` phrases, at least ``AUTO_FINE_TUNE_MIN_PER_INTENT`` per intent).
        A fine-tuned model is cached under ``cache_dir`` (default: the settings' data dir,
        ``nlu-cache/``) keyed by a hash of the phrases, so each flow version trains once;
        training shows a progress bar on a terminal unless ``progress`` is given."""
        texts, labels = [], []
        for intent, phrases in examples.items():
            for phrase in phrases:
                if phrase and phrase.strip():
                    texts.append(phrase.strip())
                    labels.append(intent)
        intents = {l for l in labels if l != oos_label}
        if len(intents) < 2:
            raise NLUError(f"need example phrases for at least 2 intents, got {sorted(set(labels)) or 'none'}")
        if fine_tune is None:
            fine_tune = len(texts) <= AUTO_FINE_TUNE_MAX and len(texts) >= AUTO_FINE_TUNE_MIN_PER_INTENT * len(intents)
        if not fine_tune:
            model = train_intent_model(texts, labels, oos_label, fine_tune_encoder=False)
        else:
            model_dir = Path(cache_dir or _default_cache_dir()) / f"intents-{training_key(texts, labels, True)}"
            try:
                return cls.load(model_dir, **kw)
            except NLUError:
                pass  # not cached yet (or unreadable): train and cache
            model = train_intent_model(texts, labels, oos_label, fine_tune_encoder=True,
                                       progress=progress or _terminal_progress("fine-tuning intents"))
        model.head.metadata.update(training_manifest(texts, labels), human_intent=find_human_intent(examples))
        understander = cls(model.head, intent_branch=model.branch, **kw)
        if fine_tune:
            understander._save_to_cache(model_dir)
        return understander

    def _save_to_cache(self, model_dir: Path) -> None:
        """Save into ``model_dir`` atomically (a folder renamed into place), so a process that
        loads the cache never sees half a model; a cache that cannot be written only warns."""
        scratch = model_dir.with_name(f"{model_dir.name}.tmp-{os.getpid()}")
        try:
            self.save(scratch)
            shutil.rmtree(model_dir, ignore_errors=True)  # an unreadable leftover
            os.replace(scratch, model_dir)
        except OSError as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            print(f"warning: fine-tuned intent model not cached in {model_dir.parent} ({exc.strerror or exc})", file=sys.stderr)

    @classmethod
    def from_model(cls, model: IntentModel, **kw) -> "Understander":
        return cls(model.head, intent_branch=model.branch, **kw)

    @classmethod
    def load(cls, model_dir: str | Path, **kw) -> "Understander":
        """Load an intent model saved by ``save`` or ``voicebot nlu train`` (with its fine-tuned
        encoder branch when it has one)."""
        head = IntentClassifier.load(model_dir)
        branch_path = Path(model_dir) / BRANCH_FILE
        branch = EncoderBranch.load(get_embedder(), branch_path) if branch_path.exists() else None
        return cls(head, intent_branch=branch, **kw)

    def save(self, model_dir: str | Path, metrics: dict | None = None) -> Path:
        """Save the intent head, its encoder branch if fine-tuned, and a ``manifest.json``."""
        if self.intents is None:
            raise NLUError("nothing to save: this Understander has no intent head")
        model_dir = self.intents.save(model_dir)
        if self.intent_branch is not None:
            self.intent_branch.save(Path(model_dir) / BRANCH_FILE)
        manifest = {"kind": "intent-head", "version": 2, "embedding_model": MODEL_NAME,
                    "encoder": "fine-tuned top layers (" + BRANCH_FILE + ")" if self.intent_branch is not None else "pre-trained",
                    "intents": self.intents.classes,
                    "prob_threshold": self.intents.prob_threshold, "sim_threshold": self.intents.sim_threshold,
                    **{k: v for k, v in self.intents.metadata.items() if k in ("data_sha256", "examples", "created", "oos_label", "human_intent")},
                    "metrics": metrics or {}}
        (Path(model_dir) / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return Path(model_dir)

    def vectors(self, text: str):
        """(pre-trained vector, fine-tuned intent vector or None, text-emotion features) of
        ``text``: the shared layers once, then each distinct branch once."""
        (pre, refined), means = self.embedder.embed_branches(text, [None, self.intent_branch], layer_means=True)
        return pre, refined if self.intent_branch is not None else None, TextEmotion.features(means, pre)

    def predict_intents(self, texts: list[str], progress: Callable[[int], None] | None = None) -> list:
        """Intent predictions (``IntentPrediction``) for many texts at once, e.g. a test set."""
        from voicebot.nlu.branch import branch_vectors

        if self.intents is None:
            raise NLUError("this Understander has no intent head")
        states = self.embedder.shared_states(texts, progress=progress)
        pre = branch_vectors(EncoderBranch.original(self.embedder), states)
        refined = branch_vectors(self.intent_branch, states) if self.intent_branch is not None else None
        return self.intents.predict_many(pre, refined)

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
        vector, refined, emotion_features = self.vectors(text)
        intent, confidence, intent_scores = OOS, 0.0, {}
        if self.intents is not None:
            pred = self.intents.predict(vector, refined)
            intent, confidence, intent_scores = pred.intent, pred.confidence, pred.scores
        emotion = self.emotion.classify(text, emotion_features)
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


def _default_cache_dir() -> Path:
    from voicebot.config import load_settings

    return Path(load_settings().data_dir) / "nlu-cache"


def _terminal_progress(description: str) -> Progress | None:
    """A tqdm bar on stderr when it is a terminal, else a line at the start and the end."""
    if not sys.stderr.isatty():
        def note(stage: str, done: int, total: int) -> None:
            if stage == "fine-tuning" and done in (1, total):
                print(f"{description}: step {done}/{total}", file=sys.stderr)
        return note
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def advance(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=f"{description}: {stage}", leave=False))
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return advance


def training_manifest(texts: list[str], labels: list[str]) -> dict:
    """Data hash and size of a training set, for ``manifest.json``."""
    digest = hashlib.sha256("\n".join(f"{t}\t{l}" for t, l in zip(texts, labels)).encode()).hexdigest()
    return {"data_sha256": digest, "examples": len(texts), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


__all__ = ["Understander", "FrustrationTracker", "TextEmotionResult"]
