"""Fine-tuning a trained model on a small labelled set (a visitor's handwriting), measured honestly.

A thin layer over the trainer: the run is an ordinary `train()` (same TrainConfig,
loop, events, stop and resume), started from the base checkpoint's weights, on a
training split made of the set's training drawings (each repeated `repeats` times)
mixed with `replay` images of the dataset's own training split, so that the model
learns the new writer without forgetting the old ones.

The measure is honest: a fixed, per-class split of the set keeps `holdout` of each
class's drawings out of training, and the base and fine-tuned models are both scored
on them; the dataset's test set is scored before and after too. The best weights are
chosen on a sample of the dataset's validation split (the loop's rule), never on the
held-out drawings or the test set.

Used by `python -m core.train finetune` (core/train/finetune_cli.py) and by the run
system's worker for the app's fine-tune runs (the run's config carries a `finetune`
entry: FinetuneJob.to_json).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data import DATASETS, DataBundle, Split
from core.data.imageset import ImageSet, read_npz
from core.evaluate.metrics import evaluate
from core.evaluate.predictions import evaluate_cached
from core.networks.checkpoints import Checkpoint, CheckpointError, load_checkpoint
from core.train.config import TrainConfig

MEASURE_FILE = "finetune.json"  # a fine-tune run's measure, in its run folder
SET_FILE = "finetune-set.npz"  # the set it trained on, copied into its run folder


class FinetuneError(ValueError):
    """The set or the model cannot be fine-tuned; the message says why and what to do.
    `without_holdout`: holding no drawings out would let it start (each front end says
    how in its own words: the CLI's --holdout 0, the page's "none")."""

    def __init__(self, message: str, without_holdout: bool = False) -> None:
        super().__init__(message)
        self.without_holdout = without_holdout


@dataclass(frozen=True)
class FinetuneOptions:
    """How a fine-tune trains. The defaults were chosen on a validation writer (see
    docs/handwriting.md), never on the held-out drawings or the test set."""
    holdout: float = 0.5  # share of each class's drawings kept out of training, to test on
    repeats: int = 10  # each training drawing appears this often per epoch
    replay: int = 500  # images of the dataset's training split mixed in
    val_size: int = 1000  # images of its validation split that choose the best weights
    epochs: int = 1
    batch_size: int = 64
    lr: float = 3e-4
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if not 0 <= self.holdout < 1:
            raise FinetuneError(f"holdout must be at least 0 and below 1, got {self.holdout:g}")
        for name in ("repeats", "epochs", "batch_size", "val_size"):
            if getattr(self, name) < 1:
                raise FinetuneError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.replay < 0:
            raise FinetuneError(f"replay must be at least 0, got {self.replay}")

    @property
    def min_per_class(self) -> int:
        """Drawings each taught class needs: one to learn from, and one to test on."""
        return 2 if self.holdout > 0 else 1


@dataclass
class Measure:
    """Accuracy before and after, on the held-out drawings and the dataset's test set."""
    base: str  # the base model, as a person names it
    train_count: int  # drawings trained on
    held_out_count: int  # drawings kept out to test on (0: --holdout 0)
    held_out_before: float | None
    held_out_after: float | None
    test_before: float
    test_after: float
    train_counts: list[int] = field(default_factory=list)  # per class
    held_out_counts: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Measure":
        return cls(**d)

    def lines(self) -> list[str]:
        out = []
        if self.held_out_count:
            out.append(f"held-out drawings ({self.held_out_count}): {self.held_out_before:.2%} -> "
                       f"{self.held_out_after:.2%} ({100 * (self.held_out_after - self.held_out_before):+.1f} points)")
        out.append(f"test set: {self.test_before:.2%} -> {self.test_after:.2%} "
                   f"({100 * (self.test_after - self.test_before):+.2f} points)")
        return out


def check_set(labels: np.ndarray, options: FinetuneOptions, noun: str = "drawings") -> None:
    """FinetuneError for an empty set, or a class with too few drawings to learn and test."""
    if len(labels) == 0:
        raise FinetuneError(f"The set is empty: there are no {noun} to fine-tune on.")
    counts = np.bincount(labels, minlength=10)
    short = [f"{c} has {n}" for c, n in enumerate(counts) if 0 < n < options.min_per_class]
    if short:
        why = ("one to learn from and one held out to test on"
               if options.holdout > 0 else "one to learn from")
        raise FinetuneError(
            f"Too few {noun}: each digit you teach needs at least {options.min_per_class} "
            f"({why}); {', '.join(short)}. Add more of those digits.",
            without_holdout=options.holdout > 0)


def split_holdout(labels: np.ndarray, holdout: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices): per class, round(n * holdout) of its n drawings
    held out (at least one, and at least one left to train on), chosen by the seed."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = 0 if holdout == 0 else min(len(idx) - 1, max(1, round(len(idx) * holdout)))
        held.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(held, dtype=np.int64))


def base_model(path: str | Path, dataset: str | None = None) -> Checkpoint:
    """The checkpoint to start from; FinetuneError when it cannot be fine-tuned."""
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as err:
        raise FinetuneError(f"This model cannot be fine-tuned: {err}") from None
    meta = ckpt.meta
    if dataset is not None and meta.dataset != dataset:
        raise FinetuneError(
            f"This model classifies {DATASETS[meta.dataset].title}; the set holds "
            f"{DATASETS[dataset].title.split()[-1].lower()}. Choose a {DATASETS[dataset].title} model.")
    return ckpt


