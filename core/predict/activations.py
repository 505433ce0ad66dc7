"""Inside a model: every layer's output for one input, and the first layer's learned weights.

A "layer" is a leaf module of the model (Conv2d, BatchNorm2d, ReLU, MaxPool2d,
Linear...), except that a Residual block counts as one layer: its output
x + f(x) is what the next layer sees, while its inner convs' outputs are
halves of a sum that never exists on its own. Dropout (the identity at
inference) and Flatten (a reshape) change no value and are left out, and so is the
calibration's Temperature (a division of the logits, not a learned layer).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Iterator

import numpy as np
import torch
from torch import nn

from core.networks.calibration import Temperature
from core.networks.layers import Residual
from core.networks.models import device_of, evaluating

UNCHANGED = (nn.Dropout, nn.Flatten, Temperature)  # nothing to show (see above)
IMAGE_SIDE = 28


class LayerKind(str, Enum):
    CONV = "conv"  # (C, H, W) feature maps: convolutions and what follows them
    DENSE = "dense"  # (F,) features: Linear layers, and 1x1 maps (global pooling)


@dataclass
class LayerActivation:
    name: str  # "3 · Conv2d": the position among the layers and the module's type
    kind: LayerKind
    shape: tuple[int, ...]  # the layer's output for one input: (C, H, W) or (F,)
    values: np.ndarray  # float32: (C, H, W) for conv, (F,) for dense
    path: str = ""  # the module's name in the model ("4.body.0.1"), for hooks and tooltips


def layers(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """(path, module) of every layer, in the model's order (see the module docstring)."""
    def walk(module: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            if isinstance(child, Residual) or not any(True for _ in child.children()):
                if not isinstance(child, UNCHANGED):
                    yield path, child
            else:
                yield from walk(child, f"{path}.")
    yield from walk(model, "")


def activations(model: nn.Module, x: torch.Tensor) -> list[LayerActivation]:
    """Each layer's output for one normalised input x of shape (1, 1, 28, 28), in order.

    Forward hooks record the outputs. They copy each output at once, because
    the ReLU after a BatchNorm works in place and would overwrite the
    BatchNorm's output. The models are shared by the app's sessions, so the
    hooks record only this thread's forward pass and are removed afterwards.
    """
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"one input at a time: expected shape (1, 1, 28, 28), got {tuple(x.shape)}")
    caller = threading.get_ident()
    recorded: list[tuple[str, nn.Module, torch.Tensor]] = []

    def hook_for(path: str):
        def record(module: nn.Module, _inputs, output: torch.Tensor) -> None:
            if threading.get_ident() == caller:
                recorded.append((path, module, output.detach()[0].float().cpu().clone()))
        return record

    handles = [module.register_forward_hook(hook_for(path)) for path, module in layers(model)]
    try:
        with evaluating(model), torch.inference_mode():
            model(x.to(device_of(model)))
    finally:
        for handle in handles:
            handle.remove()
    out = []
    for i, (path, module, value) in enumerate(recorded, start=1):
        shape = tuple(value.shape)
        maps = value.dim() == 3 and value.shape[1] * value.shape[2] > 1
        kind = LayerKind.CONV if maps else LayerKind.DENSE
        values = value.numpy() if maps else value.reshape(-1).numpy()
        out.append(LayerActivation(f"{i} · {type(module).__name__}", kind, shape,
                                   values.astype(np.float32, copy=False), path))
    return out


def first_layer_filters(model: nn.Module) -> np.ndarray:
    """The first weighted layer's weights as images: (K, kh, kw) float32.

    A CNN's first Conv2d gives its K kernels; an MLP's first Linear gives one
    28x28 template per unit (the weight each input pixel gets).
    """
    for _, module in layers(model):
        if isinstance(module, nn.Conv2d):
            w = module.weight.detach().float().cpu()
            return w.mean(dim=1).numpy()  # one input channel here; averaged if there were more
        if isinstance(module, nn.Linear):
            w = module.weight.detach().float().cpu()
            if w.shape[1] != IMAGE_SIDE * IMAGE_SIDE:
                raise ValueError(f"the first Linear layer takes {w.shape[1]} inputs, "
                                 f"not {IMAGE_SIDE}x{IMAGE_SIDE} pixels")
            return w.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).numpy()
    raise ValueError("the model has no Conv2d or Linear layer")


def to_grey(values: np.ndarray, per_image: bool = False) -> np.ndarray:
    """Float maps -> uint8 0..255 by min-max scaling, over all of them (one scale for a
    layer: a weak channel looks weak) or per image (each filter's own pattern)."""
    v = np.asarray(values, dtype=np.float32)
    axes = tuple(range(1, v.ndim)) if per_image and v.ndim > 1 else None
    low, high = v.min(axis=axes, keepdims=True), v.max(axis=axes, keepdims=True)
    span = np.where(high - low > 1e-12, high - low, 1.0)
    return np.round((v - low) / span * 255).astype(np.uint8)


def feature_grid(images: np.ndarray, width: int = 720, per_image: bool = False,
                 gap: int = 1) -> np.ndarray:
    """(C, H, W) floats -> one uint8 image: the C maps in a grid about twice as wide as
    tall, each pixel repeated to fill about `width` px (crisp, not blurred). One image
    per layer keeps the page light: the browser gets one PNG, not C."""
    from core.data.explore import montage  # (torchvision, imported on first use there)
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected (C, H, W) maps, got shape {images.shape}")
    count, _, side = images.shape
    columns = min(count, max(1, math.ceil(math.sqrt(2 * count))))
    scale = max(1, min(16, width // (columns * (side + gap))))
    # Gaps a third of a cell pixel: thin lines between maps, not a mesh over 3x3 kernels.
    return montage(to_grey(images, per_image), columns, gap=gap * max(1, scale // 3),
                   scale=scale, background=90)
