"""The drawing canvas and its Undo / Clear buttons, behind functions tests can stand in for.

The canvas is a browser component: it has no value outside a browser. Tests
(AppTest) put an RGBA array in st.session_state[state.CANVAS_RGBA]; the page
then classifies that array exactly as it would a drawing.

The canvas itself is ui/classify/canvas_component.py (no toolbar: our buttons do its
job; the toolbar of the component used before lay, invisible until hovered, over the
top-right strip of the canvas, where a stroke was silently lost). Undo re-mounts the
canvas (a new key) with the strokes drawn so far minus the last one as its initial
drawing; such a canvas sends no image until it is drawn on, so the app draws those
strokes itself (render_strokes) and the prediction is always that of what the canvas
shows. Undo goes by stroke (the component's objects), not by the values it sent: strokes
drawn in quick succession arrive as one value.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from ui.classify.canvas_component import drawing_canvas, parse, png_pixels
from ui.common import state

if TYPE_CHECKING:  # numpy is imported on use: the canvas is drawn before it is needed
    import numpy as np

SIZE = 280  # 10x MNIST's 28 px
# A thin brush: preprocessing (core.predict.strokes) thickens or thins the strokes
# to MNIST's width for any size of drawing, but it cannot reopen the loops of a
# small digit that a broad brush filled in. Measured with scripts/stroke_sizes.py
# (MNIST digits redrawn at 25-90% of the canvas): with 10 px, small drawings read
# as well as large ones; with 20 px (the old brush), 25% ones lose points.
STROKE = 10

# The page's fragments, by key: the panel (below the heading), the answer (what a stroke
# reruns), and the canvas's Undo / Clear buttons (rerun with each stroke: Undo is enabled
# by the first).
PANEL, ANSWER, TOOLS = "classify_panel", "classify_answer", "classify_tools"

# Session state: the strokes on the current canvas (fabric.js objects) and the
# drawing a re-mounted canvas starts with.
OBJECTS = "classify_canvas_objects"
INITIAL = "classify_canvas_initial"
SUPERSAMPLE = 4  # render_strokes draws at 4x and shrinks: anti-aliased like the browser


def _new_canvas(initial: list[dict[str, Any]] | None = None) -> None:
    """A new component key mounts a fresh canvas, holding `initial` strokes if given."""
    st.session_state[state.CANVAS_ROUND] = st.session_state.get(state.CANVAS_ROUND, 0) + 1
    st.session_state.pop(state.CANVAS_RGBA, None)
    st.session_state[INITIAL] = {"objects": initial} if initial else None
    st.session_state[OBJECTS] = list(initial or [])


def clear() -> None:
    """Button callback: an empty canvas, and nothing left to undo."""
    _new_canvas()
    rerun_panel()


def undo() -> None:
    """Button callback: the canvas again without its last stroke."""
    objects = parse(held(canvas_key()),
                    (st.session_state.get(INITIAL) or {}).get("objects")).objects
    if objects:
        _new_canvas(objects[:-1])
    rerun_panel()


def strokes() -> int:
    """How many strokes the current canvas holds (0 when a test injected the image), as
    its state says now: the buttons may run before the answer reads the drawing."""
    if st.session_state.get(state.CANVAS_RGBA) is not None:
        return 0
    value = (held(canvas_key()) or {}).get("drawing")
    if value:
        return len((value.get("raw") or {}).get("objects") or [])
    return len((st.session_state.get(INITIAL) or {}).get("objects") or [])


def show(size: int = SIZE, stroke: int = STROKE) -> None:
    """The canvas. A stroke reruns the answer and the canvas's buttons (the fragments
    ANSWER and TOOLS), not the canvas: it has the stroke already."""
    initial = (st.session_state.get(INITIAL) or {}).get("objects")
    drawing_canvas(canvas_key(), size, stroke, initial, on_stroke=_after_stroke)


def _after_stroke() -> None:
    """The canvas's callback: rerun the answer and the buttons alone."""
    try:
        st.rerun([ANSWER, TOOLS])
    except StreamlitAPIException:  # not drawn yet (a cold start's first run): the panel
        pass


