"""On-device augmentation of normalised (B, 1, 28, 28) batches.

Everything is batched tensor indexing, so it costs a fraction of a training
step and runs wherever the batch lives (CPU or GPU).
"""
from __future__ import annotations

import torch


def random_shift(x: torch.Tensor, max_shift: int, fill: float) -> torch.Tensor:
    """Translate each image by its own random (dy, dx) in [-max_shift, max_shift]."""
    if max_shift <= 0:
        return x
    b, c, h, w = x.shape
    pad = torch.nn.functional.pad(x, (max_shift,) * 4, value=fill)
    oy = torch.randint(0, 2 * max_shift + 1, (b, 1, 1), device=x.device)
    ox = torch.randint(0, 2 * max_shift + 1, (b, 1, 1), device=x.device)
    rows = oy + torch.arange(h, device=x.device).view(1, h, 1)
    cols = ox + torch.arange(w, device=x.device).view(1, 1, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return pad[batch, 0, rows, cols].unsqueeze(1)


def random_hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror half of the images left-right (garments only: a mirrored 2 is not a 2)."""
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, x.flip(-1), x)


def random_erase(x: torch.Tensor, size: int, fill: float, p: float = 0.5) -> torch.Tensor:
    """Cutout: blank a size x size square at a random place in a fraction p of the images."""
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b, 1, 1, 1), device=x.device)
    cx = torch.randint(0, w, (b, 1, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, 1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, 1, w)
    inside = ((ys - cy).abs() <= size // 2) & ((xs - cx).abs() <= size // 2)
    chosen = torch.rand(b, 1, 1, 1, device=x.device) < p
    return x.masked_fill(inside & chosen, fill)


def augment(x: torch.Tensor, fill: float, hflip: bool, max_shift: int = 2,
            erase: int = 0) -> torch.Tensor:
    x = random_shift(x, max_shift, fill)
    if hflip:
        x = random_hflip(x)
    if erase:
        x = random_erase(x, erase, fill)
    return x
