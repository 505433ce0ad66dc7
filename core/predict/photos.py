"""Images photographed the way a person photographs a printed digit or a garment for
the app's upload: dark ink on light, unevenly lit paper, placed at random, slightly
rotated and blurred, with sensor noise and JPEG compression.

Used to measure how the models read photos (scripts/real_inputs.py) and to show the
garment models, while they train, what a photo looks like after the app's
preprocessing (core.train.outliers, through core.predict.ood_sets.redraws).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from core.predict.preprocess import from_image

SIDE = 320  # a phone photo after the browser's resize is larger; 320 px keeps it quick
GARMENT_SIDE = 224  # a garment is enlarged to this before it is photographed


def photograph(ink: np.ndarray, rng: np.random.Generator, side: int = SIDE) -> Image.Image:
    """Dark ink (given bright on black, any size) on light, unevenly lit paper, placed at
    random, slightly rotated and blurred, with sensor noise and JPEG compression."""
    ink_img = Image.fromarray(ink)
    scale = rng.uniform(0.45, 0.8) * side / max(ink_img.size)
    ink_img = ink_img.resize((max(1, round(ink_img.width * scale)),
                              max(1, round(ink_img.height * scale))), Image.Resampling.BICUBIC)
    ink_img = ink_img.rotate(rng.uniform(-6, 6), resample=Image.Resampling.BICUBIC, expand=True)
    layer = Image.new("L", (side, side))
    left = int(rng.integers(0, max(1, side - ink_img.width)))
    top = int(rng.integers(0, max(1, side - ink_img.height)))
    layer.paste(ink_img, (left, top))
    layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    y, x = np.mgrid[0:side, 0:side] / side
    paper = rng.uniform(190, 240) + rng.uniform(-25, 25) * x + rng.uniform(-25, 25) * y
    darkness = rng.uniform(0.6, 0.9)
    pixels = paper * (1 - darkness * np.asarray(layer, np.float64) / 255)
    pixels += rng.normal(0, rng.uniform(2, 6), pixels.shape)
    rgb = np.repeat(np.clip(pixels, 0, 255).astype(np.uint8)[..., None], 3, 2)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(rng.integers(60, 90)))
    return Image.open(io.BytesIO(buf.getvalue()))


def garment_photo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (28, 28) garment image as a product photo, preprocessed as the app preprocesses
    an upload: (28, 28) uint8."""
    big = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize(
        (GARMENT_SIDE, GARMENT_SIDE), Image.Resampling.BICUBIC))
    return from_image(photograph(big, rng), "fashion").image
