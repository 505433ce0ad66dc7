"""Out-of-distribution inputs, built to calibrate and measure "I don't know" (core.predict.ood).

Every set is (N, 28, 28) uint8, made the way the app would show it to a model of
`dataset`: drawn or rendered as on the canvas, then preprocessed by
core.predict.preprocess (cropped, scaled, centred like the dataset's images).

    other    the other dataset's training images (garments for digit models and back)
    letters  A-Z, a-z rendered from the DejaVu fonts, in random sizes and slants;
             letters a digit model could fairly call a digit (O, l, S, ...) are left out
    scribble random strokes drawn like canvas strokes
    pair     two of the model's own training images side by side

`part` picks disjoint material for choosing ("val") and for reporting ("test"):
different halves of the other dataset's images, different seeds for the rest.
Nothing comes from a test split.
"""
from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from core.data import DATASETS, load_bundle, load_split
from core.predict.preprocess import preprocess_gray

KINDS = ("other", "letters", "scribble", "pair")
CANVAS = 280  # ui.classify.canvas.SIZE and STROKE: the strokes people draw
STROKE = 20
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
# Shapes that are digits in some handwriting: no detector should be asked to flag them.
DIGIT_LIKE = set("OoDQIlijJSsZzBbGgqT")
LETTERS = "".join(c for c in string.ascii_letters if c not in DIGIT_LIKE)
_SEEDS = {"val": 0, "test": 1}


def _other(dataset: str, n: int, part: str, root) -> np.ndarray:
    other = next(name for name in DATASETS if name != dataset)
    full = load_split(other, train=True, root=root, download=False)
    half = len(full) // 2
    start = 0 if part == "val" else half
    index = np.random.default_rng(_SEEDS[part]).choice(half, min(n, half), replace=False) + start
    return np.stack([preprocess_gray(full.images[i].numpy(), dataset) for i in index])


@lru_cache(maxsize=1)
def _fonts() -> tuple[Path, ...]:
    for folder in FONT_DIRS:
        found = tuple(sorted(folder.glob("DejaVu*.ttf")))
        if found:
            return found
    return ()


def _font(path: Path | None, size: int) -> ImageFont.ImageFont:
    if path is None:  # no DejaVu here: PIL's own font (scalable since Pillow 10.1)
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def render_letter(letter: str, font: Path | None, size: int, angle: float,
                  dataset: str) -> np.ndarray:
    """One letter, white on a black canvas, tilted by `angle` degrees, preprocessed."""
    canvas = Image.new("L", (CANVAS, CANVAS))
    ImageDraw.Draw(canvas).text((CANVAS // 2, CANVAS // 2), letter, fill=255,
                                font=_font(font, size), anchor="mm")
    canvas = canvas.rotate(angle, resample=Image.Resampling.BILINEAR)
    return preprocess_gray(np.asarray(canvas), dataset)


def _letters(dataset: str, n: int, part: str) -> np.ndarray:
    rng = np.random.default_rng(100 + _SEEDS[part])
    fonts = _fonts() or (None,)
    return np.stack([render_letter(LETTERS[i % len(LETTERS)], fonts[rng.integers(len(fonts))],
                                   int(rng.integers(120, 220)), float(rng.uniform(-15, 15)),
                                   dataset) for i in range(n)])


def draw_scribble(rng: np.random.Generator, dataset: str) -> np.ndarray:
    """1-3 random strokes on the canvas: smoothed random walks, round joints and ends."""
    canvas = Image.new("L", (CANVAS, CANVAS))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 4))):
        steps = rng.normal(0, 25, size=(int(rng.integers(4, 16)), 2))
        points = rng.uniform(40, CANVAS - 40, 2) + np.cumsum(steps, 0)
        points = np.clip(points, 10, CANVAS - 10)
        draw.line([tuple(p) for p in points], fill=255, width=STROKE, joint="curve")
        for x, y in points[[0, -1]]:
            draw.ellipse([x - STROKE / 2, y - STROKE / 2, x + STROKE / 2, y + STROKE / 2], fill=255)
    return preprocess_gray(np.asarray(canvas), dataset)


def _scribbles(dataset: str, n: int, part: str) -> np.ndarray:
    rng = np.random.default_rng(200 + _SEEDS[part])
    return np.stack([draw_scribble(rng, dataset) for _ in range(n)])


def _pairs(dataset: str, n: int, part: str, root) -> np.ndarray:
    train = load_bundle(dataset, root=root, download=False).train.images
    rng = np.random.default_rng(300 + _SEEDS[part])
    index = rng.choice(len(train), size=(n, 2))
    return np.stack([preprocess_gray(np.hstack([train[a].numpy(), train[b].numpy()]), dataset)
                     for a, b in index])


def build_ood_sets(dataset: str, n: int = 1000, part: str = "val",
                   root=None) -> dict[str, torch.Tensor]:
    """{kind: (n, 28, 28) uint8 images} of inputs a model of `dataset` does not know."""
    if part not in _SEEDS:
        raise ValueError(f"part must be one of {sorted(_SEEDS)}, got {part!r}")
    sets = {"other": _other(dataset, n, part, root), "letters": _letters(dataset, n, part),
            "scribble": _scribbles(dataset, n, part), "pair": _pairs(dataset, n, part, root)}
    return {kind: torch.from_numpy(np.ascontiguousarray(images)) for kind, images in sets.items()}
