"""Drawings that are no digit and no garment, made as the canvas makes strokes.

Each maker returns polylines in a unit square ((K, 2) arrays of x, y in 0..1,
y down); `on_canvas` places them at a random size, slant and place on the
280 px canvas, shakes them a little like a hand, and draws them with a round
brush (core.predict.redraw.draw_polylines).

Four families, kept apart on purpose (docs/ood.md says which trains what):
    scribbles  1-3 random strokes (smoothed random walks)
    shapes     triangles, squares, stars, crosses, zigzags, waves, spirals, dots, bumpy loops
    compositions  3-6 random parts (rings, arcs, segments, dots, bent lines, boxes)
               scattered at random: drawn things in general, none designed as a picture
    doodles    pictures: smileys, #, houses, suns, hearts, trees, flowers, fish, clouds,
               stick figures, arrows, envelopes
Shapes a digit model should read as a digit (a ring, a single line) are left out.
Textures (noise, stripes, checks, blobs) are photos of nothing: `texture` gives a
grayscale image for the upload path.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
from PIL import Image

from core.predict.redraw import CANVAS, WIDTHS, draw_polylines

Lines = list[np.ndarray]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float,
         n: int = 24) -> np.ndarray:
    t = np.linspace(math.radians(start), math.radians(stop), n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _poly(*points: tuple[float, float]) -> np.ndarray:
    return np.array(points, np.float64)


# ---------------------------------------------------------------- shapes (trained on)

def triangle(rng: np.random.Generator) -> Lines:
    a = (rng.uniform(0.2, 0.8), rng.uniform(0, 0.1))
    b, c = (rng.uniform(0, 0.2), rng.uniform(0.9, 1)), (rng.uniform(0.8, 1), rng.uniform(0.9, 1))
    return [_poly(a, b, c, a)]


def square(rng: np.random.Generator) -> Lines:
    w, h = rng.uniform(0.6, 1.0, 2)
    return [_poly((0, 0), (w, 0), (w, h), (0, h), (0, 0))]


def star(rng: np.random.Generator) -> Lines:
    t = np.arange(6) * 4 * math.pi / 5 + rng.uniform(0, 2 * math.pi)
    return [np.stack([0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)], 1)]


def cross(rng: np.random.Generator) -> Lines:
    return [_poly((0, 0), (1, 1)), _poly((1, 0), (0, 1))]


def zigzag(rng: np.random.Generator) -> Lines:
    n = int(rng.integers(4, 8))
    x = np.linspace(0, 1, n)
    return [np.stack([x, np.where(np.arange(n) % 2, 0.0, 0.6)], 1)]


def wave(rng: np.random.Generator) -> Lines:
    x = np.linspace(0, 1, 40)
    k = rng.uniform(1.5, 3.5)
    return [np.stack([x, 0.5 + 0.25 * np.sin(2 * math.pi * k * x)], 1)]


def spiral(rng: np.random.Generator) -> Lines:
    t = np.linspace(0, rng.uniform(3, 5) * math.pi, 80)
    r = 0.05 + 0.45 * t / t[-1]
    return [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], 1)]


def dots(rng: np.random.Generator) -> Lines:
    n = int(rng.integers(4, 10))
    return [p[None] for p in rng.uniform(0, 1, (n, 2))]


def bumpy_loop(rng: np.random.Generator) -> Lines:
    """A closed curve with 3-9 bumps, all round or over part of it, round or wide, one side
    sometimes flattened: no smooth oval (that would be a 0)."""
    t = np.linspace(0, 2 * math.pi, 120)
    k, phase = int(rng.integers(3, 9)), rng.uniform(0, 2 * math.pi)
    span = rng.uniform(0.4, 1.0) * 2 * math.pi  # the bumps cover this much of the loop
    on = ((t - phase) % (2 * math.pi)) < span
    r = 1 + rng.uniform(0.3, 0.5) * np.abs(np.sin(k * math.pi * (t - phase) / span)) * on
    x, y = r * np.cos(t) * rng.uniform(1.0, 1.8), r * np.sin(t)
    if rng.random() < 0.5:  # a flat side
        y = np.minimum(y, rng.uniform(0.3, 0.8))
    return [np.stack([x, y], 1)]


def _primitive(rng: np.random.Generator, ring: bool = True) -> np.ndarray:
    """One small random part: a ring (if allowed), an arc, a segment, a dot, a bent line
    or a box."""
    cx, cy = rng.uniform(0.1, 0.9, 2)
    size = rng.uniform(0.08, 0.3)
    kind = int(rng.integers(0 if ring else 1, 6))
    if kind == 0:
        return _arc(cx, cy, size, size * rng.uniform(0.6, 1.4), 0, 360, 20)
    if kind == 1:
        start = rng.uniform(0, 360)
        return _arc(cx, cy, size, size, start, start + rng.uniform(90, 240), 14)
    if kind == 2:
        angle = rng.uniform(0, math.pi)
        d = np.array([math.cos(angle), math.sin(angle)]) * size
        return np.stack([[cx, cy] - d, [cx, cy] + d])
    if kind == 3:
        return np.array([[cx, cy], [cx + 0.01, cy + 0.01]])
    if kind == 4:
        return np.array([cx, cy]) + rng.uniform(-size, size, (3, 2))
    return _poly((cx - size, cy - size), (cx + size, cy - size), (cx + size, cy + size),
                 (cx - size, cy + size), (cx - size, cy - size))


def composition(rng: np.random.Generator) -> Lines:
    """3-6 random parts scattered over the square: a drawing of nothing in particular. At
    most one ring: two rings, or a ring and a stroke alone, are how 8, 6 and 9 look."""
    first = _primitive(rng)
    return [first] + [_primitive(rng, ring=False) for _ in range(int(rng.integers(2, 6)))]


SHAPES: dict[str, Callable[[np.random.Generator], Lines]] = {
    "triangle": triangle, "square": square, "star": star, "cross": cross, "zigzag": zigzag,
    "wave": wave, "spiral": spiral, "dots": dots, "bumpy loop": bumpy_loop}


# ---------------------------------------------------------------- doodles (held out)

def smiley(rng: np.random.Generator) -> Lines:
    mouth = rng.uniform(20, 40)
    return [_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 40),
            _poly((0.33, 0.35), (0.34, 0.37)), _poly((0.66, 0.35), (0.67, 0.37)),
            _arc(0.5, 0.55, 0.25, 0.2, mouth, 180 - mouth)]


def hash_sign(rng: np.random.Generator) -> Lines:
    s = rng.uniform(0, 0.15)
    return [_poly((0.3 + s, 0), (0.2, 1)), _poly((0.7 + s, 0), (0.6, 1)),
            _poly((0, 0.33), (1, 0.33)), _poly((0, 0.66), (1, 0.66))]


def house(rng: np.random.Generator) -> Lines:
    return [_poly((0.1, 0.45), (0.1, 1), (0.9, 1), (0.9, 0.45)),
            _poly((0, 0.5), (0.5, 0), (1, 0.5)), _poly((0.4, 1), (0.4, 0.7), (0.6, 0.7), (0.6, 1))]


def sun(rng: np.random.Generator) -> Lines:
    rays = int(rng.integers(6, 11))
    out = [_arc(0.5, 0.5, 0.25, 0.25, 0, 360, 32)]
    for t in np.arange(rays) * 2 * math.pi / rays:
        out.append(_poly((0.5 + 0.33 * math.cos(t), 0.5 + 0.33 * math.sin(t)),
                         (0.5 + 0.5 * math.cos(t), 0.5 + 0.5 * math.sin(t))))
    return out


def heart(rng: np.random.Generator) -> Lines:
    t = np.linspace(0, 2 * math.pi, 60)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([(x + 17) / 34, (y + 17) / 34], 1)]


def tree(rng: np.random.Generator) -> Lines:
    """A fir: three stacked triangles and a trunk (a ring on a stick would be a 9)."""
    return [_poly((0.5, 0), (0.25, 0.3), (0.75, 0.3), (0.5, 0)),
            _poly((0.5, 0.2), (0.15, 0.55), (0.85, 0.55), (0.5, 0.2)),
            _poly((0.5, 0.45), (0, 0.85), (1, 0.85), (0.5, 0.45)),
            _poly((0.45, 0.85), (0.45, 1), (0.55, 1), (0.55, 0.85))]


def flower(rng: np.random.Generator) -> Lines:
    """Broad petals round a centre, a stem with a leaf."""
    petals = int(rng.integers(5, 8))
    out = [_arc(0.5, 0.3, 0.08, 0.08, 0, 360, 12), _poly((0.5, 0.58), (0.5, 1)),
           _poly((0.5, 0.85), (0.75, 0.7), (0.5, 0.78))]
    for t in np.arange(petals) * 2 * math.pi / petals:
        cx, cy = 0.5 + 0.2 * math.cos(t), 0.3 + 0.2 * math.sin(t)
        out.append(_arc(cx, cy, 0.13, 0.13, 0, 360, 16))
    return out


def fish(rng: np.random.Generator) -> Lines:
    return [_arc(0.45, 0.5, 0.4, 0.25, 0, 360, 36), _poly((0.85, 0.5), (1, 0.3), (1, 0.7), (0.85, 0.5)),
            _poly((0.22, 0.43), (0.23, 0.45))]


def cloud(rng: np.random.Generator) -> Lines:
    return [np.concatenate([_arc(0.2, 0.6, 0.18, 0.18, 90, 270, 12),
                            _arc(0.42, 0.4, 0.25, 0.25, 180, 360, 16),
                            _arc(0.75, 0.5, 0.22, 0.22, 240, 450, 16),
                            _poly((0.75, 0.72), (0.2, 0.78))])]


def stick_figure(rng: np.random.Generator) -> Lines:
    return [_arc(0.5, 0.13, 0.12, 0.12, 0, 360, 20), _poly((0.5, 0.25), (0.5, 0.65)),
            _poly((0.15, 0.4), (0.85, 0.4)), _poly((0.2, 1), (0.5, 0.65), (0.8, 1))]


def arrow(rng: np.random.Generator) -> Lines:
    return [_poly((0, 0.5), (1, 0.5)), _poly((0.7, 0.2), (1, 0.5), (0.7, 0.8))]


def envelope(rng: np.random.Generator) -> Lines:
    return [_poly((0, 0.15), (1, 0.15), (1, 0.85), (0, 0.85), (0, 0.15)),
            _poly((0, 0.15), (0.5, 0.55), (1, 0.15))]


DOODLES: dict[str, Callable[[np.random.Generator], Lines]] = {
    "smiley": smiley, "hash": hash_sign, "house": house, "sun": sun, "heart": heart,
    "tree": tree, "flower": flower, "fish": fish, "cloud": cloud, "stick figure": stick_figure,
    "arrow": arrow, "envelope": envelope}


# ---------------------------------------------------------------- scribbles

def scribble(rng: np.random.Generator) -> Lines:
    """1-3 smoothed random walks (canvas px / CANVAS)."""
    out = []
    for _ in range(int(rng.integers(1, 4))):
        steps = rng.normal(0, 25, size=(int(rng.integers(4, 16)), 2))
        points = rng.uniform(40, CANVAS - 40, 2) + np.cumsum(steps, 0)
        out.append(np.clip(points, 10, CANVAS - 10) / CANVAS)
    return out


# ---------------------------------------------------------------- onto the canvas

def _wobble(line: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A hand's shake: the line resampled densely, plus a smooth random offset."""
    if len(line) < 2:
        return line
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    t = np.concatenate([[0], np.cumsum(seg)])
    if t[-1] <= 0:
        return line
    n = max(8, int(t[-1] / 0.03))
    s = np.linspace(0, t[-1], n)
    dense = np.stack([np.interp(s, t, line[:, 0]), np.interp(s, t, line[:, 1])], 1)
    noise = rng.normal(0, amount, (n, 2))
    kernel = np.ones(7) / 7
    smooth = np.stack([np.convolve(noise[:, i], kernel, mode="same") for i in (0, 1)], 1)
    return dense + smooth * 2


