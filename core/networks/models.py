"""Architectures, by name: each a layer list in core.networks.spec's grammar, built by core.networks.spec.

The reference architectures keep the exact layers of the notebooks and posts
that inspired MNIST Studio; what makes them reach better accuracy here is the
training recipe, never extra layers. Every model takes a normalised
(N, 1, 28, 28) float batch and returns (N, 10) logits.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from core.data import normalize
from core.networks.spec import build as build_spec


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    spec: str  # its layers (core.networks.spec's grammar): the one definition of the model
    reference: bool  # True: layers fixed by the reference it comes from

    def build(self) -> nn.Module:
        return build_spec(self.spec)


CUSTOM = "custom"  # a visitor's own layer list (TrainConfig.layers, CheckpointMeta.layers)

# The notes say why each is laid out as it is; the parameter positions are those of the
# checkpoints trained before specs existed, so they all still load.
ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in [
    Architecture("ffnn", "MLP 784-512-256-10, ReLU, dropout 0.2 (reference MNIST and "
                 "Fashion notebooks: 97.81% / 89.56%)",
                 "fc512,relu,drop0.2,fc256,relu,drop0.2,fc10", True),
    # The notebooks' conv -> ReLU -> max-pool, computed as conv -> max-pool -> ReLU: the
    # same outputs and gradients (max-pool commutes with a monotone ReLU) with a quarter
    # of the ReLU work, and the same parameter positions.
    Architecture("cnn", "2 conv (16, 32) + MLP 1568-512-256-10, dropout 0.2 (reference "
                 "notebooks: 99.11% MNIST / 91.66% Fashion)",
                 "conv16k3p1,pool2,relu,conv32k3p1,pool2,relu,drop0.2,"
                 "fc512,relu,drop0.2,fc256,relu,drop0.2,fc10", True),
    Architecture("ffnn-deep", "MLP 784-256-128-64-10, ReLU, dropout 0.2 (a Fashion-MNIST "
                 "tutorial)", "fc256,relu,drop0.2,fc128,relu,drop0.2,fc64,relu,drop0.2,fc10", True),
    # Order as in the blog post: conv, pool, relu, batchnorm.
    Architecture("bn-cnn", "LeNet-like: 2 conv 5x5 (6, 12) with BatchNorm, FC 192-120-60-10 "
                 "(a Fashion-MNIST blog post: ~90% in 5 epochs)",
                 "conv6k5,pool2,relu,bn,conv12k5,pool2,relu,fc120,relu,bn,fc60,relu,fc10", True),
    Architecture("ffnn-small", "MLP 784-128-64-10, ReLU, dropout 0.25 (a Fashion FC-only "
                 "project: 87.42%)", "fc128,relu,drop0.25,fc64,relu,drop0.25,fc10", True),
    # bn-cnn's shape, wider, sized for seconds-long training on a 2-core CPU. Pooling
    # comes before ReLU and BatchNorm, so the memory-bound ops run at 12x12 and 4x4
    # rather than 24x24: on a CPU they, not the convs, dominate a small model's step.
    Architecture("fastcnn", "MNIST Studio's speedrun CNN: bn-cnn widened to 16 and 32 "
                 "filters, built for seconds-long CPU training",
                 "conv16k5,pool2,relu,bn,conv32k5,pool2,relu,bn,fc128,relu,bn,fc10", False),
    # fastcnn's order with 3x3 convs that keep the resolution: 7x7x32 features into the
    # classifier (fastcnn: 4x4x32). Twice fastcnn's step time, for the detail garments
    # need (Fashion: 92.7% validation in 4 epochs, where fastcnn plateaus near 92.0% in
    # 12; docs/speedrun.md).
    Architecture("fastcnn-wide", "MNIST Studio's Fashion speedrun CNN: 3x3 convs (32, 32) "
                 "keeping 28x28 and 14x14 detail, BatchNorm, 7x7x32 features",
                 "conv32k3p1,pool2,relu,bn,conv32k3p1,pool2,relu,bn,fc128,relu,bn,fc10", False),
    # ResNet-9-style, scaled to 28x28: one conv at full resolution, then residual stages
    # at 14x14 and 7x7 (pooling before the wider convs keeps it CPU-trainable).
    Architecture("resnet", "MNIST Studio's strongest: ResNet-9-style (32-64-128) with "
                 "BatchNorm and residual blocks, trained with augmentation",
                 "convbn32,pool2,convbn64,res64,pool2,convbn128,res128,gmaxpool,flatten,"
                 "drop0.2,fc10", False),
]}


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}") from None


def build_model(name: str, layers: str = "") -> nn.Module:
    """A built-in architecture by name, or with name "custom" the model of `layers`."""
    if name == CUSTOM:
        if not layers:
            raise ValueError("a custom architecture needs its layers (e.g. "
                             "\"conv32k3,pool2,relu,fc128,fc10\")")
        return build_spec(layers)
    if layers:
        raise ValueError(f"{name!r} is a built-in architecture: its layers are fixed "
                         "(use \"custom\" to give your own)")
    return get_architecture(name).build()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (dropout off, BatchNorm running statistics) inside the block, and the
    caller's mode back afterwards: the app's cached models are shared with training code."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.inference_mode()
def logits_of(model: nn.Module, images: torch.Tensor, mean: float, std: float,
              batch_size: int = 1000) -> torch.Tensor:
    """(N, 28, 28) uint8 images, as the model would see them -> (N, 10) float32 logits."""
    out = []
    with evaluating(model):
        for i in range(0, len(images), batch_size):
            x = normalize(images[i:i + batch_size], mean, std).to(device_of(model))
            out.append(model(x).float().cpu())
    return torch.cat(out) if out else torch.empty(0, 10)