def rerun_panel() -> None:
    """From a callback: rerun the whole panel (a new canvas mounts), not only the
    fragment the button is in."""
    try:
        st.rerun(PANEL)
    except StreamlitAPIException:  # no panel fragment (a test's run): the default rerun
        pass


def canvas_key() -> str:
    return f"canvas-{st.session_state.get(state.CANVAS_ROUND, 0)}"


def held(key: str) -> Any:
    """The canvas's state as the browser last sent it (None before any stroke): read
    between the canvas's own runs, as a stroke's rerun does not draw the canvas."""
    return st.session_state.get(key)


def drawing(size: int = SIZE) -> np.ndarray | None:
    """The drawing on the canvas now as an (H, W, 4) uint8 array, or None before the first
    stroke."""
    injected = st.session_state.get(state.CANVAS_RGBA)
    if injected is not None:
        import numpy as np  # on use: the canvas is drawn before numpy is needed
        return np.asarray(injected)
    initial = (st.session_state.get(INITIAL) or {}).get("objects")
    result = parse(held(canvas_key()), initial)
    st.session_state[OBJECTS] = result.objects
    if result.png is not None:
        return png_pixels(result.png)
    # A canvas re-mounted by Undo shows its strokes but sends nothing until drawn on.
    return render_strokes(result.objects, size) if result.objects else None


def _points(path: list[list]) -> list[tuple[float, float]]:
    """The points along a fabric.js path (M, L, Q and C commands, absolute canvas
    coordinates as freehand strokes have them), curves as short straight pieces."""
    import numpy as np  # on use: the canvas is drawn before numpy is needed

    points: list[tuple[float, float]] = []
    for command, *xy in path:
        if command in ("M", "L"):
            points.append((xy[0], xy[1]))
        elif command in ("Q", "C") and points:
            controls = np.array([points[-1], *zip(xy[::2], xy[1::2])], dtype=float)
            t = np.linspace(0, 1, 9)[1:, None]
            if command == "Q":
                p0, c, p1 = controls
                curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t ** 2 * p1
            else:
                p0, c0, c1, p1 = controls
                curve = ((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * c0
                         + 3 * (1 - t) * t ** 2 * c1 + t ** 3 * p1)
            points.extend(map(tuple, curve))
    return points


def render_strokes(objects: list[dict[str, Any]], size: int = SIZE) -> np.ndarray:
    """The canvas image of freehand strokes: white, round-ended lines of each stroke's
    width on black, as an (size, size, 4) uint8 RGBA array like the component's."""
    import numpy as np  # on use: the canvas is drawn before numpy is needed
    from PIL import Image, ImageDraw

    k = SUPERSAMPLE
    big = Image.new("L", (size * k, size * k), 0)
    pen = ImageDraw.Draw(big)
    for obj in objects:
        # PIL puts coordinate j at pixel j's centre; the canvas at pixel j's left edge.
        points = [(x * k - 0.5, y * k - 0.5) for x, y in _points(obj.get("path") or [])]
        radius = obj.get("strokeWidth", STROKE) * k / 2
        if len(points) > 1:
            pen.line(points, fill=255, width=round(2 * radius), joint="curve")
        for x, y in points[:1] + points[-1:]:  # round ends (and a lone dot)
            pen.ellipse((x + 0.5 - radius, y + 0.5 - radius, x - 0.5 + radius, y - 0.5 + radius),
                        fill=255)
    grey = np.asarray(big.resize((size, size), Image.Resampling.BOX))
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def buttons(key: str = "classify") -> None:
    """Undo (disabled when there is nothing to undo) and Clear, side by side. Each mounts
    a new canvas, so each reruns the panel."""
    left, right, _ = st.columns([1, 1, 1.2])
    left.button("Undo", icon=":material/undo:", on_click=undo, key=f"{key}_undo",
                disabled=strokes() == 0, help="Remove the last stroke", width="stretch")
    right.button("Clear", icon=":material/ink_eraser:", on_click=clear, key=f"{key}_clear",
                 help="Start again on an empty canvas", width="stretch")
