"""The training images an answer leans on: nearest neighbours in the model's own features.

A model's features are the input of its last nn.Linear (the classifier), as for the
embedding map (core.evaluate.embedding.penultimate_features); two images are near
when their features point the same way (cosine similarity). For an input, the k
training images nearest to it, with their labels, say what the model compares it
with: "your A sits among these 4s".

The training images are the 48,000 the app's runs train on (core.data.load_bundle's
train part, never the 12,000 validation images or the test set). Their features cost
a pass of the model over all of them (minutes for the ResNet on a 2-core CPU), so they
are computed once per model and kept as unit vectors in float16 (48,000 x 128 x 2
bytes = 12 MB for the ResNet, before compression), in one of two places, like the
test predictions (core.evaluate.predictions):

- beside the checkpoint: `<folder>/neighbours/<stem>.npz` (the shipped models', written
  by scripts/ship_neighbours.py);
- else in the cache folder, under a key of the checkpoint's and the split's bytes.

Each file names the checkpoint's SHA-1, the split's digest and the normalisation it
was computed from; a file that does not match (a retrained checkpoint, other data) is
ignored and the features are computed again rather than answering for another model.

A query is exact over the stored vectors: every cosine, in float32, then the top k
(ties: the lower index first), the same answer as a brute-force search. Rounding the
features to float16 moves a cosine by less than 0.001 (each number by at most 2^-11 of
itself, the vector's length likewise); where two training images are closer than that
to the k-th place it may swap them, never put in one that is clearly farther
(`python -m bench.neighbours --float16-effect` measures how often: docs/speed.md).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from core.data import Split
from core.evaluate.embedding import last_linear, penultimate_features
from core.evaluate.predictions import cache_dir, evaluation_key, file_digest, split_digest
from core.machine.files import atomic_write
from core.networks.models import device_of, evaluating

FOLDER = "neighbours"
FORMAT = "neighbours/1"  # what the file holds; a file of another format is computed again
K = 8
# Wider features are not kept: 48,000 x 1,024 float16 numbers are 98 MB per model.
MAX_FEATURES = 1024
CHUNK = 8192  # rows converted to float32 at a time in a query (they stay in the cache)
BATCH = 1000  # images per forward pass while computing; progress is reported per batch

Progress = Callable[[int, int], None]  # (images done, images in all)


class NoFeatures(ValueError):
    """The model has no features of its own to compare images in; the message says why."""


def feature_problem(model: nn.Module) -> str | None:
    """Why neighbours in this model's features would mean nothing (or cost too much), or
    None when they are fine."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        return "it has no fully connected classifier layer, so no features before it"
    last = linears[-1]
    if not any(isinstance(m, (nn.Conv2d, nn.Linear)) and m is not last for m in model.modules()):
        return ("its only learned layer is the classifier itself: it has no features of its "
                "own, only the pixels it was given")
    if last.in_features > MAX_FEATURES:
        return (f"its last hidden layer gives {last.in_features:,} numbers per image; "
                f"neighbours are kept for at most {MAX_FEATURES:,}")
    return None


def require_features(model: nn.Module) -> None:
    problem = feature_problem(model)
    if problem is not None:
        raise NoFeatures(f"No nearest training images for this model: {problem}.")


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (an all-zero row stays zero: similar to nothing)."""
    x = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def compute_features(model: nn.Module, split: Split, mean: float, std: float,
                     on_progress: Progress | None = None) -> np.ndarray:
    """(N, D) float16 unit vectors: the model's features of every image of the split."""
    require_features(model)
    parts, total = [], len(split)
    for start in range(0, total, BATCH):
        part = split.subset(torch.arange(start, min(start + BATCH, total)))
        parts.append(unit_rows(penultimate_features(model, part, mean, std)).astype(np.float16))
        if on_progress is not None:
            on_progress(start + len(part), total)
    width = last_linear(model).in_features
    return np.concatenate(parts) if parts else np.zeros((0, width), np.float16)


