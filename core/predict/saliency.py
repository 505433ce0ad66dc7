"""What the model looks at: input-gradient and occlusion maps over the 28x28 input.

Both return a map in 0..1 (1 = most important), the same shape as the image,
so the app can overlay it on what the model saw.

- gradient: |d logit[target] / d pixel|, one forward and one backward pass
  (a few ms even for the ResNet), so it can follow every canvas stroke.
- smoothgrad: the same averaged over noisy copies of the input; less speckle,
  n times the cost.
- occlusion: hide a square patch at every position (one batch) and record how
  much the target's probability drops; slower but easy to read: bright
  means "covering this changes the answer".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.networks.models import device_of, evaluating

METHODS = ("gradient", "smoothgrad", "occlusion")


@dataclass
class SaliencyMap:
    values: np.ndarray  # (28, 28) float64 in 0..1
    method: str
    target: int  # the class explained


def _scale_unit(values: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """To 0..1 by a high percentile, not the max: one extreme pixel should not
    leave the rest of the map black."""
    values = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    top = float(np.percentile(values, percentile))
    if top <= 0:
        top = float(values.max(initial=0.0))
    if top <= 0:
        return np.zeros_like(values)
    return np.clip(values / top, 0.0, 1.0)


def _blur(values: np.ndarray) -> np.ndarray:
    """3x3 mean: raw input gradients flicker from pixel to pixel; what a person
    wants to see is the region, not the speckle."""
    padded = np.pad(values, 1, mode="edge")
    height, width = values.shape
    return sum(padded[r:r + height, c:c + width] for r in range(3) for c in range(3)) / 9.0


def input_gradient(model: nn.Module, tensor: torch.Tensor, target: int, samples: int = 1,
                   noise: float = 0.15, seed: int = 0) -> SaliencyMap:
    """Absolute input gradient of the target logit; samples > 1 gives SmoothGrad.

    tensor: (1, 1, 28, 28) normalised input. noise is the SmoothGrad standard
    deviation as a fraction of the input's value range.
    """
    with evaluating(model):
        x = tensor.detach().to(device_of(model), torch.float32)
        if samples > 1:
            gen = torch.Generator(device="cpu").manual_seed(seed)
            sigma = noise * float(x.max() - x.min() or 1.0)
            jitter = torch.randn((samples, *x.shape[1:]), generator=gen) * sigma
            x = x.expand(samples, -1, -1, -1) + jitter.to(x.device)
        x = x.clone().requires_grad_(True)
        with torch.enable_grad():
            logits = model(x)
            # autograd.grad, not backward(): nothing accumulates in the (shared,
            # cached) model's parameters, so concurrent sessions cannot interfere.
            (grad,) = torch.autograd.grad(logits[:, target].sum(), x)
    return gradient_map(grad, target)


def gradient_map(grad: torch.Tensor, target: int) -> SaliencyMap:
    """The map of an input gradient (n, 1, 28, 28): n = 1 is the input-gradient map
    (blurred), n > 1 SmoothGrad's (the mean of the noisy copies' gradients)."""
    samples = grad.shape[0]
    values = grad.abs().mean(0)[0].detach().cpu().numpy()
    if samples == 1:
        values = _blur(values)
    return SaliencyMap(_scale_unit(values), "smoothgrad" if samples > 1 else "gradient", target)


@torch.inference_mode()
def occlusion(model: nn.Module, tensor: torch.Tensor, target: int, patch: int = 6,
              stride: int = 2, fill: float | None = None) -> SaliencyMap:
    """Drop in the target's probability when a patch x patch square is hidden.

    fill is the normalised value used to hide (default: the input's minimum,
    which is the background of every preprocessed image). Each pixel gets the
    mean drop over the patches that cover it.
    """
    with evaluating(model):
        x = tensor.detach().to(device_of(model), torch.float32)
        _, _, height, width = x.shape
        fill = float(x.min()) if fill is None else fill
        tops = list(range(0, height - patch + 1, stride))
        lefts = list(range(0, width - patch + 1, stride))
        if tops[-1] != height - patch:
            tops.append(height - patch)  # cover the last rows too
        if lefts[-1] != width - patch:
            lefts.append(width - patch)
        positions = [(t, l) for t in tops for l in lefts]
        batch = x.repeat(len(positions), 1, 1, 1)
        for i, (t, l) in enumerate(positions):
            batch[i, :, t:t + patch, l:l + patch] = fill
        base = model(x).float().softmax(1)[0, target].item()
        drops = (base - model(batch).float().softmax(1)[:, target]).cpu().numpy()
    total = np.zeros((height, width))
    count = np.zeros((height, width))
    for (t, l), drop in zip(positions, drops):
        total[t:t + patch, l:l + patch] += drop
        count[t:t + patch, l:l + patch] += 1
    return SaliencyMap(_scale_unit(total / np.maximum(count, 1), percentile=100.0),
                       "occlusion", target)


def saliency(model: nn.Module, tensor: torch.Tensor, target: int,
             method: str = "gradient") -> SaliencyMap:
    """Dispatch by name (one of METHODS)."""
    if method == "gradient":
        return input_gradient(model, tensor, target)
    if method == "smoothgrad":
        return input_gradient(model, tensor, target, samples=16)
    if method == "occlusion":
        return occlusion(model, tensor, target)
    raise ValueError(f"unknown saliency method {method!r}; choose one of {METHODS}")
