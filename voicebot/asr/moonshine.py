"""``MoonshineASR``: Moonshine tiny-en (MIT) on plain onnxruntime.

The weights ship only inside PyPI ``moonshine-voice==0.1.0`` (later versions download them
at run time): ``assets/tiny-en/{encoder_model.ort, decoder_model_merged.ort, tokenizer.bin}``.
The package's own runtime is not used; its streaming mode re-decodes every 0.5 s and its VAD
clips onsets (docs/asr.md).

Moonshine's encoder takes variable-length audio (no 30 s window as Whisper's), so a short
answer costs a few tens of milliseconds. Like Whisper it is buffered: a stream collects the
audio and decodes at ``finish()``, only the speech span (``speech.speech_span``, Silero VAD),
with ``pad_s`` of silence either side. Greedy decoding; ``confidence`` is the mean token
probability. The digits grammar: a free decode, then, when that read anything but digits, a
decode allowed to emit digit tokens only; yes/no and phrase grammars map the free text
(``grammar.normalize``).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from voicebot.asr import grammar as grammars
from voicebot.asr import models
from voicebot.asr.base import ASR, Grammar, Recognition, RecognitionStream
from voicebot.asr.buffered import BufferedStream, check_stream
from voicebot.asr.speech import speech_span
from voicebot.audio.resample import resample
from voicebot.errors import ASRError, ModelNotFoundError

MODEL = "moonshine-tiny-en"
FILES = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
START, END = 1, 2  # <s>, </s>
LAYERS, HEADS, HEAD_DIM = 6, 8, 36  # tiny
MAX_TOKENS_PER_S = 6.5  # Moonshine's own cap is 6 per second of audio
MAX_DIGITS_PER_S = 3.0  # digits read out fast, one after another
MAX_PIECE_S = 9.0  # the decoder attends to at most 384 encoder frames (~9.6 s of audio)
SPACE = "\u2581"


def default_model_path() -> Path:
    """``tiny-en`` inside the installed ``moonshine-voice`` package."""
    path = models.model_path(MODEL)
    if path is None:
        raise ModelNotFoundError("Moonshine tiny-en is not installed; run `pip install moonshine-voice==0.1.0` "
                                 "(exactly 0.1.0: later versions download the weights at run time)")
    return path


class MoonshineASR(ASR):
    """Moonshine tiny-en, one onnxruntime thread per decode; safe to share between threads."""

    name = "moonshine"
    decodes_at_finish = True

    def __init__(self, model_path: str | os.PathLike | None = None, threads: int = 1, min_speech_s: float = 0.1, pad_s: float = 0.25):
        path = Path(model_path) if model_path else default_model_path()
        missing = [f for f in FILES if not (path / f).exists()]
        if missing:
            raise ModelNotFoundError(f"no Moonshine model at {path} ({', '.join(missing)} missing); run `pip install moonshine-voice==0.1.0`")
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ASRError("onnxruntime is not installed; run `pip install onnxruntime`") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3
        try:
            self._encoder = ort.InferenceSession(str(path / FILES[0]), options, providers=["CPUExecutionProvider"])
            self._decoder = ort.InferenceSession(str(path / FILES[1]), options, providers=["CPUExecutionProvider"])
            self._tokens = read_tokenizer(path / FILES[2])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ASRError(f"cannot load the Moonshine model at {path}: {exc}") from exc
        self._outputs = [o.name for o in self._decoder.get_outputs()]
        self._digit_tokens = np.array([i for i, t in enumerate(self._tokens) if _is_digit_piece(t)] + [END])
        self.model_path, self.min_speech_s, self.pad_s = path, min_speech_s, pad_s

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return grammar is None or grammar.kind in ("digits", "yesno", "phrases")

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        check_stream(self, sample_rate, grammar)
        return BufferedStream(lambda pcm, accept, passes: self.decode(resample(pcm, sample_rate, 16000), grammar))

    def decode(self, pcm16k: np.ndarray, grammar: Grammar | None = None) -> Recognition:
        """Recognise one utterance of 16 kHz int16 audio."""
        start = time.perf_counter()
        hidden = self.encode(pcm16k)
        if hidden is None:
            return Recognition("", 0.0, backend=self.name, decode_s=time.perf_counter() - start)
        raw, confidence = self.read(hidden)
        if grammar is not None and grammar.kind == "digits" and not grammars.only_digits(raw, aliases=False):
            raw, confidence = self.read(hidden, digits_only=True)
        text = grammars.normalize(raw, grammar)
        return Recognition(text, round(confidence, 4) if text else 0.0, backend=self.name, decode_s=time.perf_counter() - start)

    def encode(self, pcm16k: np.ndarray) -> list[np.ndarray] | None:
        """Encoder states of the speech in 16 kHz int16 ``pcm16k``, padded with ``pad_s`` of
        silence, one array per piece of at most ``MAX_PIECE_S`` (split at the quietest moment);
        None when there is too little speech to decode."""
        span = speech_span(np.asarray(pcm16k, dtype=np.int16), self.min_speech_s)
        if span is None:
            return None
        pad = np.zeros(int(self.pad_s * 16000), dtype=np.float32)
        audio = np.concatenate([pad, span[0].astype(np.float32) / 32768.0, pad])
        try:
            return [self._encoder.run(None, {"input_values": piece[None], "attention_mask": np.ones((1, len(piece)), np.int64)})[0]
                    for piece in _pieces(audio, int(MAX_PIECE_S * 16000))]
        except Exception as exc:  # onnxruntime errors
            raise ASRError(f"Moonshine encoding failed: {exc}") from exc

    def read(self, hidden: list[np.ndarray], digits_only: bool = False) -> tuple[str, float]:
        """Text of encoded speech (greedy) and its confidence, the mean token probability.
        ``digits_only``: only digit tokens (figures, digit words) may be chosen.
        A reading that never ended (a loop: more tokens than the audio can hold, at most
        ``MAX_TOKENS_PER_S``, or ``MAX_DIGITS_PER_S`` digits) gets confidence 0."""
        texts, logprobs, looped = [], [], False
        for states in hidden:
            seconds = states.shape[1] / 40  # the encoder gives ~40 frames per second of audio
            cap = int(4 + (MAX_DIGITS_PER_S if digits_only else MAX_TOKENS_PER_S) * seconds)
            try:
                ids, scores = self._generate(states, cap, self._digit_tokens if digits_only else None)
            except Exception as exc:  # onnxruntime errors
                raise ASRError(f"Moonshine decoding failed: {exc}") from exc
            texts.append(self.detokenize(ids))
            logprobs += scores
            looped |= len(ids) >= cap
        return " ".join(t for t in texts if t), 0.0 if looped else float(np.exp(np.mean(logprobs)))

    def _generate(self, hidden: np.ndarray, max_tokens: int, allowed: np.ndarray | None = None) -> tuple[list[int], list[float]]:
        """Greedy decoding: token ids (without <s>/</s>) and the log-probability of each choice
        (</s> included). ``allowed``: the only token ids that may be chosen."""
        past = {f"past_key_values.{layer}.{part}.{kv}": np.zeros((1, HEADS, 0, HEAD_DIM), np.float32)
                for layer in range(LAYERS) for part in ("decoder", "encoder") for kv in ("key", "value")}
        mask = np.ones(hidden.shape[:2], np.int64)
        ids, logprobs, token = [], [], START
        for step in range(max_tokens):
            out = self._decoder.run(None, {"input_ids": np.array([[token]], np.int64), "encoder_hidden_states": hidden,
                                           "encoder_attention_mask": mask, "use_cache_branch": np.array([step > 0]), **past})
            logits = out[0][0, -1].astype(np.float64)
            if allowed is not None:
                logits = _masked(logits, allowed)
            logits -= logits.max()
            token = int(np.argmax(logits))
            logprobs.append(float(logits[token] - np.log(np.exp(logits).sum())))
            if token == END:
                break
            ids.append(token)
            for name, value in zip(self._outputs[1:], out[1:]):
                key = name.replace("present", "past_key_values")
                if step == 0 or ".decoder." in key:  # the encoder's keys/values are computed once
                    past[key] = value
        return ids, logprobs

    def detokenize(self, ids: list[int]) -> str:
        """Text of token ids (SentencePiece pieces, "\u2581" for a space, byte fallback)."""
        return b"".join(self._tokens[i] for i in ids if i > END).decode("utf-8", "replace").replace(SPACE, " ").strip()


def read_tokenizer(path: Path) -> list[bytes]:
    """The pieces of Moonshine's ``tokenizer.bin``; a piece's index is its token id. Each entry
    is its length (one byte below 128, else two: ``second * 128 + first - 128``) and its bytes."""
    data, pieces, i = path.read_bytes(), [], 0
    while i < len(data):
        length = data[i]
        i += 1
        if length >= 128:
            length, i = data[i] * 128 + length - 128, i + 1
        pieces.append(data[i:i + length])
        i += length
    return pieces


def _pieces(audio: np.ndarray, longest: int) -> list[np.ndarray]:
    """``audio`` cut into pieces of at most ``longest`` samples, each cut at the quietest
    20 ms in the last third of its piece (between words, not inside one)."""
    pieces = []
    while len(audio) > longest:
        frame = 320
        start = (2 * longest // 3) // frame
        energy = [float(np.sum(audio[i * frame:(i + 1) * frame] ** 2)) for i in range(start, longest // frame)]
        cut = (start + int(np.argmin(energy))) * frame + frame // 2
        pieces.append(audio[:cut])
        audio = audio[cut:]
    return pieces + [audio]


def _masked(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    out = np.full_like(logits, -np.inf)
    out[allowed] = logits[allowed]
    return out


def _is_digit_piece(piece: bytes) -> bool:
    """A piece that writes one whole digit: a figure or a digit word (not "²" or "₂")."""
    text = piece.decode("utf-8", "replace").replace(SPACE, "").strip().lower().rstrip(".,")
    return text in grammars.DIGIT_WORDS or (len(text) == 1 and text in "0123456789")
