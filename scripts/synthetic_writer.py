"""A synthetic "writer" whose digits are not MNIST's, put through the app's own canvas
preprocessing (core.predict.preprocess.from_canvas), as a drawing on Classify would be.

    python -m scripts.synthetic_writer --per-class 50 --seed 1 --out writer.npz

Two styles. `segments` (the default, the one docs/handwriting.md measures): a
person who writes digits the way a digital clock shows them, with straight
strokes along the seven segments (a boxy 0, a 1 that is one upright, a 4 and a 9
with an open top...), each corner jittered, the whole slanted, rotated and
scaled at random, drawn with the canvas's brush at a random width. `fonts`:
digits typed in serif and monospaced system fonts, slanted and jittered (the
shipped resnet reads those perfectly: too easy to show anything). The output is the fine-tune's set format (core.data.imageset):
`images` (N, 28, 28) uint8, ink bright on dark, `labels` (N,). A different --seed
gives other drawings by the same writer (measure on one seed, choose settings on
another); --fonts picks another writer.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from core.data.imageset import npz_bytes
from core.predict.preprocess import from_canvas

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
WRITER_FONTS = ("DejaVuSerif.ttf", "DejaVuSansMono.ttf", "LiberationMono-Regular.ttf",
                "LiberationSerif-Regular.ttf", "DejaVuSerifCondensed.ttf")
CANVAS = 280
SLANT = 0.25  # the writer's shear: digits lean right


def font_paths(names: tuple[str, ...]) -> list[Path]:
    found = [Path(d) / n for n in names for d in FONT_DIRS if (Path(d) / n).is_file()]
    if not found:
        raise SystemExit(f"none of the fonts {names} found under {FONT_DIRS}")
    return found


def render(digit: int, font: Path, rng: np.random.Generator) -> np.ndarray:
    """One digit as the app's canvas would hold it: RGBA, white ink on transparent."""
    size = int(rng.uniform(150, 210))
    face = ImageFont.truetype(str(font), size)
    img = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=face)
    draw.text(((CANVAS - (right - left)) / 2 - left, (CANVAS - (bottom - top)) / 2 - top),
              str(digit), fill=255, font=face)
    shear = SLANT + rng.uniform(-0.1, 0.1)
    angle = np.deg2rad(rng.uniform(-8, 8))
    scale = rng.uniform(0.85, 1.1)
    c, s = np.cos(angle) / scale, np.sin(angle) / scale
    # The inverse map (output -> input pixel), about the centre: rotate, then shear.
    a, b, d, e = c, s + shear * c, -s, c - shear * s
    cx = cy = CANVAS / 2
    img = img.transform(img.size, Image.Transform.AFFINE,
                        (a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy),
                        resample=Image.Resampling.BILINEAR)
    width = rng.integers(-1, 3)  # thinner or thicker strokes
    if width > 0:
        img = img.filter(ImageFilter.MaxFilter(2 * width + 1))
    elif width < 0:
        img = img.filter(ImageFilter.MinFilter(3))
    ink = np.asarray(img)
    rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 255, ink
    return rgba


# The seven segments by their end points on a 2x3 grid of corners (x 0..1, y 0..2).
SEGMENTS = {"a": ((0, 0), (1, 0)), "b": ((1, 0), (1, 1)), "c": ((1, 1), (1, 2)),
            "d": ((0, 2), (1, 2)), "e": ((0, 1), (0, 2)), "f": ((0, 0), (0, 1)),
            "g": ((0, 1), (1, 1))}
DIGIT_SEGMENTS = {0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc", 5: "afgcd",
                  6: "afedcg", 7: "abc", 8: "abcdefg", 9: "abfgc"}


def draw_segments(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One digit drawn in straight strokes along its segments, as RGBA canvas pixels."""
    width, height = rng.uniform(70, 110), rng.uniform(150, 200)
    corners = {(x, y): np.array([x * width, y * height / 2]) + rng.normal(0, 6, 2)
               for x in (0, 1) for y in (0, 1, 2)}
    shear = SLANT + rng.uniform(-0.1, 0.1)
    angle = np.deg2rad(rng.uniform(-6, 6))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([width / 2, height / 2])

    def place(p: np.ndarray) -> tuple[float, float]:
        x, y = p - centre
        x -= shear * y  # lean right: the top moves right
        q = rot @ np.array([x, y]) + CANVAS / 2
        return float(q[0]), float(q[1])

    img = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(img)
    brush = int(rng.integers(8, 15))
    for seg in DIGIT_SEGMENTS[digit]:
        start, end = SEGMENTS[seg]
        draw.line([place(corners[start]), place(corners[end])], fill=255, width=brush,
                  joint="curve")
        for point in (start, end):  # round pen ends, like the canvas brush
            x, y = place(corners[point])
            draw.ellipse([x - brush / 2, y - brush / 2, x + brush / 2, y + brush / 2], fill=255)
    rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 255, np.asarray(img)
    return rgba


def make_set(per_class: int, seed: int, style: str = "segments",
             fonts: tuple[str, ...] = WRITER_FONTS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    paths = font_paths(fonts) if style == "fonts" else []
    images, labels = [], []
    for digit in range(10):
        for _ in range(per_class):
            rgba = (render(digit, paths[rng.integers(len(paths))], rng) if style == "fonts"
                    else draw_segments(digit, rng))
            pre = from_canvas(rgba, "mnist")
            images.append(pre.image)
            labels.append(digit)
    return np.stack(images).astype(np.uint8), np.array(labels, dtype=np.int64)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-class", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--style", choices=("segments", "fonts"), default="segments")
    p.add_argument("--fonts", nargs="+", default=list(WRITER_FONTS),
                   help="font file names (under DejaVu's and Liberation's folders)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    images, labels = make_set(args.per_class, args.seed, args.style, tuple(args.fonts))
    Path(args.out).write_bytes(npz_bytes(images, labels))
    print(f"{len(labels)} images ({args.per_class} per class) -> {args.out}")


if __name__ == "__main__":
    main()
