"""``PocketsphinxASR``: CMU PocketSphinx with the en-us model from the pocketsphinx wheel.

Open vocabulary (the wheel's trigram LM, weak: WER ~0.3) or JSGF grammars (cheap and much
better on in-grammar speech). The model is 16 kHz only, so 8 kHz audio is upsampled while it
streams in; decoding runs as frames arrive, ``finish()`` only closes the utterance.

Decoders are not thread-safe and cost ~0.4 s to load, so a small pool is shared by all
streams; a stream holds one decoder from ``stream()`` until ``finish()``.
"""
from __future__ import annotations

import hashlib
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from voicebot.asr import grammar as grammars
from voicebot.asr.base import ASR, Grammar, Recognition, RecognitionStream, Word
from voicebot.audio.upsample import StreamingUpsampler
from voicebot.errors import ASRError

_FRAME_S = 0.01  # pocketsphinx segment frames are 10 ms
# Starting cepstral mean for 8 kHz (telephone) audio upsampled to 16 kHz: the model's own
# default (40,3,-1,...) is for wideband speech and biased digits towards "two" (32.7% vs 56%
# on FSDD tuning takes 5-19). Measured as the running mean after 66 RAVDESS sentences through
# 8 kHz mu-law and StreamingUpsampler (not FSDD); regenerate with
# `python benchmarks/asr_accuracy.py --telephone-cmn`.
TELEPHONE_CMN = "29.50,20.66,-28.66,25.13,-19.85,5.90,-1.06,-15.69,14.11,-9.74,9.17,-3.85,0.14"


class PocketsphinxASR(ASR):
    """PocketSphinx recogniser; ``pool_size`` decoders shared by all streams."""

    name = "pocketsphinx"

    def __init__(self, pool_size: int = 2, **decoder_options):
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise ASRError("pocketsphinx is not installed; run `pip install pocketsphinx`") from exc
        self._make = lambda: Decoder(samprate=16000, **decoder_options)
        self._pool: queue.Queue = queue.Queue()
        self._created = 0
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._pool.put(self._new_decoder())  # fail early if the model is broken

    def _new_decoder(self):
        try:
            decoder = self._make()
        except Exception as exc:  # pocketsphinx raises RuntimeError/ValueError on bad config
            raise ASRError(f"cannot load the pocketsphinx en-us model: {exc}") from exc
        self._created += 1
        return _Pooled(decoder, {None: decoder.current_search()}, decoder.get_cmn())

    def _acquire(self):
        with self._lock:
            if self._pool.empty() and self._created < self._pool_size:
                return self._new_decoder()
        return self._pool.get()

    def _release(self, decoder) -> None:
        self._pool.put(decoder)

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return True

    def missing_words(self, grammar: Grammar) -> list[str]:
        """Words of ``grammar`` the en-us dictionary cannot pronounce ([] when it can use it).
        The pocketsphinx wheel has no grapheme-to-phoneme model, so such words are rejected."""
        pooled = self._acquire()
        try:
            return _missing_words(pooled.decoder, grammars.to_jsgf(grammar))
        finally:
            self._release(pooled)

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        if sample_rate not in (8000, 16000):
            raise ASRError(f"pocketsphinx needs 8000 or 16000 Hz audio, not {sample_rate} Hz")
        pooled = self._acquire()
        try:
            pooled.decoder.activate_search(self._search_for(pooled, grammar))
            # every utterance starts from a fixed cepstral mean for its band: the running
            # estimate of the previous caller on this pooled decoder would otherwise skew it
            pooled.decoder.set_cmn(TELEPHONE_CMN if sample_rate == 8000 else pooled.initial_cmn)
            pooled.decoder.start_utt()
        except ASRError:
            self._release(pooled)
            raise
        except Exception as exc:
            self._release(pooled)
            raise ASRError(f"pocketsphinx rejected the grammar: {exc}") from exc
        return _PocketsphinxStream(self, pooled, sample_rate, grammar)

    @staticmethod
    def _search_for(pooled: "_Pooled", grammar: Grammar | None) -> str:
        if grammar is None:
            return pooled.searches[None]
        jsgf = grammars.to_jsgf(grammar)
        key = "g" + hashlib.sha1(jsgf.encode()).hexdigest()[:16]
        if key not in pooled.searches:
            missing = _missing_words(pooled.decoder, jsgf)
            if missing:
                raise ASRError(f"pocketsphinx cannot use this grammar: its en-us dictionary has no pronunciation for {', '.join(map(repr, missing))}; "
                               "write the phrase with dictionary words (numbers as words)")
            pooled.decoder.add_jsgf_string(key, jsgf)
            pooled.searches[key] = key
        return key


@dataclass
class _Pooled:
    """A decoder and the searches (grammar key -> search name) already added to it."""

    decoder: object
    searches: dict
    initial_cmn: str


class _PocketsphinxStream(RecognitionStream):
    def __init__(self, asr: PocketsphinxASR, pooled: "_Pooled", sample_rate: int, grammar: Grammar | None):
        self._asr, self._pooled, self._decoder, self._grammar = asr, pooled, pooled.decoder, grammar
        self._upsampler = StreamingUpsampler() if sample_rate == 8000 else None
        self._decode_s = 0.0
        self._closed = False

    def accept(self, pcm: np.ndarray) -> Recognition | None:
        if self._closed:
            raise ASRError("stream already finished")
        start = time.perf_counter()
        pcm = np.asarray(pcm, dtype=np.int16)
        if self._upsampler:
            pcm = self._upsampler.process(pcm)
        self._decoder.process_raw(pcm.tobytes(), False, False)
        self._decode_s += time.perf_counter() - start
        return None

    def finish(self, accept=None, passes="auto") -> Recognition:  # one final result: nothing to choose
        if self._closed:
            raise ASRError("stream already finished")
        self._closed = True
        start = time.perf_counter()
        try:
            tail = self._upsampler.flush() if self._upsampler else ()
            if len(tail):
                self._decoder.process_raw(tail.tobytes(), False, False)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
            words = ()
            confidence = 0.0
            if hyp is not None and hyp.hypstr:
                logmath = self._decoder.get_logmath()
                confidence = float(min(1.0, logmath.exp(hyp.prob))) if hyp.prob < 0 else 0.0  # 0: not computed
                words = tuple(
                    Word(seg.word.lower(), seg.start_frame * _FRAME_S, (seg.end_frame + 1) * _FRAME_S, float(logmath.exp(seg.prob)) if seg.prob < 0 else 0.5)
                    for seg in self._decoder.seg()
                    if not (seg.word.startswith("<") or seg.word.startswith("[") or seg.word.startswith("+"))
                )
                raw = hyp.hypstr
            else:
                raw = ""
        finally:
            self._asr._release(self._pooled)
        text = grammars.normalize(_strip_alt(raw), self._grammar)
        if text and not confidence:
            confidence = 0.5  # JSGF searches report no posterior; 0.5 says "in grammar, unscored"
        return Recognition(text=text, confidence=confidence if text else 0.0, words=words, backend="pocketsphinx", decode_s=self._decode_s + time.perf_counter() - start)


def _missing_words(decoder, jsgf: str) -> list[str]:
    return sorted({w for w in grammars.jsgf_words(jsgf, lower=False) if decoder.lookup_word(w) is None})


def _strip_alt(text: str) -> str:
    """Remove pronunciation variant markers: 'two(2)' -> 'two'."""
    return " ".join(w.split("(")[0] for w in text.split())