# ------------------------------------------------------------------ on disk

def features_path(checkpoint: str | os.PathLike) -> Path:
    """Where a checkpoint's shipped features live: neighbours/<stem>.npz beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent / FOLDER / f"{checkpoint.stem}.npz"


def cached_path(checkpoint: str | os.PathLike, split: Split, mean: float, std: float,
                folder: str | os.PathLike | None = None) -> Path:
    return cache_dir(folder) / FOLDER / f"{evaluation_key(checkpoint, split, mean, std)}.npz"


def _key(checkpoint: str | os.PathLike, split: Split, mean: float, std: float) -> dict:
    return {"format": FORMAT, "checkpoint_sha1": file_digest(checkpoint),
            "split_sha1": split_digest(split), "normalization": repr((float(mean), float(std)))}


def save_features(path: str | os.PathLike, features: np.ndarray, checkpoint: str | os.PathLike,
                  split: Split, mean: float, std: float) -> Path:
    """Write `features` (of `checkpoint` on `split`) to `path`, atomically."""
    arrays = {"features": np.asarray(features, dtype=np.float16)}
    arrays.update({k: np.str_(v) for k, v in _key(checkpoint, split, mean, std).items()})
    return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def load_features(path: str | os.PathLike, checkpoint: str | os.PathLike, split: Split,
                  mean: float, std: float) -> np.ndarray | None:
    """The features in `path` when they are `checkpoint`'s on `split`; else None (none,
    damaged, or another model's or split's: stale files are never used)."""
    try:
        with np.load(path) as saved:
            stored = {k: str(saved[k]) for k in ("format", "checkpoint_sha1", "split_sha1",
                                                 "normalization")}
            if stored != _key(checkpoint, split, mean, std):
                return None
            features = saved["features"]
    except (OSError, ValueError, KeyError):
        return None
    if features.dtype != np.float16 or features.ndim != 2 or len(features) != len(split):
        return None
    return features


# ------------------------------------------------------------------ the index

@dataclass(frozen=True)
class Neighbour:
    index: int  # position in the split the index was built from
    label: int
    similarity: float  # cosine, -1..1


@dataclass(frozen=True)
class Neighbours:
    items: list[Neighbour]  # nearest first
    predicted: int  # the model's answer for the input

    @property
    def agreeing(self) -> int:
        """How many of them carry the model's answer as their label."""
        return sum(n.label == self.predicted for n in self.items)

    def label_counts(self) -> list[tuple[int, int]]:
        """(label, count) among them, most frequent first (ties: the nearer label first)."""
        counts: dict[int, int] = {}
        for n in self.items:
            counts[n.label] = counts.get(n.label, 0) + 1
        return sorted(counts.items(), key=lambda lc: -lc[1])


class FeatureIndex:
    """A split's features (float16 unit vectors, as stored) and labels, searched exactly."""

    def __init__(self, features: np.ndarray, labels: torch.Tensor) -> None:
        if len(features) != len(labels):
            raise ValueError(f"{len(features)} feature rows for {len(labels)} labels")
        self.vectors = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float16))
        # The stored rows are unit vectors up to float16 rounding; dividing by their own
        # length makes every score the exact cosine of the stored vector.
        lengths = torch.cat([self.vectors[i:i + CHUNK].float().norm(dim=1)
                             for i in range(0, len(self.vectors), CHUNK)]) if len(self.vectors) \
            else torch.zeros(0)
        self.inverse_lengths = torch.where(lengths > 0, 1 / lengths.clamp_min(1e-30),
                                           torch.zeros(()))
        self.labels = labels.to(torch.int64).cpu()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def width(self) -> int:
        return self.vectors.shape[1]

    def similarities(self, query: torch.Tensor) -> torch.Tensor:
        """(N,) float32: the cosine of `query` (D,) with every stored vector."""
        q = query.detach().float().reshape(-1).cpu()
        if q.numel() != self.width:
            raise ValueError(f"a query of {q.numel()} features for an index of {self.width}")
        q = q / q.norm().clamp_min(1e-30)
        out = torch.empty(len(self))
        for i in range(0, len(self), CHUNK):  # float32 arithmetic, a cache-sized chunk at a time
            torch.mv(self.vectors[i:i + CHUNK].float(), q, out=out[i:i + CHUNK])
        return out.mul_(self.inverse_lengths)

    def nearest(self, query: torch.Tensor, k: int = K) -> list[tuple[int, float]]:
        """The k (index, cosine) pairs most similar to `query`, most similar first; equal
        cosines in index order, so the answer does not depend on the search's internals."""
        scores = self.similarities(query)
        k = min(k, len(self))
        if k <= 0:
            return []
        kth = scores.topk(k).values[-1]
        tied = torch.nonzero(scores >= kth).reshape(-1).numpy()  # k, or more on a tie
        values = scores.numpy()[tied]
        order = np.lexsort((tied, -values))[:k]
        return [(int(tied[i]), float(values[i])) for i in order]


