"""Task branches of the sentence encoder: its top layers, fine-tuned for one job.

The encoder (all-MiniLM-L6-v2, six layers) is split in two: the bottom ``SHARED_LAYERS`` are
frozen and shared by every task; each task (intents, text emotion) may bring its own copy of
the top layers, fine-tuned on its labelled examples. A caller turn then costs the shared layers
once plus the top layers once per task, instead of a whole forward pass per task, and a
fine-tuned branch is small on disk (two layers, ~3.5 M weights).

``fine_tune`` trains a branch with a cosine-softmax classifier on top (the classifier is thrown
away: the task's own head is refitted on the branch's sentence vectors). It runs on the CPU on
cached outputs of the shared layers, so an epoch costs only the top layers' forward and
backward passes. Branch weights are saved with safetensors (no pickles).
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from voicebot.errors import NLUError

SHARED_LAYERS = 4          # of 6: the top two are the branch
BRANCH_FILE = "branch.safetensors"


class EncoderBranch:
    """The encoder's top layers (fine-tuned or the original ones); ``name`` says which."""

    def __init__(self, layers, name: str):
        self.layers = layers.eval()
        self.name = name

    @classmethod
    def original(cls, embedder) -> "EncoderBranch":
        """The pre-trained top layers themselves (vectors identical to ``embedder.embed``)."""
        return cls(embedder.model.encoder.layer[SHARED_LAYERS:], "original")

    def save(self, path: str | Path) -> Path:
        """Write the branch weights (float32) to ``path`` (a ``.safetensors`` file)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.layers.state_dict().items()}, str(path),
                  metadata={"shared_layers": str(SHARED_LAYERS), "name": self.name})
        return path

    @classmethod
    def load(cls, embedder, path: str | Path) -> "EncoderBranch":
        """A branch saved by ``save``, on top of ``embedder``'s shared layers."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except (OSError, SafetensorError) as exc:
            raise NLUError(f"{path}: not a readable encoder branch ({exc})") from exc
        layers = copy.deepcopy(embedder.model.encoder.layer[SHARED_LAYERS:])
        try:
            layers.load_state_dict(state)
        except RuntimeError as exc:
            raise NLUError(f"{path}: encoder branch does not fit this encoder ({str(exc).splitlines()[0]})") from exc
        return cls(layers, Path(path).stem)

    def forward(self, hidden, mask):
        """Sentence vectors (unit length) from the shared layers' ``hidden`` states and token ``mask``."""
        import torch

        additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            hidden = layer(hidden, additive)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def pad(states: Sequence, torch):
    """Right-pad per-text hidden states (T_i, D) into a batch (N, T, D) and its mask (N, T)."""
    longest = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), longest, states[0].shape[1])
    mask = torch.zeros(len(states), longest, dtype=torch.long)
    for i, s in enumerate(states):
        hidden[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return hidden, mask


def branch_vectors(branch: EncoderBranch, states: Sequence, batch_size: int = 256) -> np.ndarray:
    """Unit sentence vectors of ``branch`` for cached shared-layer ``states``, in input order."""
    import torch

    out = np.zeros((len(states), states[0].shape[1]), dtype=np.float32)
    order = sorted(range(len(states)), key=lambda i: states[i].shape[0])
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = branch.forward(*pad([states[i] for i in idx], torch)).numpy()
    return out


def fine_tune(embedder, states: Sequence, labels: Sequence[int], *, epochs: int = 3, min_steps: int = 150,
              lr: float = 2e-4, batch_size: int = 32, scale: float = 20.0, class_weights=None, seed: int = 0,
              progress: Callable[[int, int], None] | None = None, name: str = "fine-tuned") -> EncoderBranch:
    """A copy of the top layers trained to tell ``labels`` (ints 0..K-1) apart, from cached
    shared-layer ``states`` (``Embedder.shared_states``).

    Objective: cross-entropy of ``scale`` x cosine(sentence vector, class vector), class vectors
    initialised at the class means; AdamW with linear warm-up (10 %) and decay. Runs ``epochs``
    passes, more when that is under ``min_steps`` optimiser steps (few examples). Deterministic
    for a given ``seed``. ``progress(done_steps, total_steps)`` after each step.
    """
    import torch

    torch.manual_seed(seed)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    n_classes = int(y.max()) + 1
    start = EncoderBranch.original(embedder)
    layers = copy.deepcopy(start.layers)
    vectors = torch.as_tensor(branch_vectors(start, states))
    centres = torch.stack([vectors[y == c].mean(0) for c in range(n_classes)])
    centres = torch.nn.Parameter(torch.nn.functional.normalize(centres, dim=1))
    steps_per_epoch = math.ceil(len(states) / batch_size)
    epochs = max(epochs, math.ceil(min_steps / steps_per_epoch))
    total = epochs * steps_per_epoch
    optimiser = torch.optim.AdamW([{"params": layers.parameters(), "lr": lr},
                                   {"params": [centres], "lr": lr * 10}], weight_decay=0.01)
    warm = max(1, int(0.1 * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / total))
    weight = None if class_weights is None else torch.as_tensor(np.asarray(class_weights), dtype=torch.float32)
    rng = np.random.default_rng(seed)
    branch = EncoderBranch(layers, name)
    layers.train()
    done = 0
    for _ in range(epochs):
        order = rng.permutation(len(states))
        for first in range(0, len(order), batch_size):
            idx = order[first:first + batch_size]
            sentence = branch.forward(*pad([states[i] for i in idx], torch))
            logits = scale * sentence @ torch.nn.functional.normalize(centres, dim=1).T
            loss = torch.nn.functional.cross_entropy(logits, y[idx], weight=weight)
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            done += 1
            if progress:
                progress(done, total)
    layers.eval()
    return branch
