"""Stroke width: the estimator on strokes of known width, the canvas framing that brings
strokes to MNIST's width, and accuracy against drawing size on MNIST digits redrawn as
canvas strokes (scripts/stroke_sizes.py; skipped without the real data)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.data import get_spec
from core.predict.preprocess import from_canvas, from_image, preprocess_gray
from core.predict.strokes import fit_stroke_width, skeleton, stroke_width
from tests.conftest import REAL_DATA, real_data_present
from ui.classify.canvas import STROKE

CANVAS = 280
MNIST_WIDTH = get_spec("mnist").stroke_width


def drawn(shapes, size=CANVAS) -> np.ndarray:
    """A canvas-like RGBA array: white round-brush strokes on black. shapes: callables on
    an ImageDraw."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    for shape in shapes:
        shape(draw)
    gray = np.asarray(img)
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])


def line(points, width):
    def paint(draw):
        draw.line(points, fill=255, width=width)
        r = width / 2
        for x, y in (points[0], points[-1]):  # round caps, as the canvas brush
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return paint


def ring(centre, radius, width):
    cx, cy = centre
    return lambda d: d.ellipse([cx - radius - width / 2, cy - radius - width / 2,
                                cx + radius + width / 2, cy + radius + width / 2],
                               outline=255, width=width)


def width_28(image: np.ndarray) -> float:
    """stroke_width of a 28x28 image the way MNIST's was measured (4x bilinear, /4)."""
    big = Image.fromarray(image).resize((112, 112), Image.Resampling.BILINEAR)
    return stroke_width(np.asarray(big, np.float64)) / 4


# ------------------------------------------------------------------ the estimator

@pytest.mark.parametrize("width", [4, 9, 16, 25])
@pytest.mark.parametrize("direction", ["horizontal", "diagonal"])
def test_estimates_the_width_of_a_straight_stroke(width, direction):
    points = [(40, 140), (240, 140)] if direction == "horizontal" else [(50, 50), (230, 230)]
    rgba = drawn([line(points, width)])
    assert stroke_width(rgba[..., 0]) == pytest.approx(width, rel=0.15, abs=1.0)


def test_estimates_the_width_of_a_ring():
    assert stroke_width(drawn([ring((140, 140), 80, 12)])[..., 0]) == pytest.approx(12, rel=0.15)


def test_a_blob_where_strokes_merged_still_reads_as_the_brush():
    """Two strokes drawn side by side with a broad brush merge; their free ends still
    show the brush width, and the estimate (a low quantile along the strokes) sees them."""
    rgba = drawn([line([(60, 60), (60, 240)], 20), line([(75, 60), (75, 240)], 20),
                  line([(60, 60), (230, 30)], 20), line([(75, 240), (230, 260)], 20)])
    assert stroke_width(rgba[..., 0]) == pytest.approx(20, rel=0.2)


def test_no_ink_has_no_width():
    assert stroke_width(np.zeros((50, 50))) == 0.0


def test_skeleton_of_a_bar_is_one_pixel_thin_and_as_long():
    mask = np.zeros((40, 100), bool)
    mask[15:25, 10:90] = True
    skel = skeleton(mask)
    assert skel.sum(0)[20:80].max() == 1  # one pixel per column in the middle
    cols = np.flatnonzero(skel.any(0))
    assert cols[0] <= 20 and cols[-1] >= 80


# ------------------------------------------------------------------ normalisation

