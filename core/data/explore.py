"""Browsing a dataset: a few random samples of every class, tiled into one image per class."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.data import Split


@dataclass
class ClassSamples:
    label: int
    indices: list[int]  # positions in the split
    count: int  # how many images of this class the split holds


def samples_per_class(labels: torch.Tensor | np.ndarray, per_class: int, seed: int = 0,
                      n_classes: int = 10) -> list[ClassSamples]:
    """per_class random indices of each class (all of them when there are fewer), sorted."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = []
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        take = min(per_class, len(members))
        chosen = np.sort(rng.choice(members, size=take, replace=False)) if take else members[:0]
        out.append(ClassSamples(c, chosen.tolist(), len(members)))
    return out


def montage(images: np.ndarray | torch.Tensor, columns: int, gap: int = 2,
            scale: int = 1, background: int = 40) -> np.ndarray:
    """(N, H, W) uint8 -> one uint8 image, `columns` per row, `gap` px apart.

    One image per class row instead of N small ones keeps the page light:
    the browser receives one PNG, not N. scale repeats pixels (no blur).
    """
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 3:
        raise ValueError(f"expected (N, H, W) images, got shape {images.shape}")
    images = enlarge(images, scale)
    n, height, width = images.shape
    columns = max(1, columns)
    cells = max(1, -(-n // columns)) * columns  # every row full: empty cells are background
    tiles = torch.full((cells, 1, height, width), background, dtype=torch.uint8)
    tiles[:n, 0] = torch.from_numpy(images)
    if cells == 1:  # make_grid returns a single image as it is, without the border cropped below
        return tiles[0, 0].numpy()
    # Imported here: torchvision costs about a second of the app's cold start.
    from torchvision.utils import make_grid
    grid = make_grid(tiles, nrow=columns, padding=gap, pad_value=background)[0]
    # make_grid also frames the whole grid with `gap`; the montage has gaps only between.
    return grid[gap:grid.shape[0] - gap, gap:grid.shape[1] - gap].numpy()


def class_sample_images(split: Split, per_class: int,
                        seed: int = 0) -> list[tuple[ClassSamples, np.ndarray]]:
    """For each class: its samples and their (k, 28, 28) images."""
    groups = samples_per_class(split.labels, per_class, seed)
    return [(g, split.images[torch.as_tensor(g.indices, dtype=torch.long)].numpy()) for g in groups]


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Repeat each pixel scale x scale times: a crisp large view of a 28x28 image, or
    of each image in an (N, H, W) stack (a browser scaling it up would blur it)."""
    image = np.asarray(image, dtype=np.uint8)
    return image.repeat(scale, axis=-2).repeat(scale, axis=-1) if scale > 1 else image
