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
from core.evaluate.predictions import load_predictions, predictions_path, save_predictions
from core.paths import configured_dir

ENV_CACHE = "MNIST_STUDIO_CACHE"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache"


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The argument, else $MNIST_STUDIO_CACHE, else <repo>/.cache."""
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
                    folder: str | os.PathLike | None = None,
                    keep_beside_checkpoint: bool = False) -> EvalResult:
    """core.evaluate.evaluate, with the predictions kept on disk between runs.

    Looks first beside the checkpoint (predictions/<stem>.npz: shipped models, finished
    runs), then in the cache folder, and only then runs the model. With
    keep_beside_checkpoint, predictions it computes are also saved beside the
    checkpoint (a run's folder). An unwritable folder only costs the speed-up.
    """
    beside = predictions_path(checkpoint)
    pred = load_predictions(beside, checkpoint, split, mean, std)
    if pred is not None:
        return summarize(pred)
    path = cache_dir(folder) / "evaluations" / f"{evaluation_key(checkpoint, split, mean, std)}.npz"
    pred = _load(path, split)
    if pred is None:
        pred = predict_split(model, split, mean, std, device)
        _save(path, pred)
    if keep_beside_checkpoint:
        try:
            save_predictions(beside, pred, checkpoint, split, mean, std)
        except OSError:
            pass
    return summarize(pred)


def _load(path: Path, split: Split) -> Prediction | None:
    try:
        with np.load(path) as saved:
            probabilities, loss = saved["probabilities"], float(saved["loss"])
    except (OSError, ValueError, KeyError):
        return None  # missing or damaged: evaluate again
    if probabilities.shape != (len(split), 10):
        return None
    return Prediction(torch.from_numpy(probabilities), split.labels.cpu(), loss)


def _save(path: Path, pred: Prediction) -> None:
    """Atomically: a reader never sees half a file. A failure only costs the cache."""
    try:
        atomic_write(path, lambda f: np.savez(f, probabilities=pred.probabilities.numpy(),
                                              loss=np.float64(pred.loss)))
    except OSError:
        pass
