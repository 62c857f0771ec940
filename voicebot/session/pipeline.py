"""The parts every call shares, loaded once per process: recogniser, speech synthesiser (with its
phrase cache), the flow and its understander, data sources, database, and a small thread pool
for lookups.

``build_pipeline(settings)`` loads and warms everything (models, the flow's fixed prompts in the
TTS cache, librosa for voice emotion) so the first caller does not pay for it; calling it again
with the same settings returns the same object.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicebot.actions import Say
from voicebot.asr.base import ASR
from voicebot.config import PROJECT_ROOT, Settings
from voicebot.session.datasources import DataSources
from voicebot.session.flow_store import FlowStore
from voicebot.session.intent_models import active_model_dir
from voicebot.session.lookups import lookup_pool
from voicebot.session.recognition import grammar_for
from voicebot.session.settings import SessionSettings
from voicebot.storage.db import Database
from voicebot.storage.keys import open_database
from voicebot.tts.base import TTS
from voicebot.tts.cache import CachingTTS

# Constraints for torch/librosa work (see DESIGN.md); defaults only, the environment wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("NUMBA_CACHE_DIR", str(PROJECT_ROOT / "var" / "numba-cache"))

log = logging.getLogger(__name__)

PROMPT_FIELDS = ("text", "prompt", "reprompt", "confirm", "error_text", "filler", "goodbye", "question", "message")


@dataclass
class Pipeline:
    """Loaded-once parts shared by all calls. Thread-safe to use from many sessions."""

    settings: Settings
    asr: ASR
    tts: TTS
    flow_store: FlowStore  # .current() -> Flow (reloads when the file changes)
    data_sources: DataSources
    db: Database | None = None
    lookup_pool: ThreadPoolExecutor = field(default_factory=lookup_pool)
    # Voice (prosody) emotion: ~1.5 ms per second of caller speech (librosa yin, benchmarks/
    # emotion_voice.py), small beside ASR on the turn's critical path, so on by default.
    voice_emotion: bool = True
    # Early (speculative) decodes of all calls share this many slots (one decoding, one
    # waiting): wasted decodes must not queue ahead of other callers' real ones on the shared
    # recogniser. Early decodes are quick-window only, ~0.1-0.2 s each.
    speculation_slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(2))
    intent_model_dir: str | None = None  # the console's activated intent model (session.intent_models)
    _understanders: dict = field(default_factory=dict)
    _fixed_texts: dict = field(default_factory=dict)  # flow sha -> its prompts without variables
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current_flow(self):
        """The flow new calls start with (a call keeps the version it started with)."""
        return self.flow_store.current()

    def understander(self, flow):
        """The intent/entity/emotion model for this flow version (trained once per version)."""
        key = (getattr(flow, "sha256", id(flow)), self.intent_model_dir)
        with self._lock:
            model = self._understanders.get(key)
            if model is None:
                from voicebot.nlu.understander import Understander

                acoustic = None
                if self.voice_emotion:
                    from voicebot.nlu.emotion.acoustic import AcousticAnalyzer

                    acoustic = AcousticAnalyzer(warm=True)  # pays librosa's import and first calls now
                from voicebot.session.intent_models import load_for_flow

                model = (self.intent_model_dir and load_for_flow(self.intent_model_dir, flow, acoustic=acoustic)) \
                    or Understander.from_examples(flow.intents, acoustic=acoustic)
                self._understanders = {key: model}  # only the live version is kept
            return model

    def speak(self, say: Say, *, calm: bool = False, flow=None, tone=None) -> np.ndarray:
        """The 8 kHz int16 audio of a ``Say``: its recorded prompt file, or TTS of its text.

        ``calm`` (or ``say.style == "calm"``) uses the TTS "calm" delivery: slower and lower,
        for upset callers; a ``tone`` (``session.tone``) other than normal wins over both. The Say's
        own ``voice``/``rate`` win over the style's. Only the flow's
        fixed prompts reach the TTS disk cache: a text filled with a caller's data stays in memory.
        """
        from voicebot.tts.prompts import load_prompt
        from voicebot.tts.registry import delivery_for

        if say.prompt_file:
            return load_prompt(say.prompt_file, base_dir=getattr(flow, "base_dir", None)).pcm
        if tone is not None and tone.name != "normal" and say.voice is None and say.rate is None:
            from voicebot.session.tone import render  # a gentle/distressed tone (session.tone): rate, pitch, pauses

            private = isinstance(self.tts, CachingTTS) and say.text not in self._fixed(flow)
            return render(self.tts, say.text, tone, **({"private": True} if private else {}))
        style = "calm" if calm or say.style == "calm" else None
        delivery = delivery_for(style).as_kwargs()
        delivery.update({k: v for k, v in (("voice", say.voice), ("rate", say.rate)) if v is not None})
        if isinstance(self.tts, CachingTTS) and say.text not in self._fixed(flow):
            delivery["private"] = True
        return self.tts.synthesize(say.text, **delivery).at_rate(8000).pcm

    def _fixed(self, flow) -> frozenset[str]:
        if flow is None:
            return frozenset()
        key = getattr(flow, "sha256", id(flow))
        with self._lock:
            if key not in self._fixed_texts:
                self._fixed_texts = {key: frozenset(fixed_prompts(flow))}  # only the live version is kept
            return self._fixed_texts[key]

    def close(self) -> None:
        self.lookup_pool.shutdown(wait=False, cancel_futures=True)


_cache: dict[str, Pipeline] = {}
_cache_lock = threading.Lock()


def build_pipeline(settings: Settings, *, warm: bool = True, voice_emotion: bool = True) -> Pipeline:
    """Load (once per process and settings) and warm the shared parts of every call."""
    key = settings.model_dump_json() + str(voice_emotion)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        started = time.perf_counter()
        from voicebot.asr.registry import load_asr
        from voicebot.customers.importer import crm_fetcher
        from voicebot.tts.registry import load_tts

        opened = open_database(settings)
        if opened.key_file_created:
            log.warning("generated a new encryption key in %s: back it up apart from the database", opened.key_file_created)
        db = opened.db
        flow_store = FlowStore(settings.flow_path, db)  # reloads on change, saves every version for rollback
        pipeline = Pipeline(
            settings=settings,
            asr=load_asr(settings.asr_backend, settings),
            tts=load_tts(settings),
            flow_store=flow_store,
            data_sources=DataSources.for_flow(flow_store.current(), db, crm_fetcher(settings.crm_url, settings.crm_timeout_s)
                                              if settings.crm_url else None),
            db=db,
            voice_emotion=voice_emotion,
            intent_model_dir=active_model_dir(db),
        )
        if warm:
            warm_up(pipeline)
        log.info("pipeline ready in %.1f s (asr=%s, tts=%s)", time.perf_counter() - started, pipeline.asr.name, pipeline.tts.name)
        _cache[key] = pipeline
        return pipeline


def warm_up(pipeline: Pipeline) -> None:
    """Pay the first-use costs now: the understander (and librosa's when voice emotion is on),
    the flow's fixed prompts in the TTS cache, both recognisers."""
    flow = pipeline.current_flow()
    started = time.perf_counter()
    pipeline.understander(flow)
    log.info("warm-up: understander %.1f s", time.perf_counter() - started)
    started = time.perf_counter()
    prompts = fixed_prompts(flow) + [SessionSettings().holding_phrase]
    sample = np.zeros(8000, dtype=np.int16)
    for text in prompts:
        for style in (None, "calm"):  # upset callers hear the calm delivery of the same prompts
            try:
                sample = pipeline.speak(Say(text, style=style), flow=flow)
            except Exception as exc:  # a prompt that cannot render now fails again, visibly, in the call
                log.warning("cannot pre-render prompt %r: %s", text, exc)
    log.info("warm-up: %d fixed prompts %.1f s", len(prompts), time.perf_counter() - started)
    started = time.perf_counter()
    for grammar in (None, grammar_for("digits")):  # loads both recognisers and runs a real decode
        pipeline.asr.transcribe(sample[: 8000 * 3], 8000, grammar)
    log.info("warm-up: recognisers %.1f s", time.perf_counter() - started)


def fixed_prompts(flow) -> list[str]:
    """Prompt texts of the flow without ``{variables}``: the same audio every call."""
    found: list[str] = []

    def visit(value) -> None:
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        if isinstance(value, dict):
            for key, item in value.items():
                if key in PROMPT_FIELDS and isinstance(item, str) and item.strip() and "{" not in item and not item.endswith(".wav"):
                    found.append(item)
                else:
                    visit(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    visit(getattr(flow, "model", flow))
    return list(dict.fromkeys(found))
