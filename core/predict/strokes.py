"""Stroke width: measure it, and bring a drawing's strokes to the width MNIST's digits have.

A canvas brush has one width, whatever the size of the digit drawn with it.
Scaled to MNIST's 20 px box, a small digit's strokes come out several times
thicker than MNIST's (and a big one's thinner): loops fill in, and 4, 7 and 3
are read as 9, 9 and 8. So before scaling, the strokes are thinned (eroded)
or thickened (dilated) by a disk so that, once scaled, they are as wide as
MNIST's typical stroke (DatasetSpec.stroke_width).

The width estimate: along the strokes' centre lines (the skeleton, by
Zhang-Suen thinning), the local width is twice the distance to the
background; the estimate is a low quantile of it. numpy and PIL only.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

INK_LEVEL = 0.5  # a pixel at half the full ink level or more is ink (half maximum)
# Thinning costs one pass per pixel of stroke half-width: big drawings are thinned
# after an area reduction to this longer side (20 px strokes on 280 px become 8 px).
WORK_SIDE = 112
QUANTILE = 0.25  # of the local widths along the strokes (see stroke_width)


# ---------------------------------------------------------------- skeleton

def _neighbours(image: np.ndarray) -> list[np.ndarray]:
    """P2..P9 of Zhang & Suen (north, then clockwise) for every pixel; outside is 0."""
    p = np.pad(image, 1)
    h, w = image.shape
    at = lambda dy, dx: p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]  # noqa: E731
    return [at(-1, 0), at(-1, 1), at(0, 1), at(1, 1), at(1, 0), at(1, -1), at(0, -1), at(-1, -1)]


def _removable(step: int) -> np.ndarray:
    """Zhang & Suen's test for every 3x3 neighbourhood, as a table: entry `code` (bit i
    set when neighbour P(i+2) is ink) says whether the centre pixel goes in `step`."""
    table = np.zeros(256, bool)
    for code in range(256):
        n = [(code >> i) & 1 for i in range(8)]  # P2..P9
        count = sum(n)  # B(P1)
        transitions = sum(n[i] == 0 and n[(i + 1) % 8] == 1 for i in range(8))  # A(P1)
        p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
        if step == 0:
            side = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
        else:
            side = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
        table[code] = 2 <= count <= 6 and transitions == 1 and side
    return table


REMOVABLE = (_removable(0), _removable(1))


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning (1984), vectorised: the one-pixel-wide centre lines of `mask`.
    Each pass codes every pixel's 8 neighbours as one byte and looks the rule up
    (REMOVABLE), rather than evaluating it term by term."""
    image = np.asarray(mask, bool).astype(np.uint8)
    while True:
        changed = False
        for step in (0, 1):
            code = np.zeros(image.shape, np.uint8)
            for bit, neighbour in enumerate(_neighbours(image)):
                code |= neighbour << bit
            remove = (image == 1) & REMOVABLE[step][code]
            if remove.any():
                image[remove] = 0
                changed = True
        if not changed:
            return image.astype(bool)


def depth(mask: np.ndarray) -> np.ndarray:
    """For each ink pixel, how many erosions it survives, plus one (0 on background):
    its distance to the background in octagonal steps, erosions alternating a
    4- and an 8-neighbourhood, which stays within ~8% of the Euclidean distance."""
    current = np.asarray(mask, bool)
    out = current.astype(np.int32)
    step = 0
    while current.any():
        n = _neighbours(current)
        keep = current & n[0] & n[2] & n[4] & n[6]  # 4-neighbourhood
        if step % 2:
            keep &= n[1] & n[3] & n[5] & n[7]  # and the diagonals
        current = keep
        out += current
        step += 1
    return out


def stroke_width(ink: np.ndarray, level: float = INK_LEVEL, quantile: float = QUANTILE) -> float:
    """Stroke width in pixels of an image whose ink is bright (any scale), 0 without ink.

    Ink is what reaches `level` of the maximum. Along the strokes' centre lines
    (their skeleton), the local width is twice the distance to the background,
    less the centre pixel; the estimate is its `quantile`. A low quantile reads
    the brush where two strokes have merged into a blob (a small digit drawn
    with a broad brush), whose centre is far from any edge.
    """
    ink = np.asarray(ink, np.float64)
    top = ink.max(initial=0.0)
    if top <= 0:
        return 0.0
    mask = ink >= level * top
    widths = 2 * depth(mask)[skeleton(mask)] - 1
    return float(np.quantile(widths, quantile)) if widths.size else 0.0


# ---------------------------------------------------------------- reshaping

def _disk(radius: float) -> list[tuple[int, int]]:
    reach = int(math.floor(radius))
    return [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)
            if dy * dy + dx * dx <= radius * radius]


def _disk_filter(image: np.ndarray, radius: float, pick) -> np.ndarray:
    """Grayscale erosion (pick=np.minimum) or dilation (np.maximum) by a disk."""
    reach = int(math.floor(radius))
    padded = np.pad(image, reach)
    h, w = image.shape
    out = image.copy()
    for dy, dx in _disk(radius):
        out = pick(out, padded[reach + dy:reach + dy + h, reach + dx:reach + dx + w])
    return out


def _reduce(ink: np.ndarray, longest: int) -> np.ndarray:
    height, width = ink.shape
    scale = longest / max(height, width)
    if scale >= 1:
        return ink
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BOX),
                      np.float64)


def fit_stroke_width(ink: np.ndarray, box: int, width: float) -> np.ndarray:
    """Cropped ink (float 0..1, bright on dark) -> the same drawing, its strokes made as
    thick as `width` px will be once its longer side is scaled to `box` px.

    Strokes are thinned by erosion with a disk, thickened by dilation. (Redrawing
    the skeleton with a thin brush was tried and read worse: where a thick brush
    merged two strokes, the skeleton has lost them, while erosion works from the
    outline, which still follows each stroke's path, and reopens such loops.)
    Big inputs are first area-reduced (WORK_SIDE). The result is cropped to its
    ink again; unchanged (but reduced) when the width is already about right.
    """
    work = _reduce(np.asarray(ink, np.float64), WORK_SIDE)
    current = stroke_width(work)
    # Eroding by r takes r off each side of the strokes and of the drawing, whose
    # longer side E is then scaled to the box: (current - 2r) * box / (E - 2r) = width.
    share = width / box
    radius = (current - share * max(work.shape)) / (2 * (1 - share))
    if radius >= 0.5:
        shaped = _disk_filter(work, radius, np.minimum)
    elif radius <= -0.5:
        shaped = np.pad(work, int(-radius) + 1)  # room to grow
        shaped = _disk_filter(shaped, -radius, np.maximum)
    else:
        return work
    if shaped.max(initial=0.0) <= 0:
        return work  # nothing would be left
    rows = np.flatnonzero(shaped.max(1) > 0)
    cols = np.flatnonzero(shaped.max(0) > 0)
    return shaped[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
