"""Images redrawn the way a person draws on the Classify canvas: even-width round strokes.

A dataset image's ink is reduced to its centre lines (its skeleton, at 4x
resolution), then drawn with a round brush of one width on a 280 px canvas,
white on black and anti-aliased (drawn at 2x, area-reduced), as the canvas
component does. Glyphs of a font go the same way (a letter drawn with the
mouse).

Used to measure how the models read drawings (scripts/stroke_sizes.py), to
build the drawn families of core.predict.ood_sets, and to show the models,
while they train, what a drawing looks like after core.predict.preprocess
(core.train.outliers).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.predict.preprocess import from_canvas
from core.predict.strokes import skeleton

CANVAS = 280  # ui.classify.canvas.SIZE
UPSAMPLE = 4  # images are thinned at 4x: smoother centre lines than at 28 px
SUPERSAMPLE = 2  # drawings are made at 2x and area-reduced: anti-aliased like the canvas's
# What a person's drawing spans (longer side, share of the canvas) and the brush widths
# (canvas px) redraws are made with: the app's brush is 10 px, and people also draw
# small, large, and with the broader brushes of other drawing programs.
SIZES = (0.25, 0.95)
WIDTHS = (8, 28)


def skeleton_points(image: np.ndarray, upsample: int = UPSAMPLE) -> np.ndarray:
    """(K, 2) row/column points of an image's centre lines, at `upsample` x resolution.
    Ink is what reaches half the brightest pixel."""
    image = np.asarray(image, np.uint8)
    h, w = image.shape
    big = Image.fromarray(image).resize((w * upsample, h * upsample), Image.Resampling.BILINEAR)
    pixels = np.asarray(big, np.float64)
    if pixels.max(initial=0.0) <= 0:
        return np.zeros((0, 2), np.int64)
    return np.argwhere(skeleton(pixels >= 0.5 * pixels.max()))


def draw_strokes(points: np.ndarray, size: float, width: float, canvas: int = CANVAS,
                 offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Centre-line points drawn with a round brush: an RGBA canvas array, white ink on
    black, the ink spanning `size` of the canvas on its longer side, centred and then
    moved by `offset` (a share of the canvas, clamped so the drawing stays on it).
    Neighbouring points (8-connected) are joined by lines, every point gets a dab."""
    k = SUPERSAMPLE
    rows, cols = points[:, 0] - points[:, 0].min(), points[:, 1] - points[:, 1].min()
    extent = max(rows.max(), cols.max(), 1)
    scale = max(size * canvas - width, 1.0) / extent
    height, breadth = rows.max() * scale + width, cols.max() * scale + width
    top = (canvas - height) / 2 + width / 2
    left = (canvas - breadth) / 2 + width / 2
    top += float(np.clip(offset[0] * canvas, -(canvas - height) / 2, (canvas - height) / 2))
    left += float(np.clip(offset[1] * canvas, -(canvas - breadth) / 2, (canvas - breadth) / 2))
    ys, xs = (rows * scale + top) * k, (cols * scale + left) * k
    image = Image.new("L", (canvas * k, canvas * k), 0)
    draw = ImageDraw.Draw(image)
    r = width * k / 2
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(points)}
    for i, (a, b) in enumerate(points):  # lines to 8-neighbours, then round dabs
        for da, db in ((0, 1), (1, 0), (1, 1), (1, -1)):
            j = index.get((int(a) + da, int(b) + db))
            if j is not None:
                draw.line([(xs[i], ys[i]), (xs[j], ys[j])], fill=255, width=int(round(width * k)))
        draw.ellipse([xs[i] - r, ys[i] - r, xs[i] + r, ys[i] + r], fill=255)
    return as_rgba(np.asarray(image.resize((canvas, canvas), Image.Resampling.BOX)))


def draw_polylines(lines: list[np.ndarray], width: float, canvas: int = CANVAS) -> np.ndarray:
    """Polylines in canvas px ((K, 2) arrays of x, y) drawn with a round brush, as the
    canvas draws a mouse's path: an RGBA array, white ink on black."""
    k = SUPERSAMPLE
    image = Image.new("L", (canvas * k, canvas * k), 0)
    draw = ImageDraw.Draw(image)
    r = width * k / 2
    for line in lines:
        pts = [(float(x) * k, float(y) * k) for x, y in np.asarray(line)]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=int(round(width * k)), joint="curve")
        for x, y in pts:  # round ends and joints
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return as_rgba(np.asarray(image.resize((canvas, canvas), Image.Resampling.BOX)))


def as_rgba(gray: np.ndarray) -> np.ndarray:
    """(H, W) uint8 gray -> (H, W, 4) opaque RGBA, as the canvas component sends."""
    rgba = np.empty((*gray.shape, 4), np.uint8)
    rgba[..., :3] = gray[..., None]
    rgba[..., 3] = 255
    return rgba


def glyph(text: str, font: ImageFont.ImageFont, canvas: int = CANVAS) -> np.ndarray:
    """`text` rendered white on black, centred on a canvas-sized (H, W) uint8 image."""
    image = Image.new("L", (canvas, canvas))
    ImageDraw.Draw(image).text((canvas // 2, canvas // 2), text, fill=255, font=font, anchor="mm")
    return np.asarray(image)


def random_drawing(points: np.ndarray, rng: np.random.Generator, dataset: str) -> np.ndarray:
    """Centre-line points drawn at a random size, brush width and place on the canvas,
    then preprocessed as the app preprocesses a drawing: (28, 28) uint8."""
    size = float(rng.uniform(*SIZES))
    width = float(rng.uniform(*WIDTHS))
    offset = tuple(rng.uniform(-0.3, 0.3, 2))
    return from_canvas(draw_strokes(points, size, width, offset=offset), dataset).image


def redraw(image: np.ndarray, rng: np.random.Generator, dataset: str) -> np.ndarray:
    """A dataset image as a person would draw it on the canvas, preprocessed as the app
    does: (28, 28) uint8 (all zeros for an image without ink)."""
    points = skeleton_points(image)
    if len(points) == 0:
        return np.zeros((28, 28), np.uint8)
    return random_drawing(points, rng, dataset)
