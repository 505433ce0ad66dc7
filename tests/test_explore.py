"""core.data.explore: samples per class, montages, enlarging."""
from __future__ import annotations

import numpy as np
import torch

from core.data import Split
from core.data.explore import class_sample_images, enlarge, montage, samples_per_class


def test_samples_per_class_are_of_that_class_and_seeded():
    labels = np.array([0, 1, 1, 2, 2, 2] * 5)
    groups = samples_per_class(labels, 4, seed=1)
    assert [g.count for g in groups[:3]] == [5, 10, 15] and groups[5].count == 0
    for g in groups[:3]:
        assert len(g.indices) == 4 and all(labels[i] == g.label for i in g.indices)
        assert g.indices == sorted(g.indices)
    assert groups[5].indices == []
    assert samples_per_class(labels, 4, seed=1)[2].indices == groups[2].indices
    assert len(samples_per_class(labels, 100)[0].indices) == 5  # all there are


def test_montage_layout_and_enlarge():
    images = np.stack([np.full((2, 3), i * 10, np.uint8) for i in range(5)])
    out = montage(images, columns=3, gap=1, background=255)
    assert out.shape == (2 * 2 + 1, 3 * 3 + 2)
    assert out[0, 0] == 0 and out[0, 4] == 10 and out[3, 4] == 40 and out[2, 0] == 255
    assert montage(images, columns=2, gap=0, scale=2).shape == (12, 12)
    big = enlarge(np.array([[1, 2]], np.uint8), 3)
    assert big.shape == (3, 6) and (big[:, :3] == 1).all()


def test_class_sample_images_returns_the_pixels():
    images = torch.arange(10 * 4, dtype=torch.uint8).reshape(10, 2, 2)
    split = Split(images, torch.arange(10) % 2)
    groups = class_sample_images(split, 2, seed=0)
    for group, pixels in groups[:2]:
        assert pixels.shape == (2, 2, 2)
        assert (pixels == images[group.indices].numpy()).all()
