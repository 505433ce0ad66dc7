"""A faithful copy of the reference notebooks' training loop, for comparison only.

torchvision dataset -> ToTensor() per sample -> DataLoader(batch_size=20,
num_workers=0) with a SubsetRandomSampler over the training indices ->
Adam(lr=1e-3) -> loss.item() every batch, exactly as the notebooks did.
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


def reference_samples_per_second(model: nn.Module, dataset: str = "mnist",
                                 seconds: float = 20.0, root: str | None = None) -> float:
    """Train with the notebooks' loop for about `seconds` and return samples/s."""
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
