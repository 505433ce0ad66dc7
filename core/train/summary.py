"""RunSummary: what one training run achieved, under one set of names.

The CLI's --json line, a background run's status.json and the metrics in a
finished checkpoint's metadata are all `RunSummary.to_json()`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.data import DATASETS
from core.networks.models import count_parameters
from core.train.health import near_chance

if TYPE_CHECKING:
    from core.evaluate.metrics import EvalResult
    from core.train.events import TrainResult

# Older files spelled some names differently: shipped checkpoints say "epoch".
LEGACY_NAMES = {"epoch": "best_epoch"}


@dataclass
class RunSummary:
    dataset: str | None = None
    model: str | None = None
    epochs: int | None = None  # planned
    seed: int | None = None
    device: str | None = None
    best_epoch: float | None = None  # epochs completed when the best weights were taken
    val_loss: float | None = None
    val_accuracy: float | None = None  # of the best epoch (by validation loss)
    steps: int | None = None
    train_seconds: float | None = None  # wall time of the training loop, validation included
    samples_per_second: float | None = None
    stopped: bool = False
    diverged: bool = False  # the loss blew up and training ended early
    divergence: str | None = None  # what happened, and the likely cause
    parameters: int | None = None
    step_mode: str | None = None  # "cuda graph" or "eager" (None in older files)
    step_note: str | None = None  # why eager, where a graph was not possible
    precision: str | None = None  # "bf16 autocast", "fp32" or "fp32 (TF32 matmuls)"
    setup_seconds: float | None = None  # a graph's warm-up and capture, not in train_seconds
    test_loss: float | None = None  # None until the test set was evaluated
    test_accuracy: float | None = None
    per_class_accuracy: list[float] | None = None
    checkpoint: str | None = None
    run: str | None = None  # the background run's id

    @classmethod
    def of(cls, result: TrainResult, test: EvalResult | None = None,
           checkpoint: str | Path | None = None, run: str | None = None) -> "RunSummary":
        cfg = result.config
        return cls(
            dataset=cfg.dataset, model=cfg.model, epochs=cfg.epochs, seed=cfg.seed,
            device=result.device, best_epoch=result.best_epoch,
            # No finite loss (a run that diverged before its first validation): none, not NaN.
            val_loss=result.best_val_loss if math.isfinite(result.best_val_loss) else None,
            val_accuracy=result.best_val_accuracy, steps=result.steps,
            train_seconds=round(result.train_seconds, 3),
            samples_per_second=round(result.samples_per_second, 1), stopped=result.stopped,
            diverged=result.diverged, divergence=result.divergence,
            parameters=count_parameters(result.model), step_mode=result.step_mode,
            step_note=result.step_note or None, precision=result.precision,
            setup_seconds=round(result.setup_seconds, 3),
            test_loss=test.loss if test else None, test_accuracy=test.accuracy if test else None,
            per_class_accuracy=test.per_class_accuracy if test else None,
            checkpoint=None if checkpoint is None else str(checkpoint), run=run)

    @property
    def how(self) -> str:
        """'CPU (2 threads) · eager · bf16 autocast': where and how it trained."""
        parts = [self.device, self.step_mode, self.precision]
        if self.setup_seconds:
            parts.append(f"{self.setup_seconds:.2f} s graph warm-up and capture")
        return " · ".join(p for p in parts if p)

    @property
    def near_chance(self) -> bool:
        """Its best validation accuracy is under twice chance: the model barely learned."""
        classes = len(DATASETS[self.dataset].classes) if self.dataset in DATASETS else 10
        return near_chance(self.val_accuracy, classes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "RunSummary":
        """From any stored summary, old names included; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        d = {LEGACY_NAMES.get(k, k): v for k, v in d.items()}
        return cls(**{k: v for k, v in d.items() if k in names})
