""""I don't know": does an input look like what the model was trained on?

A score computed from the model's logits, higher meaning *less* familiar, and
a threshold per model chosen on validation data (scripts/ood_thresholds.py
writes them to weights/ood.json). Past the threshold the prediction is still
shown, but flagged as a guess.

    msp     minus the maximum softmax probability (Hendrycks & Gimpel, 2017)
    energy  minus logsumexp(logits) (Liu et al., 2020): the free energy, which
            keeps the logits' scale that softmax normalises away
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from core.data import normalize
from core.machine.files import atomic_write
from core.networks.catalog import weights_dir
from core.networks.models import device_of, evaluating, logits_of

OOD_FILE = "ood.json"  # in the weights folder, next to manifest.json
# A run's own threshold (set when it ends, core.evaluate.final.finish) uses this score: no
# out-of-distribution set is at hand there to choose one, and energy was chosen on
# validation for most shipped models (docs/ood.md).
RUN_SCORE = "energy"
# Percentiles of the validation images' scores kept with a threshold, so a page can say
# how unusual an input is in words ("more unusual than 99.7% of ..."): every whole
# percent, and finer steps in the tail where flagged inputs fall.
QUANTILE_LEVELS = (*range(0, 99), 99.0, 99.25, 99.5, 99.75, 99.9, 100.0)
# Flag at most 1 in 20 real inputs: the answer is still shown, so a false alarm
# costs a person a second look, while a lower rate lets most scribbles through.
TARGET_FALSE_ALARM = 0.05


def _msp(logits: torch.Tensor) -> torch.Tensor:
    return -logits.softmax(-1).max(-1).values


def _energy(logits: torch.Tensor) -> torch.Tensor:
    return -torch.logsumexp(logits, -1)


SCORES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"msp": _msp, "energy": _energy}
SCORE_NAMES = {"msp": "max-softmax probability", "energy": "energy (−logsumexp of the logits)"}


def unfamiliarity(logits: torch.Tensor | np.ndarray, score: str) -> np.ndarray:
    """(N, 10) logits -> (N,) float64 scores; higher means less like the training data."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of {sorted(SCORES)}")
    return SCORES[score](torch.as_tensor(logits).double()).numpy()


def choose_threshold(in_scores: np.ndarray, false_alarm: float = TARGET_FALSE_ALARM) -> float:
    """The smallest threshold that flags at most `false_alarm` of in-distribution scores."""
    return float(np.quantile(np.asarray(in_scores, np.float64), 1.0 - false_alarm,
                             method="higher"))


def flagged_rate(scores: np.ndarray, threshold: float) -> float:
    """Share of scores past the threshold: the false-alarm rate on in-distribution data,
    the detection rate on out-of-distribution data."""
    scores = np.asarray(scores)
    return float((scores > threshold).mean()) if scores.size else float("nan")


@dataclass(frozen=True)
class Calibration:
    """One model's score and threshold, and the rates measured with them."""
    score: str
    threshold: float
    target_false_alarm: float
    val_false_alarm: float  # on the 12,000 validation images (chosen there)
    val_detection: dict[str, float] = field(default_factory=dict)  # per OOD kind
    test_false_alarm: float | None = None  # reported only, never used for choosing
    test_detection: dict[str, float] = field(default_factory=dict)
    checkpoint_sha1: str = ""
    # [percentile, score] of the validation images (QUANTILE_LEVELS): how unusual is an input
    val_quantiles: list[list[float]] = field(default_factory=list)
    # digit models: false alarms on validation / test digits redrawn as canvas strokes
    # (core.predict.redraw, through from_canvas), the honest drawings people make
    val_drawn_false_alarm: float | None = None
    test_drawn_false_alarm: float | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Calibration":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Familiarity:
    """The verdict on one input."""
    score: str
    value: float
    threshold: float

    @property
    def familiar(self) -> bool:
        return self.value <= self.threshold


def quantiles_of(in_scores: np.ndarray) -> list[list[float]]:
    """[percentile, score] pairs of in-distribution scores, at QUANTILE_LEVELS."""
    values = np.quantile(np.asarray(in_scores, np.float64), np.array(QUANTILE_LEVELS) / 100)
    return [[float(level), float(v)] for level, v in zip(QUANTILE_LEVELS, values)]


def share_more_familiar(value: float, calibration: Calibration) -> float | None:
    """The share (0..1) of the validation images that are more familiar than a score of
    `value` (interpolated between the recorded percentiles); None when not recorded."""
    if not calibration.val_quantiles:
        return None
    levels, scores = zip(*calibration.val_quantiles)
    return float(np.interp(value, scores, levels)) / 100


def run_calibration(val_logits: torch.Tensor, target: float = TARGET_FALSE_ALARM,
                    score: str = RUN_SCORE) -> Calibration:
    """A run's own threshold, from its (calibrated) logits on the validation split: the
    one that flags `target` of them. Detection is not measured (no OOD set at hand)."""
    scores = unfamiliarity(val_logits, score)
    threshold = choose_threshold(scores, target)
    return Calibration(score, threshold, target, flagged_rate(scores, threshold),
                       val_quantiles=quantiles_of(scores))


def judge(logits: torch.Tensor, calibration: Calibration) -> Familiarity:
    """One input's (1, 10) logits against the threshold (no pass of the model: the
    caller has the logits already, as core.predict.answer gives them)."""
    value = float(unfamiliarity(logits.detach().cpu(), calibration.score)[0])
    return Familiarity(calibration.score, value, calibration.threshold)


def ood_path(folder: str | os.PathLike | None = None) -> Path:
    return weights_dir(folder) / OOD_FILE


def read_calibrations(path: str | os.PathLike) -> dict[str, Calibration]:
    """{checkpoint file name: Calibration}; {} when the file is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
        return {name: Calibration.from_json(item)
                for name, item in (data.get("models") or {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def write_calibrations(path: str | os.PathLike, calibrations: dict[str, Calibration],
                       about: dict[str, Any] | None = None) -> Path:
    payload = {**(about or {}), "models": {k: asdict(v) for k, v in sorted(calibrations.items())}}
    return atomic_write(path, (json.dumps(payload, indent=1) + "\n").encode())


def file_sha1(path: str | os.PathLike) -> str:
    """The digest recorded in ood.json (the same as core.evaluate.predictions.file_digest)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def calibration_for(checkpoint: str | os.PathLike,
                    folder: str | os.PathLike | None = None) -> Calibration | None:
    """The recorded calibration of a shipped checkpoint, or None: not calibrated, or
    the file changed since (a retrained checkpoint needs its own threshold)."""
    checkpoint = Path(checkpoint)
    found = read_calibrations(ood_path(folder)).get(checkpoint.name)
    if found is None or not checkpoint.is_file():
        return None
    if found.checkpoint_sha1 and found.checkpoint_sha1 != file_sha1(checkpoint):
        return None
    return found


OWN_KEY = "ood"  # a checkpoint's own threshold, in its metadata's metrics


def own_calibration(metrics: dict[str, Any] | None) -> Calibration | None:
    """The threshold a run recorded in its checkpoint when it ended (run_calibration);
    None for checkpoints made before runs recorded one, or unreadable ones."""
    found = (metrics or {}).get(OWN_KEY)
    if not isinstance(found, dict):
        return None
    try:
        cal = Calibration.from_json(found)
        return cal if cal.score in SCORES and np.isfinite(cal.threshold) else None
    except (TypeError, ValueError):
        return None