def on_canvas(lines: Lines, rng: np.random.Generator, keep_frame: bool = False,
              widths: tuple[float, float] = WIDTHS) -> np.ndarray:
    """Unit-square polylines drawn on the canvas at a random slant, aspect, size, place
    and brush width, shaken a little: an RGBA array. keep_frame: draw them where they
    are (scribbles are made in canvas coordinates already)."""
    angle = math.radians(rng.uniform(-15, 15))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    aspect = np.array([rng.uniform(0.8, 1.25), 1.0])
    moved = [_wobble((line - 0.5) * aspect @ rot.T + 0.5, rng, 0.006) for line in lines]
    width = float(rng.uniform(*widths))
    if keep_frame:
        return draw_polylines([m * CANVAS for m in moved], width)
    everything = np.concatenate(moved)
    low, high = everything.min(0), everything.max(0)
    span = max(float((high - low).max()), 1e-6)
    size = rng.uniform(0.3, 0.9) * CANVAS
    extent = (high - low) / span * size
    origin = width / 2 + rng.uniform(0, 1, 2) * np.maximum(0.0, CANVAS - width - extent)
    return draw_polylines([(m - low) / span * size + origin for m in moved], width)


def draw_family(kinds: dict[str, Callable[[np.random.Generator], Lines]],
                rng: np.random.Generator) -> np.ndarray:
    """One random member of a family, drawn on the canvas (RGBA)."""
    names = sorted(kinds)
    return on_canvas(kinds[names[int(rng.integers(len(names)))]](rng), rng)