@pytest.mark.parametrize("size,brush", [(70, 20), (70, 30), (120, 20), (250, 10), (250, 20)])
def test_canvas_strokes_come_out_as_wide_as_mnists(size, brush):
    """An "L" of any size and brush becomes a 28x28 digit with MNIST's stroke width;
    without the fit, a small one is several times too thick."""
    top, left = (CANVAS - size) // 2, (CANVAS - size) // 2
    shape = line([(left + brush, top + brush // 2), (left + brush, top + size - brush),
                  (left + size * 3 // 4, top + size - brush)], brush)
    rgba = drawn([shape])
    fitted = width_28(from_canvas(rgba).image)
    # Within a pixel: the 28x28 measure moves in quarter pixels, and a short "L" drawn
    # with a 30 px brush is nearly all corners and caps.
    assert fitted == pytest.approx(MNIST_WIDTH, abs=1.0), fitted
    if size == 70:
        assert width_28(from_canvas(rgba, redraw_strokes=False).image) > 2 * MNIST_WIDTH


def test_a_small_loop_filled_by_a_broad_brush_opens_again():
    """A small "0": the brush nearly closes its hole; scaled as it is, the hole is gone."""
    rgba = drawn([ring((140, 140), 16, 30)])  # 62 px across, a 2 px hole
    before = from_canvas(rgba, redraw_strokes=False).image
    after = from_canvas(rgba).image
    hole = (slice(12, 17), slice(12, 17))  # the centre of the 28x28 frame
    assert before[hole].min() > 150
    assert after[hole].min() == 0


def test_fit_keeps_the_drawing_and_its_proportions():
    ink = np.zeros((60, 40))
    ink[5:55, 10:30] = 1.0  # a 20 px wide bar, 50 tall
    fitted = fit_stroke_width(ink, box=20, width=MNIST_WIDTH)
    assert fitted.shape[0] > fitted.shape[1] and fitted.max() > 0.9


def test_uploads_are_framed_as_before():
    """Photos and scans keep their own strokes: the fit is for canvas drawings."""
    img = Image.new("L", (120, 120), 0)
    ImageDraw.Draw(img).ellipse([40, 35, 80, 85], outline=255, width=14)
    assert np.array_equal(from_image(img, "mnist").image,
                          preprocess_gray(np.asarray(img), "mnist"))


# ---------------------------------------------------------------- accuracy by size

# The app's brush (ui.classify.canvas.STROKE) and the old, broader one.
N_DIGITS = 200


@pytest.fixture(scope="module")
def accuracy_by_size():
    if not real_data_present():
        pytest.skip(f"needs the real MNIST in {REAL_DATA}")
    from core.networks.catalog import default_model, list_models
    from core.networks.checkpoints import load_checkpoint
    from core.data import load_split
    from scripts.stroke_sizes import measure

    entry = default_model(list_models("mnist"), "mnist")
    if entry is None:
        pytest.skip("no shipped mnist model in weights/")
    ckpt = load_checkpoint(entry.path)
    test = load_split("mnist", train=False, root=REAL_DATA, download=False)
    cells = measure(ckpt.model, test.images[:N_DIGITS].numpy(), test.labels[:N_DIGITS].numpy(),
                    sizes=(0.25, 0.90), widths=(STROKE, 20),
                    mean=ckpt.meta.mean, std=ckpt.meta.std)
    return {(c.size, c.width): c for c in cells}


def test_small_drawings_read_as_well_as_large_ones(accuracy_by_size):
    small, large = accuracy_by_size[0.25, STROKE], accuracy_by_size[0.90, STROKE]
    assert small.after >= large.after - 0.01, (small, large)


def test_large_drawings_read_no_worse_than_before(accuracy_by_size):
    for brush in (STROKE, 20):
        large = accuracy_by_size[0.90, brush]
        assert large.after >= large.before, large


def test_the_fit_rescues_small_drawings_made_with_a_broad_brush(accuracy_by_size):
    """With the old 20 px brush a 25% drawing read ~86% of MNIST test digits (500, in
    scripts/stroke_sizes.py); thinning its strokes brings back most of them."""
    small = accuracy_by_size[0.25, 20]
    assert small.after >= small.before + 0.04, small


def _zhang_suen_term_by_term(mask: np.ndarray) -> np.ndarray:
    """Zhang & Suen (1984) as the paper states its conditions, one array per term."""
    image = np.asarray(mask, bool).astype(np.uint8)
    h, w = image.shape
    while True:
        changed = False
        for step in (0, 1):
            p = np.pad(image, 1)
            at = lambda dy, dx: p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]  # noqa: E731
            n = [at(-1, 0), at(-1, 1), at(0, 1), at(1, 1), at(1, 0), at(1, -1), at(0, -1),
                 at(-1, -1)]
            count = sum(n)
            ring = n + n[:1]
            transitions = sum((ring[i] == 0) & (ring[i + 1] == 1) for i in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            side = ((p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0) if step == 0
                    else (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0))
            remove = (image == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & side
            if remove.any():
                image[remove] = 0
                changed = True
        if not changed:
            return image.astype(bool)


def test_the_table_driven_thinning_is_zhang_suen_exactly():
    rng = np.random.default_rng(0)
    masks = [rng.random((20 + i % 40, 15 + i % 50)) < rng.uniform(0.2, 0.9) for i in range(150)]
    masks += [np.kron(m[::4, ::4], np.ones((4, 4), bool)) for m in masks[:50]]  # blobs
    masks.append(np.asarray(drawn([lambda d: d.line([(40, 40), (240, 220)], 255, 20),
                                   lambda d: d.ellipse([60, 60, 200, 200], None, 255, 14)]))[..., 0] > 0)
    for mask in masks:
        assert np.array_equal(skeleton(mask), _zhang_suen_term_by_term(mask))
