"""Runs side by side: their settings (which ones differ) and one metric's curves."""
from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, Sequence

from core.runs.curves import TrainingCurves
from core.train.config import TrainConfig


@dataclass
class ConfigTable:
    """TrainConfig fields in field order, each with one value per run."""
    fields: list[str]
    values: dict[str, list[Any]]  # field -> the runs' values, in the runs' order
    differing: list[str]  # the fields whose values are not all equal, in field order


def differing_fields(configs: Sequence[TrainConfig]) -> list[str]:
    """The TrainConfig fields on which the runs disagree (none for fewer than two runs)."""
    return compare_configs(configs).differing


def compare_configs(configs: Sequence[TrainConfig]) -> ConfigTable:
    names = [f.name for f in fields(TrainConfig)]
    values = {name: [getattr(c, name) for c in configs] for name in names}
    differing = [name for name in names if any(v != values[name][0] for v in values[name][1:])]
    return ConfigTable(names, values, differing)


class CurveMetric(str, Enum):
    VAL_ACCURACY = "val_accuracy"
    VAL_LOSS = "val_loss"
    TRAIN_LOSS = "train_loss"

    @property
    def label(self) -> str:
        return {"val_accuracy": "Validation accuracy", "val_loss": "Validation loss",
                "train_loss": "Training loss (per step, smoothed)"}[self.value]

    @property
    def x_title(self) -> str:
        return "step" if self is CurveMetric.TRAIN_LOSS else "epoch"

    @property
    def is_accuracy(self) -> bool:
        return self is CurveMetric.VAL_ACCURACY


def metric_series(curves: TrainingCurves, metric: CurveMetric) -> tuple[list[float], list[float]]:
    """(x, y) of one metric: per epoch for validation, per (thinned) step for training loss."""
    if metric is CurveMetric.VAL_ACCURACY:
        return list(curves.epoch), list(curves.val_accuracy)
    if metric is CurveMetric.VAL_LOSS:
        return list(curves.epoch), list(curves.val_loss)
    return list(curves.step), list(curves.loss_smooth)
