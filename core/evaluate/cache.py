"""Test-set evaluations remembered on disk, so a model is evaluated once, not per app start.

Evaluating the ResNet on 10,000 images takes tens of seconds on a 2-core CPU.
The cache keeps the model's test probabilities (10,000 x 10 float32, 400 KB)
under a key made of the checkpoint's bytes and the split's bytes; everything
else (accuracy, confusion matrix, mistakes) is recomputed from them by
core.evaluate.summarize, so cached and fresh results are the same numbers.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.data import Split
from core.evaluate.metrics import EvalResult, Prediction, predict_split, summarize
from core.files import atomic_write
from core.paths import configured_dir

ENV_CACHE = "MNIST_STUDIO_CACHE"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache"


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The argument, else $MNIST_STUDIO_CACHE, else ./.cache."""
    return configured_dir(explicit, ENV_CACHE, DEFAULT_CACHE_DIR)


def file_digest(path: str | os.PathLike) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def split_digest(split: Split) -> str:
    h = hashlib.sha1()
    h.update(split.images.numpy().tobytes())
    h.update(split.labels.numpy().tobytes())
    return h.hexdigest()


def evaluation_key(checkpoint: str | os.PathLike, split: Split, mean: float, std: float) -> str:
    h = hashlib.sha1()
    for part in (file_digest(checkpoint), split_digest(split), repr((float(mean), float(std)))):
        h.update(part.encode())
    return h.hexdigest()[:24]


def evaluate_cached(model: nn.Module, checkpoint: str | os.PathLike, split: Split, mean: float,
                    std: float, device: torch.device | str = "cpu",
                    folder: str | os.PathLike | None = None) -> EvalResult:
    """core.evaluate.evaluate, with the predictions kept on disk between runs.

    An unwritable cache folder only costs the speed-up, never the result.
    """
    path = cache_dir(folder) / "evaluations" / f"{evaluation_key(checkpoint, split, mean, std)}.npz"
    try:
        with np.load(path) as saved:
            probabilities, loss = saved["probabilities"], float(saved["loss"])
        if probabilities.shape == (len(split), 10):
            return summarize(Prediction(torch.from_numpy(probabilities), split.labels.cpu(), loss))
    except (OSError, ValueError, KeyError):
        pass  # missing or damaged: evaluate again
    pred = predict_split(model, split, mean, std, device)
    _save(path, pred)
    return summarize(pred)


def _save(path: Path, pred: Prediction) -> None:
    """Atomically: a reader never sees half a file. A failure only costs the cache."""
    try:
        atomic_write(path, lambda f: np.savez(f, probabilities=pred.probabilities.numpy(),
                                              loss=np.float64(pred.loss)))
    except OSError:
        pass
