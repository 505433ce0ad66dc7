"""Figures as plain HTML: small PNG images inline and bars as styled divs, for the views
that follow every stroke (Classify's answer).

A Plotly figure costs the server its JSON (a 28x28 heatmap is 784 numbers as text) and
the browser a chart library's layout and render, every time it is redrawn; an image of
28x28 pixels is a few hundred bytes of PNG that the browser scales up, pixels crisp,
and a bar is a div with a width. Measured per stroke in docs/speed.md.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Sequence

import numpy as np
from PIL import Image

BLUE = "#1f77b4"  # as ui.common.charts: the winner
GREY = "#9aa0a6"
# The saliency overlay's colours (ui.common.charts.saliency_overlay's scale): the weakest
# third transparent, so the input shows through where the model does not look, then red
# to yellow. (stop, red, green, blue, opacity)
HEAT = np.array([[0.0, 255, 0, 0, 0.0], [0.33, 255, 0, 0, 0.0], [0.55, 255, 40, 0, 0.55],
                 [0.8, 255, 150, 0, 0.8], [1.0, 255, 255, 0, 0.9]])


def png_data_url(pixels: np.ndarray) -> str:
    """An (H, W) grey or (H, W, 3) RGB uint8 array as a data: URL of its PNG."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, np.uint8)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def heat_overlay(image: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The (28, 28) uint8 input in grey with a 0..1 importance map blended over it,
    as an (28, 28, 3) uint8 RGB array."""
    v = np.clip(np.asarray(values, np.float64), 0.0, 1.0)
    stops = HEAT[:, 0]
    colour = np.stack([np.interp(v, stops, HEAT[:, c]) for c in (1, 2, 3)], axis=-1)
    alpha = np.interp(v, stops, HEAT[:, 4])[..., None]
    grey = np.repeat(np.asarray(image, np.float64)[..., None], 3, axis=-1)
    return np.round(grey * (1 - alpha) + colour * alpha).astype(np.uint8)


def picture(pixels: np.ndarray, title: str, alt: str, size: int = 240) -> str:
    """An image scaled up to `size` px with its pixels kept square and sharp, under a title."""
    return (f'<figure style="margin:0">'
            f'<figcaption style="font-size:15px;margin:0 0 6px 0">{html.escape(title)}'
            f'</figcaption><img src="{png_data_url(pixels)}" alt="{html.escape(alt)}" '
            f'width="{size}" height="{size}" style="image-rendering:pixelated;'
            f'background:#000;max-width:100%;height:auto"></figure>')


def row(*figures: str) -> str:
    """Figures side by side (wrapping on a narrow screen)."""
    cells = "".join(f'<div style="flex:1 1 0;min-width:160px">{f}</div>' for f in figures)
    return f'<div style="display:flex;gap:16px;flex-wrap:wrap;margin-top:12px">{cells}</div>'


def bars(top: Sequence[tuple[int, str, float]], title: str) -> str:
    """Horizontal bars of (class, name, probability), as given (most probable first);
    the first in blue, its percentage written at each bar's end."""
    rows = []
    for i, (_, name, p) in enumerate(top):
        colour = BLUE if i == 0 else GREY
        rows.append(
            f'<div style="display:flex;align-items:center;gap:8px;margin:3px 0">'
            f'<span style="width:5.5em;text-align:right;overflow:hidden;'
            f'text-overflow:ellipsis;white-space:nowrap">{html.escape(name)}</span>'
            f'<span style="flex:1;display:flex;align-items:center;gap:6px">'
            f'<span style="width:{max(p, 0.0) * 100:.1f}%;min-width:2px;height:18px;'
            f'background:{colour};border-radius:2px"></span>'
            f'<span style="font-size:13px">{p:.1%}</span></span></div>')
    return (f'<div role="figure" aria-label="{html.escape(title)}">'
            f'<div style="font-size:15px;margin-bottom:4px">{html.escape(title)}</div>'
            + "".join(rows) + "</div>")
