"""One batched pass over a split: accuracy, per-class accuracy, confusion matrix, mistakes."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.networks.calibration import Reliability, reliability
from core.data import Split, normalize


@dataclass
class Prediction:
    """Model outputs for every sample of a split."""
    probabilities: torch.Tensor  # (N, 10) float32, on the CPU
    labels: torch.Tensor  # (N,) int64, true classes
    loss: float  # mean cross-entropy
    # The classes as computed from the full-precision outputs, kept when the
    # probabilities were stored rounded (float16), where a near tie could flip argmax.
    classes: torch.Tensor | None = None

    @property
    def predicted(self) -> torch.Tensor:
        return self.classes if self.classes is not None else self.probabilities.argmax(1)


@dataclass
class EvalSummary:
    """An EvalResult without its per-sample arrays: what is stored and shown after a run."""
    accuracy: float
    loss: float | None = None
    per_class_accuracy: list[float] = field(default_factory=list)
    confusion_matrix: list[list[int]] = field(default_factory=list)  # rows = true class
    mistakes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "EvalSummary":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class EvalResult:
    accuracy: float  # fraction 0..1
    loss: float
    per_class_accuracy: list[float]  # 10 fractions (nan for a class with no samples)
    confusion_matrix: list[list[int]]  # rows = true class, columns = predicted class
    mistake_indices: list[int]  # positions in the split, in order
    mistake_true: list[int]
    mistake_predicted: list[int]
    mistake_probabilities: np.ndarray  # (M, 10) float32
    # Confidence against accuracy over every sample, and the ECE (core.networks.calibration).
    reliability: Reliability | None = None

    def summary(self) -> EvalSummary:
        return EvalSummary(self.accuracy, self.loss, self.per_class_accuracy,
                           self.confusion_matrix, len(self.mistake_indices))

    def to_json(self) -> dict:
        return self.summary().to_json()


@torch.inference_mode()
def predict_split(model: nn.Module, split: Split, mean: float, std: float,
                  device: torch.device | str = "cpu", batch_size: int = 2000) -> Prediction:
    model.eval()
    device = torch.device(device)
    probs, loss_sum = [], 0.0
    for i in range(0, len(split), batch_size):
        x = normalize(split.images[i:i + batch_size].to(device), mean, std)
        y = split.labels[i:i + batch_size].to(device)
        logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        probs.append(logits.softmax(1).cpu())
    n = max(1, len(split))
    return Prediction(torch.cat(probs) if probs else torch.empty(0, 10), split.labels.cpu(),
                      loss_sum / n)


def confusion_matrix(true: torch.Tensor, predicted: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """(n_classes, n_classes) int64 counts, rows = true class."""
    flat = true.to(torch.int64) * n_classes + predicted.to(torch.int64)
    return torch.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def summarize(pred: Prediction) -> EvalResult:
    predicted = pred.predicted
    cm = confusion_matrix(pred.labels, predicted).tolist()  # exact integer counts
    totals = [sum(row) for row in cm]
    per_class = [cm[c][c] / totals[c] if totals[c] else float("nan") for c in range(10)]
    wrong = (predicted != pred.labels).nonzero().flatten()
    n = len(pred.labels)
    return EvalResult(
        accuracy=sum(cm[c][c] for c in range(10)) / n if n else float("nan"),
        loss=pred.loss,
        per_class_accuracy=per_class,
        confusion_matrix=cm,
        mistake_indices=wrong.tolist(),
        mistake_true=pred.labels[wrong].tolist(),
        mistake_predicted=predicted[wrong].tolist(),
        mistake_probabilities=pred.probabilities[wrong].numpy(),
        reliability=reliability(pred.probabilities.float(), pred.labels) if n else None,
    )


def evaluate(model: nn.Module, split: Split, mean: float, std: float,
             device: torch.device | str = "cpu", batch_size: int = 2000) -> EvalResult:
    return summarize(predict_split(model, split, mean, std, device, batch_size))
