"""One preprocessed input through one model: the predicted class, its confidence, the top k.

Wraps core.preprocess.predict with what a person reads (class names, ranking)
and with the model time, which the app reports against its 20 ms budget.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.data import normalize
from core.networks.models import device_of, evaluating
from core.predict.preprocess import Preprocessed


def require_ink(pre: Preprocessed) -> None:
    """Raises ValueError for a blank input: there is nothing to classify."""
    if pre.blank:
        raise ValueError("blank input (no ink found): nothing to classify")


def _logits(model: nn.Module, pre: Preprocessed) -> torch.Tensor:
    require_ink(pre)
    with evaluating(model), torch.inference_mode():
        return model(pre.tensor.to(device_of(model)))


def _softmax(logits: torch.Tensor) -> np.ndarray:
    return logits.detach().double().softmax(-1).cpu().numpy().reshape(-1)


def probabilities(model: nn.Module, pre: Preprocessed) -> np.ndarray:
    """The 10 class probabilities (float64, summing to 1) for one preprocessed input."""
    return _softmax(_logits(model, pre))


@dataclass
class Classification:
    probabilities: np.ndarray  # (10,) float64, sums to 1
    predicted: int
    label: str
    confidence: float  # probability of the predicted class
    top: list[tuple[int, str, float]]  # (class, name, probability), most probable first
    model_ms: float  # wall time of the forward pass


def rank(probabilities: np.ndarray, class_names: list[str] | tuple[str, ...],
         k: int = 10) -> list[tuple[int, str, float]]:
    """The k most probable classes, most probable first (ties: lower class first)."""
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    order = sorted(range(len(probs)), key=lambda c: (-probs[c], c))[:max(1, k)]
    return [(c, class_names[c], float(probs[c])) for c in order]


def classify(model: nn.Module, pre: Preprocessed, class_names: list[str] | tuple[str, ...],
             k: int = 5) -> Classification:
    """Raises ValueError for a blank input (check pre.blank first)."""
    start = time.perf_counter()
    logits = _logits(model, pre)
    return from_logits(logits, class_names, k, (time.perf_counter() - start) * 1000)


def from_logits(logits: torch.Tensor, class_names: list[str] | tuple[str, ...], k: int = 5,
                model_ms: float = float("nan")) -> Classification:
    """The Classification of one input's (1, 10) logits (core.predict.answer gets them from
    the pass that also computes the input gradient)."""
    probs = _softmax(logits)
    top = rank(probs, class_names, k)
    best = top[0]
    return Classification(probs, best[0], best[1], best[2], top, model_ms)


def from_dataset_image(image: np.ndarray, mean: float, std: float) -> Preprocessed:
    """A dataset image is already what models see: normalise it, no cropping or centring."""
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    return Preprocessed(normalize(torch.from_numpy(pixels)[None], mean, std), pixels,
                        blank=not pixels.any())


@torch.inference_mode()
def warm_up(model: nn.Module) -> None:
    """One throwaway forward pass: the first call into a fresh model pays for kernel
    selection and memory allocation (tens of ms), which belongs to loading, not to
    the first drawing's prediction."""
    with evaluating(model):
        model(torch.zeros(1, 1, 28, 28, device=device_of(model)))
