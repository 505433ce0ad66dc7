"""The drawing canvas as a Streamlit component: canvas_component.js, registered once.

It replaces streamlit-drawable-canvas, whose frontend waits 200 ms after each stroke
before it sends the drawing (a constant of its bundle): measured, that wait was two
thirds of a stroke's time to its answer on screen (docs/speed.md). This one sends at
the stroke's end, in the value that component sent (one Path per stroke, and the
canvas as a PNG data URL), so the app, the tests and the load test's visitors
(bench/strokes.py) read it as before. It has no toolbar (the page's Undo and Clear
buttons do that job).
"""
from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import streamlit as st

NAME = "mnist_studio_canvas"  # the load test finds the widget by "canvas" in its name


def _compact(js: str) -> str:
    """The script without its comment lines and indentation: it travels with every
    rerun of the panel (a component's inline script is part of its element)."""
    lines = (line.strip() for line in js.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


JS = _compact(Path(__file__).with_name("canvas_component.js").read_text())
HTML = '<div class="canvas-root"></div>'
CSS = (".canvas-root { line-height: 0; }"
       " canvas.drawing-canvas { touch-action: none; cursor: crosshair; display: block;"
       " border-radius: 2px; }")


# Registered once, at import; the callable registers it again on a runtime that lacks it
# (AppTest makes one per test).
_mount = st.components.v2.component(NAME, html=HTML, js=JS, css=CSS, isolate_styles=True)


@dataclass
class Drawing:
    """What the canvas holds: its strokes, and the PNG it sent (None: a canvas mounted
    with strokes, not yet drawn on)."""
    objects: list[dict[str, Any]]
    png: bytes | None


def drawing_canvas(key: str, size: int, stroke: int,
                   initial: list[dict[str, Any]] | None = None,
                   on_stroke: Callable[[], None] | None = None) -> Drawing:
    """The canvas (size x size CSS px, a brush `stroke` px wide) and what it holds now;
    `on_stroke` is called (as a widget callback) when a stroke's drawing arrives."""
    result = _mount(
        data={"width": size, "height": size, "stroke": stroke, "initial": initial or None},
        key=key, default={"drawing": None}, on_drawing_change=on_stroke or (lambda: None),
        width="content", height="content")
    return parse(result, initial)


def parse(state: Any, initial: list[dict[str, Any]] | None = None) -> Drawing:
    """What a canvas holds, from its state (what drawing_canvas's component returns, or
    st.session_state[key] between its runs); `initial` while nothing was drawn."""
    value = state.get("drawing") if state is not None else None
    if not value:
        return Drawing(list(initial or []), None)
    objects = list((value.get("raw") or {}).get("objects") or [])
    return Drawing(objects, decode_png(value.get("data")))


def decode_png(url: str | None) -> bytes | None:
    """The bytes of a `data:image/png;base64,...` URL; None for anything else."""
    if not url or ";base64," not in url:
        return None
    try:
        return base64.b64decode(url.split(";base64,", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None


def png_pixels(png: bytes):
    """The PNG as an (H, W, 4) uint8 RGBA array."""
    import numpy as np  # on use: the canvas is drawn before numpy is needed
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
