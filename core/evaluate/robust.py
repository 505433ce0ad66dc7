"""Accuracy under attack: the share of test images a model still gets right after PGD.

PGD with an L-inf budget eps in pixel units (core.predict.attacks.perturb), untargeted from
the true class, no random start (deterministic, so a result can be cached and checked),
a step of 2.5 * eps / steps; a sample stops moving once it is misclassified, so it
counts as wrong if any step fooled the model. Clean accuracy is measured on the same
images, so the two numbers compare.

The attack costs `steps` forward and backward passes per image: on the 2-core CPU the
whole test set would take minutes per model and budget, so by default the first
DEFAULT_SAMPLES test images (a fixed subset, the same for every model) are attacked.
Results are kept on disk in the cache folder (cache/robust/<key>.json), keyed by the
checkpoint's bytes, the images, the normalisation, eps, steps and samples. A checkpoint
may ship its results beside it, in robust/<stem>.json (weights/robust/ for the default
models, written by scripts/ship_insights.py), under the same keys: they are read first.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from core.predict.attacks import check_budget, perturb, pgd_step_size
from core.data import Split
from core.machine.files import atomic_write
from core.networks.models import evaluating
from core.evaluate.predictions import cache_dir, file_digest, split_digest

DEFAULT_SAMPLES = 1000  # the first 1,000 test images
DEFAULT_STEPS = 20
BUDGETS = (0.05, 0.1, 0.2, 0.3)  # the budgets Evaluate offers (and ships for the defaults)
BATCH = 100  # images attacked at a time: the progress a page shows moves by this many
FOLDER = "robust"  # beside a checkpoint, and in the cache folder
VERSION = 1  # bump when the attack changes: older cached results are then ignored


@dataclass
class RobustResult:
    eps: float  # pixel units
    steps: int
    samples: int  # the first `samples` images of the split
    clean_accuracy: float  # on those images, unperturbed
    robust_accuracy: float  # on those images, after PGD
    seconds: float  # the computation's time (0 for a result read from the cache)

    def to_json(self) -> dict:
        return asdict(self)


def _first(split: Split, samples: int) -> Split:
    if not 1 <= samples <= len(split):
        raise ValueError(f"samples must be from 1 to {len(split):,}, got {samples}")
    return Split(split.images[:samples], split.labels[:samples])


def robust_accuracy(model: nn.Module, split: Split, mean: float, std: float, eps: float,
                    steps: int = DEFAULT_STEPS, samples: int = DEFAULT_SAMPLES,
                    device: torch.device | str = "cpu", batch_size: int = BATCH,
                    progress: Callable[[int, int], None] | None = None) -> RobustResult:
    """Clean and PGD accuracy on the first `samples` images of `split`; `progress(done,
    samples)` after each batch."""
    check_budget(eps, steps, "pgd")
    subset, start = _first(split, samples), time.perf_counter()
    clean = robust = 0
    with evaluating(model):
        for i in range(0, samples, batch_size):
            x = (subset.images[i:i + batch_size].float() / 255).unsqueeze(1).to(device)
            y = subset.labels[i:i + batch_size].to(device)
            with torch.inference_mode():
                clean += int((model((x - mean) / std).argmax(1) == y).sum())
            adv, _ = perturb(model, x, y, eps, steps, pgd_step_size(eps, steps), mean, std)
            with torch.inference_mode():
                robust += int((model((adv - mean) / std).argmax(1) == y).sum())
            if progress is not None:
                progress(min(i + batch_size, samples), samples)
    return RobustResult(float(eps), steps, samples, clean / samples, robust / samples,
                        time.perf_counter() - start)


def robust_key(checkpoint: str | os.PathLike, split: Split, mean: float, std: float,
               eps: float, steps: int, samples: int) -> str:
    h = hashlib.sha1()
    parts = (file_digest(checkpoint), split_digest(_first(split, samples)),
             repr((float(mean), float(std), float(eps), steps, samples, VERSION)))
    for part in parts:
        h.update(part.encode())
    return h.hexdigest()[:24]


def shipped_path(checkpoint: str | os.PathLike) -> Path:
    """Where a checkpoint's shipped results live: robust/<stem>.json beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent / FOLDER / f"{checkpoint.stem}.json"


def read_shipped(checkpoint: str | os.PathLike) -> dict[str, RobustResult]:
    """{robust_key: result} shipped beside the checkpoint; {} when none or unreadable."""
    try:
        data = json.loads(shipped_path(checkpoint).read_text())
        return {key: RobustResult(**{**item, "seconds": 0.0})
                for key, item in data.get("results", {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def write_shipped(checkpoint: str | os.PathLike, results: dict[str, RobustResult]) -> Path:
    """Write the results (keyed by robust_key) beside the checkpoint."""
    payload = {"checkpoint": Path(checkpoint).name, "version": VERSION,
               "results": {k: v.to_json() for k, v in sorted(results.items())}}
    path = shipped_path(checkpoint)
    atomic_write(path, (json.dumps(payload, indent=1) + "\n").encode())
    return path


def robust_cached(model: nn.Module, checkpoint: str | os.PathLike, split: Split, mean: float,
                  std: float, eps: float, steps: int = DEFAULT_STEPS,
                  samples: int = DEFAULT_SAMPLES, device: torch.device | str = "cpu",
                  folder: str | os.PathLike | None = None,
                  progress: Callable[[int, int], None] | None = None) -> RobustResult:
    """robust_accuracy, computed once per checkpoint and setting, then read from the cache
    folder (or shipped beside the checkpoint). An unwritable cache only costs the speed-up."""
    check_budget(eps, steps, "pgd")
    saved = cached_only(checkpoint, split, mean, std, eps, steps, samples, folder)
    if saved is not None:
        return saved
    result = robust_accuracy(model, split, mean, std, eps, steps, samples, device,
                             progress=progress)
    key = robust_key(checkpoint, split, mean, std, eps, steps, samples)
    try:
        atomic_write(cache_dir(folder) / FOLDER / f"{key}.json",
                     json.dumps(result.to_json()).encode())
    except OSError:
        pass
    return result


def cached_only(checkpoint: str | os.PathLike, split: Split, mean: float, std: float,
                eps: float, steps: int = DEFAULT_STEPS, samples: int = DEFAULT_SAMPLES,
                folder: str | os.PathLike | None = None) -> RobustResult | None:
    """The shipped or cached result, or None when it has not been computed yet (no model
    pass)."""
    key = robust_key(checkpoint, split, mean, std, eps, steps, samples)
    shipped = read_shipped(checkpoint).get(key)
    if shipped is not None:
        return shipped
    return _load(cache_dir(folder) / FOLDER / f"{key}.json")


def _load(path: Path) -> RobustResult | None:
    try:
        data = json.loads(path.read_text())
        result = RobustResult(**data)
    except (OSError, ValueError, TypeError):
        return None  # none, or damaged: compute again
    return RobustResult(**{**asdict(result), "seconds": 0.0})
