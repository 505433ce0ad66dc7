"""Training curves ready to draw: the per-step loss smoothed, thinned, plus per-epoch points.

The live view redraws once a second while the trainer shares the CPU, so it
sends a few hundred points, not every step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

MAX_POINTS = 400


def smooth(values: Sequence[float], weight: float = 0.9) -> np.ndarray:
    """Exponential moving average, debiased (as TensorBoard draws it).

    Debiasing divides by 1 - weight**t, so the first points are not dragged
    toward zero by the average's zero start.
    """
    x = np.asarray(values, dtype=np.float64)
    if not 0.0 <= weight < 1.0:
        raise ValueError("weight must be in [0, 1)")
    # The recurrence acc[i] = weight * acc[i-1] + (1 - weight) * x[i], as a prefix
    # scan in log2(n) whole-array passes instead of n Python steps (a 300,000-step
    # run is redrawn every second): after the pass with stride d, acc[i] holds the
    # last 2d terms, each already weighted by weight**age. Only powers of weight
    # below 1 appear, so nothing overflows; the loop stops once they underflow to 0.
    acc = (1.0 - weight) * x
    stride, decay = 1, weight
    while stride < len(acc) and decay > 0.0:
        acc[stride:] = acc[stride:] + decay * acc[:-stride]
        stride, decay = 2 * stride, decay * decay
    # Debiasing: 1 - weight**t is exactly 1.0 once weight**t < 2**-60, so only the
    # first steps need the (slow, for some weights) power.
    young = min(len(acc), 1 if weight == 0.0 else math.ceil(60 * math.log(2) / -math.log(weight)))
    acc[:young] /= 1.0 - weight ** np.arange(1, young + 1)
    return acc


def thin(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most max_points evenly spaced items of n, always keeping the last."""
    if n <= max_points:
        return np.arange(n)
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
    return idx


@dataclass
class TrainingCurves:
    step: list[int] = field(default_factory=list)  # global step of each kept point
    loss: list[float] = field(default_factory=list)  # raw per-step loss
    loss_smooth: list[float] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)  # per-epoch points
    epoch_step: list[int] = field(default_factory=list)  # global step at each epoch's end
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def auto_weight(n: int) -> float:
    """A smoothing weight for n points: an average over roughly n/20 of them
    (at most ~20 steps), so a 30-step run is not flattened into a lagging line."""
    return min(0.95, max(0.0, 1.0 - 20.0 / max(n, 1)))


def training_curves(steps: Sequence[dict], epochs: Sequence[dict], weight: float | None = None,
                    max_points: int = MAX_POINTS) -> TrainingCurves:
    """From JobSnapshot.steps / .epochs (StepEvent and EpochEvent dicts).

    weight: the smoothing weight (default: auto_weight of the number of steps).
    """
    curves = TrainingCurves()
    if steps:
        losses = [s["loss"] for s in steps]
        smoothed = smooth(losses, auto_weight(len(losses)) if weight is None else weight)
        for i in thin(len(steps), max_points):
            curves.step.append(int(steps[i]["step"]))
            curves.loss.append(float(losses[i]))
            curves.loss_smooth.append(float(smoothed[i]))
    for e in epochs:
        curves.epoch.append(int(e["epoch"]))
        curves.epoch_step.append(int(e["step"]))
        curves.train_loss.append(float(e["train_loss"]))
        curves.val_loss.append(float(e["val_loss"]))
        curves.train_accuracy.append(float(e["train_accuracy"]))
        curves.val_accuracy.append(float(e["val_accuracy"]))
    return curves
