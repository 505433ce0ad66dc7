"""Test-set predictions kept beside a checkpoint, so a model is never evaluated in the app.

A checkpoint `<folder>/<stem>.pt` has its predictions in `<folder>/predictions/<stem>.npz`:
shipped models in weights/predictions/ (written by scripts/ship_predictions.py), a
training run's in its run folder. The file holds the (N, 10) probabilities as
float16 (half the size; the pages show them to 3 digits), the classes argmax'd
from the full-precision outputs (uint8: a near tie rounded to float16 could
otherwise flip), the mean loss, and what they were computed from: the
checkpoint's SHA-1, the split's digest and the normalization. A file whose key
does not match (a retrained checkpoint, other data) is ignored.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from core.data import Split
from core.evaluate.metrics import Prediction

FOLDER = "predictions"


def predictions_path(checkpoint: str | os.PathLike) -> Path:
    """Where a checkpoint's predictions live: predictions/<stem>.npz beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent / FOLDER / f"{checkpoint.stem}.npz"


def _key(checkpoint: str | os.PathLike, split: Split, mean: float, std: float) -> dict:
    from core.evaluate.cache import file_digest, split_digest  # (cache imports this module)
    return {"checkpoint_sha1": file_digest(checkpoint), "split_sha1": split_digest(split),
            "normalization": repr((float(mean), float(std)))}


def save_predictions(path: str | os.PathLike, pred: Prediction, checkpoint: str | os.PathLike,
                     split: Split, mean: float, std: float) -> Path:
    """Write `pred` (of `checkpoint` on `split`) to `path`, compressed and atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"probabilities": pred.probabilities.numpy().astype(np.float16),
              "classes": pred.predicted.numpy().astype(np.uint8),
              "loss": np.float64(pred.loss)}
    arrays.update({k: np.str_(v) for k, v in _key(checkpoint, split, mean, std).items()})
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
