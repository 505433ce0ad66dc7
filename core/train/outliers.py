"""What a run trains on besides its dataset: outliers, and its own images redrawn.

Outlier exposure (Hendrycks, Mazeika & Dietterich, 2019): every step also shows
the model a batch of inputs that belong to none of its classes, and trains its
answer on them toward the uniform distribution (cross-entropy to uniform), beside
the usual loss. The outliers come from core.predict.ood_sets' "train" part:
letters, random strokes, shapes, pairs and crops of the dataset's own images,
the other dataset (and, for garments, digits drawn on the canvas), textures. The
doodles and the letters of other fonts are never shown: they measure whether
"I don't know" reaches what training did not contrast.

Canvas redraws: a share of each batch's images is swapped for training images as a
person gives them to the app, preprocessed as the app does, keeping their labels:
digits redrawn as canvas strokes (core.predict.redraw), garments photographed for an
upload (core.predict.photos). A drawing with strokes of even width, or a photo, is
then an ordinary input, not an unfamiliar one.

Both pools are made once (a few minutes of CPU: every drawing goes through the
app's preprocessing) and kept in the cache folder.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.data import DataMissingError, Split
from core.evaluate.predictions import cache_dir
from core.machine.files import atomic_write
from core.predict.ood_sets import build_one, kinds_for, redraws as redraw_images

# Images per outlier family, and training images redrawn: enough that a few epochs
# rarely show the same one twice in the same place (the batches are also shifted).
PER_KIND = 3000
REDRAWS = 12000
OUTLIER_SHARE = 0.5  # outliers per step, as a share of the batch size
POOL_VERSION = 6  # bump when the generators change: cached pools are then made again


def uniform_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy from the uniform distribution to softmax(logits): the outlier
    exposure loss, smallest (log K) when the answer is a shrug."""
    return -F.log_softmax(logits.float(), dim=1).mean(1).mean()


@dataclass(frozen=True)
class ExposurePools:
    """(N, 28, 28) uint8 images: outliers to shrug at, and labelled canvas redraws."""
    outliers: torch.Tensor
    redrawn: torch.Tensor
    redrawn_labels: torch.Tensor


def _digest(split: Split) -> str:
    h = hashlib.sha1()
    h.update(split.images.numpy().tobytes())
    h.update(split.labels.numpy().tobytes())
    return h.hexdigest()[:16]


def pool_path(folder: Path, dataset: str, train: Split, per_kind: int, redraws: int,
               seed: int) -> Path:
    name = f"{dataset}-v{POOL_VERSION}-{_digest(train)}-{per_kind}-{redraws}-s{seed}.npz"
    return folder / "exposure" / name


def make_pools(dataset: str, train: Split, root: str | os.PathLike | None = None,
               per_kind: int | None = None, redraws: int | None = None, seed: int = 0,
               outliers: bool = True) -> ExposurePools:
    """Generate the pools (no cache; sizes default to PER_KIND and REDRAWS). A family
    whose data is missing (the other dataset not downloaded) is left out."""
    per_kind = PER_KIND if per_kind is None else per_kind
    redraws = REDRAWS if redraws is None else redraws
    found = []
    for kind in kinds_for(dataset, "train") if outliers and per_kind > 0 else ():
        try:
            found.append(build_one(kind, dataset, per_kind * (2 if kind == "other" else 1),
                                   "train", root))
        except DataMissingError:
            continue
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(train), min(redraws, len(train)), replace=False))
    drawn = redraw_images(train.images[chosen].numpy(), dataset, seed) if len(chosen) else \
        np.zeros((0, 28, 28), np.uint8)
    keep = drawn.reshape(len(drawn), -1).max(1) > 0 if len(drawn) else np.zeros(0, bool)
    return ExposurePools(
        torch.from_numpy(np.concatenate(found)) if found else torch.zeros(0, 28, 28, dtype=torch.uint8),
        torch.from_numpy(np.ascontiguousarray(drawn[keep])),
        train.labels[torch.from_numpy(chosen[keep])].clone())


def exposure_pools(dataset: str, train: Split, root: str | os.PathLike | None = None,
                   cache: str | os.PathLike | None = None, per_kind: int | None = None,
                   redraws: int | None = None, seed: int = 0) -> ExposurePools:
    """The pools for a run on `train`, from the cache folder when made before."""
    per_kind = PER_KIND if per_kind is None else per_kind
    redraws = REDRAWS if redraws is None else redraws
    path = pool_path(cache_dir(cache), dataset, train, per_kind, redraws, seed)
    try:
        with np.load(path) as f:
            return ExposurePools(torch.from_numpy(f["outliers"]), torch.from_numpy(f["redrawn"]),
                                 torch.from_numpy(f["redrawn_labels"]))
    except (OSError, KeyError, ValueError):
        pass
    pools = make_pools(dataset, train, root, per_kind, redraws, seed)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(f) -> None:
        np.savez_compressed(f, outliers=pools.outliers.numpy(), redrawn=pools.redrawn.numpy(),
                            redrawn_labels=pools.redrawn_labels.numpy())
    atomic_write(path, write)
    return pools
