"""Digits drawn as the browser's canvas sends them: the value a load-test visitor sends.

The canvas (ui/classify/canvas_component.js, and streamlit-drawable-canvas before it)
sends, after each stroke, its drawing (one `Path` object per stroke) and the whole
canvas as a PNG data URL; the app classifies the PNG. `canvas_value` makes both from polylines, drawn with the app's brush (white,
ui.classify.canvas.STROKE px wide, round caps, on black), so the server does the work a
real stroke costs it. The shapes are rough digits, jittered per call: no two
strokes are the same image, so nothing is served from a cache.
"""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageDraw

SIZE, STROKE = 280, 10  # the app's canvas (ui/classify/canvas.py)

# Each digit: polylines in a unit box (x right, y down).
DIGITS: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(.5, .15), (.3, .25), (.25, .5), (.3, .75), (.5, .85), (.7, .75), (.75, .5), (.7, .25), (.5, .15)]],
    1: [[(.5, .15), (.5, .85)]],
    2: [[(.3, .3), (.45, .15), (.65, .2), (.68, .38), (.3, .85), (.72, .85)]],
    3: [[(.3, .2), (.65, .2), (.45, .48), (.68, .6), (.6, .82), (.3, .82)]],
    4: [[(.6, .85), (.6, .15), (.28, .6), (.75, .6)]],
    5: [[(.7, .15), (.35, .15), (.32, .45), (.6, .45), (.7, .65), (.55, .85), (.3, .8)]],
    6: [[(.65, .15), (.38, .45), (.32, .7), (.5, .85), (.68, .7), (.55, .52), (.36, .6)]],
    7: [[(.28, .18), (.72, .18), (.45, .85)]],
    8: [[(.5, .5), (.32, .3), (.5, .15), (.68, .3), (.5, .5), (.3, .68), (.5, .85), (.7, .68), (.5, .5)]],
    9: [[(.68, .45), (.5, .52), (.33, .38), (.45, .17), (.66, .22), (.68, .45), (.62, .85)]],
}


def _place(lines, rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """The digit scaled to 60-90% of the canvas, shifted and slanted a little."""
    scale = SIZE * rng.uniform(0.6, 0.9)
    shear = rng.uniform(-0.15, 0.15)
    dx, dy = (SIZE - scale) * rng.uniform(0.3, 0.7, size=2)
    return [[(dx + scale * (x + shear * (0.5 - y)), dy + scale * y) for x, y in line] for line in lines]


def _path(points: list[tuple[float, float]]) -> dict:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return {"type": "Path", "version": "7.4.0", "originX": "center", "originY": "center",
            "left": (min(xs) + max(xs)) / 2, "top": (min(ys) + max(ys)) / 2,
            "width": max(xs) - min(xs), "height": max(ys) - min(ys), "fill": None,
            "stroke": "#FFFFFF", "strokeWidth": STROKE, "strokeLineCap": "round",
            "strokeLineJoin": "round", "scaleX": 1, "scaleY": 1, "angle": 0, "opacity": 1,
            "visible": True, "path": [["M", *points[0]], *(["L", *p] for p in points[1:])]}


def canvas_value(digit: int, rng: np.random.Generator) -> dict:
    """The drawable canvas's component value after drawing `digit` (one stroke per line)."""
    lines = _place(DIGITS[digit], rng)
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 255))
    draw = ImageDraw.Draw(image)
    for line in lines:
        draw.line(line, fill=(255, 255, 255, 255), width=STROKE, joint="curve")
        for x, y in (line[0], line[-1]):  # round caps
            r = STROKE / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    raw = {"version": "7.4.0", "objects": [_path(line) for line in lines], "background": "#000000"}
    return {"drawing": {"raw": raw, "data": data}}