def composition_on_canvas(rng: np.random.Generator) -> np.ndarray:
    return on_canvas(composition(rng), rng)


def draw_scribble(rng: np.random.Generator) -> np.ndarray:
    return on_canvas(scribble(rng), rng, keep_frame=True)


# ---------------------------------------------------------------- textures (uploads)

def texture(rng: np.random.Generator, side: int = 112) -> np.ndarray:
    """A grayscale (side, side) float 0..255 picture of nothing: smooth noise, stripes,
    checks or blobs."""
    kind = int(rng.integers(4))
    y, x = np.mgrid[0:side, 0:side] / side
    if kind == 0:  # smooth noise: random low frequencies
        coarse = rng.uniform(0, 1, (int(rng.integers(3, 9)),) * 2)
        img = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize(
            (side, side), Image.Resampling.BICUBIC), np.float64)
    elif kind == 1:  # stripes at a random angle
        t = rng.uniform(0, math.pi)
        img = 127.5 * (1 + np.sign(np.sin(2 * math.pi * rng.uniform(3, 10)
                                           * (x * math.cos(t) + y * math.sin(t)))))
    elif kind == 2:  # checks
        f = rng.uniform(2, 7)
        img = 255.0 * ((np.floor(x * f) + np.floor(y * f)) % 2)
    else:  # blobs
        img = np.zeros((side, side))
        for _ in range(int(rng.integers(2, 7))):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
            img += 255 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        img = np.clip(img, 0, 255)
    return img + rng.normal(0, 8, img.shape)
