"""A model's saved predictions on a split, so a model is evaluated once, not per app start.

Evaluating the ResNet on 10,000 images takes tens of seconds on a 2-core CPU,
so a model's predictions are kept on disk, in one of two places:

- beside its checkpoint: `<folder>/<stem>.pt` has its predictions in
  `<folder>/predictions/<stem>.npz` (shipped models in weights/predictions/,
  written by scripts/ship_predictions.py; a training run's in its run folder).
  The file holds the (N, 10) probabilities as float16 (half the size; the pages
  show them to 3 digits), the classes argmax'd from the full-precision outputs
  (uint8: a near tie rounded to float16 could otherwise flip), the mean loss,
  and what they were computed from: the checkpoint's SHA-1, the split's digest
  and the normalization. A file whose key does not match (a retrained
  checkpoint, other data) is ignored.
- else in the cache folder (every other model): the test probabilities
  (10,000 x 10 float32, 400 KB) under a key made of the checkpoint's bytes and
  the split's bytes.

Everything else (accuracy, confusion matrix, mistakes) is recomputed from them
by core.evaluate.summarize, so saved and fresh results are the same numbers.
`evaluate_cached` looks in both places before it runs the model.
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
from core.machine.files import atomic_write
from core.machine.paths import ROOT, configured_dir

FOLDER = "predictions"
ENV_CACHE = "MNIST_STUDIO_CACHE"
DEFAULT_CACHE_DIR = ROOT / ".cache"  # gitignored (/.cache/)


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


def predictions_path(checkpoint: str | os.PathLike) -> Path:
    """Where a checkpoint's predictions live: predictions/<stem>.npz beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent / FOLDER / f"{checkpoint.stem}.npz"


def _key(checkpoint: str | os.PathLike, split: Split, mean: float, std: float) -> dict:
    return {"checkpoint_sha1": file_digest(checkpoint), "split_sha1": split_digest(split),
            "normalization": repr((float(mean), float(std)))}


def save_predictions(path: str | os.PathLike, pred: Prediction, checkpoint: str | os.PathLike,
                     split: Split, mean: float, std: float) -> Path:
    """Write `pred` (of `checkpoint` on `split`) to `path`, compressed and atomically."""
    arrays = {"probabilities": pred.probabilities.numpy().astype(np.float16),
              "classes": pred.predicted.numpy().astype(np.uint8),
              "loss": np.float64(pred.loss)}
    arrays.update({k: np.str_(v) for k, v in _key(checkpoint, split, mean, std).items()})
    return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def load_predictions(path: str | os.PathLike, checkpoint: str | os.PathLike, split: Split,
                     mean: float, std: float) -> Prediction | None:
    """The predictions in `path` when they are `checkpoint`'s on `split`; else None."""
    try:
        with np.load(path) as saved:
            stored_key = {k: str(saved[k]) for k in ("checkpoint_sha1", "split_sha1",
                                                     "normalization")}
            probabilities = saved["probabilities"].astype(np.float32)
            classes, loss = saved["classes"].astype(np.int64), float(saved["loss"])
    except (OSError, ValueError, KeyError):
        return None  # none, or damaged: evaluate instead
    if probabilities.shape != (len(split), 10) or classes.shape != (len(split),):
        return None
    if stored_key != _key(checkpoint, split, mean, std):
        return None
    return Prediction(torch.from_numpy(probabilities), split.labels.cpu(), loss,
                      torch.from_numpy(classes))


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
