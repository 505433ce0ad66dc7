"""Confidence that means what it says: temperature scaling and its measure.

A network's softmax is rarely calibrated: one trained with label smoothing caps its
top probability (a perfect 7 reads "91%"), one trained long on clean data is
over-confident. Temperature scaling (Guo et al., "On Calibration of Modern Neural
Networks", 2017) divides the logits by one number T, fitted on the validation split
to minimise the negative log-likelihood. Dividing by a positive number keeps every
argmax, so accuracy and every predicted class are unchanged; only the probabilities
move.

The temperature lives in the checkpoint's metadata (`CheckpointMeta.temperature`) and
`apply_temperature` puts it at the end of the model as a `Temperature` layer, so that
every consumer of the model's output (Classify, Evaluate's stored probabilities, "I
don't know", the ONNX and TorchScript exports) sees the calibrated logits.

The measure is the expected calibration error with 15 equal-width confidence bins
(ECE, Naeini et al. 2015; as in Guo et al.): the gap between confidence and accuracy
in each bin, weighted by the bin's share of the samples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.networks.models import logits_of

ECE_BINS = 15
T_RANGE = (0.05, 20.0)  # outside it the fit has gone wrong: refuse rather than ship it


class Temperature(nn.Module):
    """Divides the logits by T. No parameters or buffers: state_dicts stay as they were,
    and T travels as plain data in the checkpoint's metadata."""

    def __init__(self, t: float) -> None:
        super().__init__()
        self.t = float(t)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits / self.t

    def extra_repr(self) -> str:
        return f"t={self.t:.4f}"


def temperature_of(model: nn.Module) -> float:
    """The model's temperature: 1.0 when it has no Temperature layer."""
    last = model[-1] if isinstance(model, nn.Sequential) and len(model) else None
    return last.t if isinstance(last, Temperature) else 1.0


def apply_temperature(model: nn.Sequential, t: float) -> nn.Sequential:
    """Set the model's temperature in place (1.0 removes the layer) and return it."""
    if not isinstance(model, nn.Sequential):
        raise TypeError("temperature scaling needs an nn.Sequential model")
    if not T_RANGE[0] <= t <= T_RANGE[1]:
        raise ValueError(f"temperature {t} is outside {T_RANGE}: not a usable calibration")
    if isinstance(model[-1], Temperature):
        del model[-1]
    if t != 1.0:
        model.append(Temperature(t))
    return model


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T > 0 that minimises the mean NLL of softmax(logits / T) (fitted on log T, so T
    stays positive; LBFGS on one number converges in a few steps)."""
    logits = torch.as_tensor(logits).detach().double()
    labels = torch.as_tensor(labels).long()
    if logits.ndim != 2 or len(logits) != len(labels) or not len(labels):
        raise ValueError("fit_temperature needs (N, C) logits and N labels, N > 0")
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(*T_RANGE))


@dataclass
class Reliability:
    """A reliability diagram's numbers: per confidence bin, the mean confidence, the
    accuracy and the sample count; and the ECE they add up to."""
    edges: list[float]  # bins + 1 boundaries, 0 .. 1
    confidence: list[float]  # mean top probability per bin (nan for an empty bin)
    accuracy: list[float]  # share correct per bin (nan for an empty bin)
    counts: list[int]
    ece: float  # fraction 0..1

    @property
    def gaps(self) -> list[float]:
        return [a - c for a, c in zip(self.accuracy, self.confidence)]


def reliability(probabilities: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                bins: int = ECE_BINS) -> Reliability:
    """Bin the top probability of each sample in `bins` equal-width bins (a bin holds
    (lo, hi], the first also 0) and compare confidence with accuracy."""
    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if probs.ndim != 2 or len(probs) != len(labels) or not len(labels):
        raise ValueError("reliability needs (N, C) probabilities and N labels, N > 0")
    confidence = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    conf_sum = np.bincount(which, weights=confidence, minlength=bins)
    right_sum = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = conf_sum / counts
        accuracy = right_sum / counts
    ece = float(np.abs(right_sum - conf_sum).sum() / len(labels))
    return Reliability(edges.tolist(), mean_conf.tolist(), accuracy.tolist(),
                       counts.astype(int).tolist(), ece)


def expected_calibration_error(probabilities: np.ndarray | torch.Tensor,
                               labels: np.ndarray | torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE as a fraction 0..1 (see `reliability`)."""
    return reliability(probabilities, labels, bins).ece


@dataclass
class Fit:
    """A temperature fitted on validation, with the validation figures before and after."""
    temperature: float
    val_ece_before: float  # fractions 0..1
    val_ece_after: float
    val_nll_before: float
    val_nll_after: float
    val_samples: int


def calibrate(model: nn.Sequential, val, mean: float, std: float,
              logits: torch.Tensor | None = None) -> Fit:
    """Fit the model's temperature on a validation Split (from its raw logits: a Temperature
    layer already there is removed first), set it on the model and return the fit. It is
    kept only if it lowers the validation ECE; an empty split leaves the model as it is
    trained (T = 1). `logits`: the raw logits on `val`, when the caller has them already."""
    apply_temperature(model, 1.0)
    if val is None or not len(val):
        nan = float("nan")
        return Fit(1.0, nan, nan, nan, nan, 0)
    if logits is None:
        logits = logits_of(model, val.images, mean, std)
    logits, labels = logits.double(), val.labels.long()
    t = fit_temperature(logits, labels)
    before = expected_calibration_error(logits.softmax(1), labels)
    if expected_calibration_error((logits / t).softmax(1), labels) > before:
        # The NLL's optimum need not lower the binned error of a model that was already
        # calibrated (mnist-cnn: 0.15% -> 0.16%): then it stays as it is.
        t = 1.0
    apply_temperature(model, t)
    return Fit(t, before, expected_calibration_error((logits / t).softmax(1), labels),
               float(F.cross_entropy(logits, labels)), float(F.cross_entropy(logits / t, labels)),
               len(labels))