def train_config(ckpt: Checkpoint, options: FinetuneOptions,
                 data_dir: str | None = None) -> TrainConfig:
    """The run's TrainConfig: the base model's dataset and architecture, the fine-tune's
    schedule (a constant, small learning rate: the weights start trained)."""
    return TrainConfig(dataset=ckpt.meta.dataset, model=ckpt.meta.architecture,
                       layers=ckpt.meta.layers,
                       epochs=options.epochs, batch_size=options.batch_size, lr=options.lr,
                       optimizer="adam", schedule="constant", seed=options.seed,
                       device=options.device, data_dir=data_dir)


def mixed_bundle(data: DataBundle, images: np.ndarray, labels: np.ndarray,
                 options: FinetuneOptions) -> DataBundle:
    """Training: the drawings, each `repeats` times, and `replay` training images of the
    dataset; validation: the first `val_size` of its validation split; test: its test set."""
    g = torch.Generator().manual_seed(options.seed)
    replay = torch.randperm(len(data.train), generator=g)[:options.replay]
    mine = Split(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels))
    reps = torch.arange(len(mine)).repeat(options.repeats)
    train = Split(torch.cat([mine.images[reps], data.train.images[replay]]),
                  torch.cat([mine.labels[reps], data.train.labels[replay]]))
    val = data.val.subset(torch.arange(min(options.val_size, len(data.val))))
    return DataBundle(data.spec, train, val, data.test)


def accuracy(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray,
             mean: float, std: float) -> float | None:
    if len(labels) == 0:
        return None
    split = Split(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels))
    return evaluate(model, split, mean, std).accuracy


@dataclass
class FinetuneJob:
    """One fine-tune, ready to train: the base model, the set split, the mixed data."""
    base_path: str
    base_name: str
    options: FinetuneOptions
    base: Checkpoint
    images: np.ndarray
    labels: np.ndarray
    train_idx: np.ndarray
    held_idx: np.ndarray
    data: DataBundle  # the mixed training data (set after prepare)

    @classmethod
    def prepare(cls, base_path: str | Path, imageset: ImageSet, options: FinetuneOptions,
                data: DataBundle, base_name: str | None = None,
                dataset: str | None = None) -> "FinetuneJob":
        """Check the model and the set, split it, mix the training data. Raises FinetuneError."""
        base = base_model(base_path, dataset)
        check_set(imageset.labels, options)
        if data.spec.name != base.meta.dataset:
            raise FinetuneError(f"the data is {data.spec.name}, the model's is {base.meta.dataset}")
        train_idx, held_idx = split_holdout(imageset.labels, options.holdout, options.seed)
        mixed = mixed_bundle(data, imageset.images[train_idx], imageset.labels[train_idx], options)
        return cls(str(base_path), base_name or Path(base_path).name, options, base,
                   imageset.images, imageset.labels, train_idx, held_idx, mixed)

    @property
    def init_weights(self) -> dict[str, torch.Tensor]:
        return self.base.model.state_dict()

    def config(self, data_dir: str | None = None) -> TrainConfig:
        return train_config(self.base, self.options, data_dir)

    def measure(self, tuned: torch.nn.Module, test_after: float, test_before: float | None = None
                ) -> Measure:
        """Both models on the held-out drawings; the base on the test set unless given."""
        meta = self.base.meta
        held_x, held_y = self.images[self.held_idx], self.labels[self.held_idx]
        if test_before is None:
            test_before = evaluate_cached(self.base.model, self.base_path, self.data.test,
                                          meta.mean, meta.std).accuracy
        return Measure(
            base=self.base_name, train_count=len(self.train_idx), held_out_count=len(self.held_idx),
            held_out_before=accuracy(self.base.model, held_x, held_y, meta.mean, meta.std),
            held_out_after=accuracy(tuned, held_x, held_y, meta.mean, meta.std),
            test_before=test_before, test_after=test_after,
            train_counts=np.bincount(self.labels[self.train_idx], minlength=10).tolist(),
            held_out_counts=np.bincount(held_y, minlength=10).tolist())


# ---- the app's fine-tune runs: what the run's config carries, and what the worker does

def run_entry(base_path: str | Path, base_name: str, options: FinetuneOptions) -> dict[str, Any]:
    """The `finetune` entry of a fine-tune run's config (the set itself is SET_FILE in
    the run's folder)."""
    return {"base": str(base_path), "base_name": base_name, "set": SET_FILE,
            "options": asdict(options)}


def estimate_samples(set_size: int, options: FinetuneOptions) -> tuple[int, int]:
    """(training samples per epoch, validation samples) of a fine-tune of a set this size,
    for the run's cost estimate (the held-out drawings are not trained on)."""
    held = 0 if options.holdout == 0 else math.ceil(set_size * options.holdout)
    return (set_size - held) * options.repeats + options.replay, options.val_size


def job_for_run(entry: dict[str, Any], run_dir: Path, data: DataBundle) -> FinetuneJob:
    """The job a fine-tune run's config describes (the worker calls this)."""
    options = FinetuneOptions(**{k: v for k, v in entry.get("options", {}).items()
                                 if k in FinetuneOptions.__dataclass_fields__})
    path = run_dir / entry.get("set", SET_FILE)
    if not path.is_file():
        raise FinetuneError(f"the fine-tune's set ({path.name}) is missing from its run folder")
    return FinetuneJob.prepare(entry["base"], read_npz(path), options, data,
                               entry.get("base_name"))


def measure_bytes(measure: Measure) -> bytes:
    return json.dumps(measure.to_json(), indent=1).encode()


def read_measure(run_dir: str | Path) -> Measure | None:
    """A fine-tune run's measure, once it has one."""
    try:
        return Measure.from_json(json.loads((Path(run_dir) / MEASURE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None