def input_features(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (D,), logits (10,)) of one normalised input x (1, 1, 28, 28), from one
    forward pass. The hook records only this thread's pass: the app's models are shared."""
    require_features(model)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"one input at a time: expected (1, 1, 28, 28), got {tuple(x.shape)}")
    caller, caught = threading.get_ident(), []

    def record(_module, inputs) -> None:
        if threading.get_ident() == caller:
            caught.append(inputs[0].detach().float().cpu().reshape(-1))

    handle = last_linear(model).register_forward_pre_hook(record)
    try:
        with evaluating(model), torch.inference_mode():
            logits = model(x.to(device_of(model))).detach().float().cpu().reshape(-1)
    finally:
        handle.remove()
    return caught[0], logits


def neighbours(model: nn.Module, index: FeatureIndex, x: torch.Tensor, k: int = K) -> Neighbours:
    """The k training images nearest to the input x in the model's features, and its answer."""
    features, logits = input_features(model, x)
    if features.numel() != index.width:
        raise ValueError(f"the model gives {features.numel()} features but the index holds "
                         f"{index.width}: not this model's index")
    found = index.nearest(features, k)
    return Neighbours([Neighbour(i, int(index.labels[i]), s) for i, s in found],
                      int(logits.argmax()))


# ------------------------------------------------------------------ finding or making one

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(path), threading.Lock())


def stored_index(checkpoint: str | os.PathLike, split: Split, mean: float, std: float,
                 folder: str | os.PathLike | None = None) -> FeatureIndex | None:
    """The index from disk (beside the checkpoint, then the cache), computing nothing;
    None when neither place has this checkpoint's features on this split."""
    for path in (features_path(checkpoint), cached_path(checkpoint, split, mean, std, folder)):
        features = load_features(path, checkpoint, split, mean, std)
        if features is not None:
            return FeatureIndex(features, split.labels)
    return None


def training_index(model: nn.Module, checkpoint: str | os.PathLike, split: Split, mean: float,
                   std: float, folder: str | os.PathLike | None = None,
                   on_progress: Progress | None = None) -> FeatureIndex:
    """The index of `split` in `model`'s features: read from disk when it was computed
    before, else computed (on_progress is told how far) and kept in the cache folder.
    One computation per checkpoint at a time in a process: a second caller waits for it.
    An unwritable cache only costs the speed-up."""
    require_features(model)
    found = stored_index(checkpoint, split, mean, std, folder)
    if found is not None:
        return found
    path = cached_path(checkpoint, split, mean, std, folder)
    with _lock(path):
        features = load_features(path, checkpoint, split, mean, std)  # made meanwhile?
        if features is None:
            features = compute_features(model, split, mean, std, on_progress)
            try:
                save_features(path, features, checkpoint, split, mean, std)
            except OSError:
                pass
    return FeatureIndex(features, split.labels)
