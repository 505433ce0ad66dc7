"""Runs side by side: which ones to open on, how to name them, their settings (which
ones differ) and one metric's curves."""
from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, Sequence

from core.evaluate.percent import percent_text
from core.networks.catalog import run_stamp
from core.runs.curves import TrainingCurves
from core.runs.snapshot import RunSnapshot
from core.runs.state import RunState
from core.train.config import TrainConfig


@dataclass
class ConfigTable:
    """TrainConfig fields in field order, each with one value per run (None where the
    setting does nothing for that run); a field that does nothing for any of them is
    left out (no adversarial budget for runs without adversarial training). A field
    differs when the runs it does something for disagree."""
    fields: list[str]
    values: dict[str, list[Any]]  # field -> the runs' values, in the runs' order
    differing: list[str]  # the fields whose values are not all equal, in field order


def compare_configs(configs: Sequence[TrainConfig]) -> ConfigTable:
    unused = [c.unused() for c in configs]
    names = [f.name for f in fields(TrainConfig)
             if not configs or any(f.name not in u for u in unused)]
    values = {name: [None if name in u else getattr(c, name) for c, u in zip(configs, unused)]
              for name in names}
    differing = [name for name in names if _differ([v for v, u in zip(values[name], unused)
                                                    if name not in u])]
    return ConfigTable(names, values, differing)


def _differ(values: list[Any]) -> bool:
    """The values of the runs a setting does something for are not all equal."""
    return any(v != values[0] for v in values[1:])


class CurveMetric(str, Enum):
    VAL_ACCURACY = "val_accuracy"
    VAL_LOSS = "val_loss"
    TRAIN_LOSS = "train_loss"

    @property
    def label(self) -> str:
        return {"val_accuracy": "Validation accuracy", "val_loss": "Validation loss",
                "train_loss": "Training loss (per step, smoothed)"}[self.value]

    @property
    def noun(self) -> str:
        return {"val_accuracy": "validation accuracy", "val_loss": "validation loss",
                "train_loss": "training loss"}[self.value]

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


def _learned(run: RunSnapshot) -> bool:
    """Finished with a validation accuracy that is not near chance, on the dataset's
    whole validation set (a handwriting fine-tune's is a sample of it: not comparable)."""
    result = run.result
    return (run.state == RunState.FINISHED and result is not None and not run.finetune
            and result.val_accuracy is not None and not result.near_chance)


def default_runs(runs: Sequence[RunSnapshot], dataset: str | None = None,
                 n: int = 2) -> list[str]:
    """The runs to open on: the viewer's best finished runs by validation accuracy, on
    `dataset` (the sidebar's) where it has some; without any, everyone's best; without
    a run that learned, the newest (as `runs` come, newest first).

    Not simply the newest two: those may be a diverged and a near-chance run, which
    compare nothing."""
    learned = [r for r in runs if _learned(r)]
    pools = [[r for r in learned if r.mine and r.config.dataset == dataset],
             [r for r in learned if r.mine], learned]
    pool = next((p for p in pools if p), None)
    if pool is None:
        ordinary = [r for r in runs if not r.finetune] or list(runs)
        return [r.id for r in ordinary[:n]]
    return [r.id for r in sorted(pool, key=lambda r: -r.result.val_accuracy)[:n]]


def describe_run(run: RunSnapshot) -> str:
    """A run by what tells it apart: model, dataset, the key settings and its result,
    e.g. 'cnn · mnist · lr 0.001 · 5 epochs · val 99.12%'; a handwriting fine-tune says
    so, and on how many validation images its accuracy is (a sample of the set's)."""
    cfg = run.config
    val = run.result.val_accuracy if run.result is not None else None
    outcome = run.state.label if val is None else f"val {percent_text(val)}"
    if run.finetune and val is not None:
        images = (run.finetune.get("options") or {}).get("val_size")
        outcome += f" of {images:,} images" if isinstance(images, int) else ""
    if run.state == RunState.DIVERGED and val is not None:
        outcome = f"diverged, {outcome}"
    if run.finetune:
        return f"{cfg.model} · {cfg.dataset} · fine-tuned on handwriting · {outcome}"
    epochs = f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}"
    return f"{cfg.model} · {cfg.dataset} · lr {cfg.lr:g} · {epochs} · {outcome}"


def run_labels(runs: Sequence[RunSnapshot]) -> list[str]:
    """describe_run for each run; where two runs read the same, each of those gets its
    time stamp too, so every label names one run (a legend entry, a table column)."""
    described = [describe_run(r) for r in runs]
    return [f"{d} · {run_stamp(r.id)}" if described.count(d) > 1 else d
            for d, r in zip(described, runs)]


def missing_note(run: RunSnapshot, metric: CurveMetric) -> str:
    """Why a run has no point of `metric`: none yet, or it ended before the first one
    (not "none recorded yet" for a run that is over)."""
    first = "first step" if metric is CurveMetric.TRAIN_LOSS else "first validation"
    if run.state.active:
        return f"no {metric.noun} recorded yet"
    if run.state == RunState.DIVERGED:
        return f"diverged before its {first}"
    return f"ended before its {first}"
