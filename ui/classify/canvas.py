"""The drawing canvas and its Undo / Clear buttons, behind functions tests can stand in for.

The canvas is a browser component: it has no value outside a browser. Tests
(AppTest) put an RGBA array in st.session_state[state.CANVAS_RGBA]; the page
then classifies that array exactly as it would a drawing.

The component's own toolbar (undo, redo, reset) is hidden: it is invisible
until hovered, yet it lies over the top-right strip of the canvas, so a stroke
starting there (or any touch there: touch has no hover) was silently lost.
Our buttons do its job instead. Undo re-mounts the canvas (a new key) with
the strokes drawn so far minus the last one as its initial drawing; such a canvas
sends no image until it is drawn on, so the app draws those strokes itself
(render_strokes) and the prediction is always that of what the canvas shows.
Undo goes by stroke (the component's objects), not by the values it sent: strokes
drawn in quick succession arrive as one value.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import streamlit as st

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

# streamlit-drawable-canvas 0.13 has no option to hide its toolbar (only
# disabled=True does, which also stops drawing). Its component is registered
# again under its own name with the same assets and a root that carries one
# style rule: the style lands in the component's shadow root, where page CSS
# cannot reach. !important beats the inline display the component sets.
# The package registers its own definition when imported, so Streamlit's registry
# warns that ours overwrites it ("is already registered. Overwriting previous
# definition"), once per server start; that one warning, about this component, is
# expected and dropped (_ExpectedOverwrite).
COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"
REGISTRY_LOGGER = "streamlit.components.v2.component_registry"
COMPONENT_HTML = ('<style>.dc-toolbar { display: none !important; }</style>'
                  '<div class="canvas-root"></div>')

# Session state: the strokes on the current canvas (fabric.js objects) and the
# drawing a re-mounted canvas starts with.
OBJECTS = "classify_canvas_objects"
INITIAL = "classify_canvas_initial"
SUPERSAMPLE = 4  # render_strokes draws at 4x and shrinks: anti-aliased like the browser

log = logging.getLogger("mnist_studio")


def _new_canvas(initial: list[dict[str, Any]] | None = None) -> None:
    """A new component key mounts a fresh canvas, holding `initial` strokes if given."""
    st.session_state[state.CANVAS_ROUND] = st.session_state.get(state.CANVAS_ROUND, 0) + 1
    st.session_state.pop(state.CANVAS_RGBA, None)
    st.session_state[INITIAL] = {"objects": initial} if initial else None
    st.session_state[OBJECTS] = list(initial or [])


def clear() -> None:
    """Button callback: an empty canvas, and nothing left to undo."""
    _new_canvas()


def undo() -> None:
    """Button callback: the canvas again without its last stroke."""
    objects = st.session_state.get(OBJECTS) or []
    if objects:
        _new_canvas(objects[:-1])


def strokes() -> int:
    """How many strokes the current canvas holds (0 when a test injected the image)."""
    return len(st.session_state.get(OBJECTS) or [])


class _ExpectedOverwrite(logging.Filter):
    """Drops the registry's warning that COMPONENT is overwritten: we mean to."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.args and record.args[0] == COMPONENT
                    and "already registered" in str(record.msg))


def _use_toolbarless_component() -> None:
    """Register the canvas component with COMPONENT_HTML once per runtime (see above)."""
    # On call: the component manager exists only in a running app.
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager

    existing = get_bidi_component_manager().get(COMPONENT)
    if existing is None or existing.html != COMPONENT_HTML:
        registry_log, expected = logging.getLogger(REGISTRY_LOGGER), _ExpectedOverwrite()
        registry_log.addFilter(expected)
        try:
            st.components.v2.component(COMPONENT, html=COMPONENT_HTML, js="index-*.js",
                                       css="index-*.css", isolate_styles=True)
        finally:
            registry_log.removeFilter(expected)


def drawing(size: int = SIZE, stroke: int = STROKE) -> np.ndarray | None:
    """The current drawing as an (H, W, 4) uint8 array, or None before the first stroke."""
    injected = st.session_state.get(state.CANVAS_RGBA)
    if injected is not None:
        import numpy as np  # on use: the canvas is drawn before numpy is needed
        return np.asarray(injected)
    try:
        # On use, inside the guard: the component registers only inside a running app.
        from streamlit_drawable_canvas import st_canvas
        _use_toolbarless_component()
    except Exception as err:  # the component registers only inside a running app
        log.warning("drawing canvas unavailable: %s", err)
        st.info("The drawing canvas is not available here; upload an image instead.",
                icon=":material/draw:")
        return None
    result = st_canvas(
        stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
        height=size, width=size, drawing_mode="freedraw", update_streamlit=True,
        initial_drawing=st.session_state.get(INITIAL), return_image_data=True,
        key=f"canvas-{st.session_state.get(state.CANVAS_ROUND, 0)}")
    objects = list((result.json_data or {}).get("objects") or [])
    st.session_state[OBJECTS] = objects
    if result.image_data is not None:
        return result.image_data
    # A canvas re-mounted by Undo shows its strokes but sends nothing until drawn on.
    return render_strokes(objects, size) if objects else None


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
    # On use: only Undo needs them, and the canvas is drawn before numpy is needed.
    import numpy as np
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
    """Undo (disabled when there is nothing to undo) and Clear, side by side."""
    left, right, _ = st.columns([1, 1, 1.2])
    left.button("Undo", icon=":material/undo:", on_click=undo, key=f"{key}_undo",
                disabled=strokes() == 0, help="Remove the last stroke", width="stretch")
    right.button("Clear", icon=":material/ink_eraser:", on_click=clear, key=f"{key}_clear",
                 help="Start again on an empty canvas", width="stretch")
