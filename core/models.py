"""Architectures, by name.

The reference architectures keep the exact layers of the notebooks and posts
that inspired MNIST Studio; what makes them reach better accuracy here is the
training recipe, never extra layers. Every model takes a normalised
(N, 1, 28, 28) float batch and returns (N, 10) logits.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn
from torch.nn import functional as F


class Dropout(nn.Dropout):
    """nn.Dropout with a cheaper mask on the CPU: the same distribution, 2.6x faster.

    On the CPU, torch's dropout draws its mask with bernoulli_, which took 1.1 ms for
    a 128x1568 batch here (14% of a `cnn` training step); uniform floats compared
    with p take 0.4 ms and keep each unit with the same probability, 1 - p. Elsewhere
    (CUDA's fused kernel is already fast) and in eval mode it is nn.Dropout.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # TorchScript-able: see core.export
        if (not self.training or self.p == 0.0 or self.p == 1.0 or self.inplace
                or x.device.type != "cpu"):
            return F.dropout(x, self.p, self.training, self.inplace)
        keep = torch.rand_like(x).ge_(self.p).to(x.dtype).mul_(1 / (1 - self.p))
        return x * keep


def _mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:  # no activation after the logits
            layers += [nn.ReLU(), Dropout(dropout)]
    return nn.Sequential(*layers)


def ffnn() -> nn.Module:
    return _mlp([784, 512, 256, 10], dropout=0.2)


def ffnn_deep() -> nn.Module:
    return _mlp([784, 256, 128, 64, 10], dropout=0.2)


def ffnn_small() -> nn.Module:
    return _mlp([784, 128, 64, 10], dropout=0.25)


def cnn() -> nn.Module:
    # The notebooks' conv -> ReLU -> max-pool, computed as conv -> max-pool -> ReLU: the
    # same outputs and gradients (max-pool commutes with a monotone ReLU) with a quarter of
    # the ReLU work, and the same parameter indices, so checkpoints load either way.
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
        Dropout(0.2), nn.Flatten(),
        nn.Linear(32 * 7 * 7, 512), nn.ReLU(), Dropout(0.2),
        nn.Linear(512, 256), nn.ReLU(), Dropout(0.2),
        nn.Linear(256, 10),
    )


def bn_cnn() -> nn.Module:
    # Order as in the blog post: conv, pool, relu, batchnorm.
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.ReLU(), nn.BatchNorm2d(6),
        nn.Conv2d(6, 12, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(12 * 4 * 4, 120), nn.ReLU(), nn.BatchNorm1d(120),
        nn.Linear(120, 60), nn.ReLU(),
        nn.Linear(60, 10),
    )


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Residual(nn.Module):
    """x + f(x), with f two conv-bn-relu layers at constant width."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(width, width), _conv_bn(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet(widths: tuple[int, int, int] = (32, 64, 128)) -> nn.Module:
    """ResNet-9-style net scaled to 28x28: one conv at full resolution, then residual
    stages at 14x14 and 7x7 (pooling before the wider convs keeps it CPU-trainable)."""
    w1, w2, w3 = widths
    return nn.Sequential(
        _conv_bn(1, w1), nn.MaxPool2d(2),                 # 28 -> 14
        _conv_bn(w1, w2), Residual(w2), nn.MaxPool2d(2),  # 14 -> 7
        _conv_bn(w2, w3), Residual(w3),                   # 7x7
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), Dropout(0.2),
        nn.Linear(w3, 10),
    )


def fastcnn() -> nn.Module:
    """bn-cnn's shape, wider: sized for seconds-long training on a 2-core CPU.

    Pooling comes before ReLU and BatchNorm (as in bn-cnn), so the memory-bound
    ops run at 12x12 and 4x4 rather than 24x24: on a CPU they, not the convs,
    dominate a small model's step time.
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 5), nn.MaxPool2d(2), nn.ReLU(), nn.BatchNorm2d(16),   # 28 -> 24 -> 12
        nn.Conv2d(16, 32, 5), nn.MaxPool2d(2), nn.ReLU(), nn.BatchNorm2d(32),  # 12 -> 8 -> 4
        nn.Flatten(), nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.BatchNorm1d(128),
        nn.Linear(128, 10),
    )


def fastcnn_wide() -> nn.Module:
    """fastcnn's order with 3x3 convs that keep the resolution: 32 maps at 28x28 and 14x14
    and 7x7x32 features into the classifier (fastcnn: 4x4x32). Twice fastcnn's step
    time, for the detail garments need (Fashion: 92.7% validation in 4 epochs, where
    fastcnn plateaus near 92.0% in 12; docs/speedrun.md)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.BatchNorm2d(32),   # 28 -> 14
        nn.Conv2d(32, 32, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.BatchNorm2d(32),  # 14 -> 7
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.BatchNorm1d(128),
        nn.Linear(128, 10),
    )


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    build: Callable[[], nn.Module]
    reference: bool  # True: layers fixed by the reference it comes from


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in [
    Architecture("ffnn", "MLP 784-512-256-10, ReLU, dropout 0.2 (reference MNIST and "
                 "Fashion notebooks: 97.81% / 89.56%)", ffnn, True),
    Architecture("cnn", "2 conv (16, 32) + MLP 1568-512-256-10, dropout 0.2 (reference "
                 "notebooks: 99.11% MNIST / 91.66% Fashion)", cnn, True),
    Architecture("ffnn-deep", "MLP 784-256-128-64-10, ReLU, dropout 0.2 (a Fashion-MNIST "
                 "tutorial)", ffnn_deep, True),
    Architecture("bn-cnn", "LeNet-like: 2 conv 5x5 (6, 12) with BatchNorm, FC 192-120-60-10 "
                 "(a Fashion-MNIST blog post: ~90% in 5 epochs)", bn_cnn, True),
    Architecture("ffnn-small", "MLP 784-128-64-10, ReLU, dropout 0.25 (a Fashion FC-only "
                 "project: 87.42%)", ffnn_small, True),
    Architecture("fastcnn", "MNIST Studio's speedrun CNN: bn-cnn widened to 16 and 32 "
                 "filters, built for seconds-long CPU training", fastcnn, False),
    Architecture("fastcnn-wide", "MNIST Studio's Fashion speedrun CNN: 3x3 convs (32, 32) "
                 "keeping 28x28 and 14x14 detail, BatchNorm, 7x7x32 features", fastcnn_wide, False),
    Architecture("resnet", "MNIST Studio's strongest: ResNet-9-style (32-64-128) with "
                 "BatchNorm and residual blocks, trained with augmentation", resnet, False),
]}


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}") from None


def build_model(name: str) -> nn.Module:
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
