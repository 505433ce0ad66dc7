"""A faithful copy of the reference notebooks' training loop, for comparison only.

torchvision dataset -> ToTensor() per sample -> DataLoader(batch_size=20,
num_workers=0) with a SubsetRandomSampler over the training indices ->
Adam(lr=1e-3) -> loss.item() every batch, exactly as the notebooks did.

The model is the notebooks' own too (`reference_model`): their layer order and
torch's nn.Dropout, so nothing MNIST Studio does to its copies of these
architectures (pool before ReLU, a cheaper dropout mask) speeds up the yardstick.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data.sampler import SubsetRandomSampler
from torchvision import datasets, transforms

from core.data import data_root, get_spec
from core.networks.layers import Dropout
from core.networks.models import build_model


def _notebook_cnn() -> nn.Module:
    return nn.Sequential(  # conv -> ReLU -> pool, as the notebooks wrote it
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.2), nn.Flatten(),
        nn.Linear(32 * 7 * 7, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 10))


def torch_dropout(module: nn.Module) -> nn.Module:
    """module with each of our Dropout layers replaced by torch's nn.Dropout (in place)."""
    for name, child in module.named_children():
        if isinstance(child, Dropout):
            setattr(module, name, nn.Dropout(child.p))
        else:
            torch_dropout(child)
    return module


def reference_model(name: str) -> nn.Module:
    """The architecture as its reference source wrote it (same parameter keys as ours)."""
    return _notebook_cnn() if name == "cnn" else torch_dropout(build_model(name))


def reference_samples_per_second(model: nn.Module, dataset: str = "mnist",
                                 seconds: float = 20.0, root: str | None = None,
                                 device: str = "cpu") -> float:
    """Train with the notebooks' loop for about `seconds` and return samples/s (on a GPU,
    each batch moved to it as the notebooks' `data.to(device)` did)."""
    model = model.to(device)
    spec = get_spec(dataset)
    train_data = spec.torchvision_class(str(data_root(root)), train=True, download=False,
                                        transform=transforms.ToTensor())
    indices = list(range(len(train_data)))
    np.random.shuffle(indices)
    train_sampler = SubsetRandomSampler(indices[12000:])
    train_loader = DataLoader(train_data, batch_size=20, sampler=train_sampler, num_workers=0)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    model.train()
    train_loss, seen, start = 0.0, 0, None
    for i, (data, target) in enumerate(train_loader):
        if i == 5:  # warm-up done
            start, seen = time.perf_counter(), 0
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * data.size(0)
        seen += data.size(0)
        if start is not None and time.perf_counter() - start > seconds:
            break
    return seen / (time.perf_counter() - start)
