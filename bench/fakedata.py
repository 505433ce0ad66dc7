"""Tiny, learnable stand-ins for MNIST and Fashion-MNIST, written as real IDX files.

They go through torchvision's own loader (core.data.load_split), so tests
exercise the real loading path without the real data or a network.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from core.data import DATASETS


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX format: magic (0, 0, dtype 0x08 = uint8, ndim), big-endian dims, raw bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def class_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Class c is a bright bar whose position and orientation depend on c, plus noise."""
    n = len(labels)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.float32)
    for i, c in enumerate(labels):
        offset = 4 + 2 * (c % 5) + rng.integers(-1, 2)
        if c < 5:
            images[i, 4:24, offset:offset + 3] += 200  # vertical bar
        else:
            images[i, offset:offset + 3, 4:24] += 200  # horizontal bar
    return np.clip(images, 0, 255).astype(np.uint8)


def write_fake_dataset(root: Path, name: str, n_train: int = 500, n_test: int = 100,
                       seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    raw = Path(root) / DATASETS[name].folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", class_images(labels, rng))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
    return Path(root)
