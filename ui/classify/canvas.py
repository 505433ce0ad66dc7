"""The drawing canvas and its Undo / Clear buttons, behind functions tests can stand in for.

The canvas is a browser component: it has no value outside a browser. Tests
(AppTest) put an RGBA array in st.session_state[state.CANVAS_RGBA]; the page
then classifies that array exactly as it would a drawing.

The component's own toolbar (undo, redo, reset) is hidden: it is invisible
until hovered, yet it lies over the top-right strip of the canvas, so a stroke
starting there (or any touch there: touch has no hover) was silently lost.
Our buttons do its job instead. Undo re-mounts the canvas (a new key) with
the strokes drawn so far minus the last one as its initial drawing.
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
COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"
COMPONENT_HTML = ('<style>.dc-toolbar { display: none !important; }</style>'
                  '<div class="canvas-root"></div>')

# Session state: the strokes on the current canvas (fabric.js objects), the
# drawing a re-mounted canvas starts with, and the image after each stroke
# count (a re-mounted canvas sends no image until its next stroke).
OBJECTS = "classify_canvas_objects"
INITIAL = "classify_canvas_initial"
SNAPSHOTS = "classify_canvas_snapshots"

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
    st.session_state[SNAPSHOTS] = {}


def undo() -> None:
    """Button callback: the canvas again without its last stroke."""
    objects = st.session_state.get(OBJECTS) or []
    if not objects:
        return
    kept = objects[:-1]
    snapshots = st.session_state.get(SNAPSHOTS) or {}
    st.session_state[SNAPSHOTS] = {n: img for n, img in snapshots.items() if n <= len(kept)}
    _new_canvas(kept)


def strokes() -> int:
    """How many strokes the current canvas holds (0 when a test injected the image)."""
    return len(st.session_state.get(OBJECTS) or [])


def _use_toolbarless_component() -> None:
    """Register the canvas component with COMPONENT_HTML once per runtime (see above)."""
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager

    existing = get_bidi_component_manager().get(COMPONENT)
    if existing is None or existing.html != COMPONENT_HTML:
        st.components.v2.component(COMPONENT, html=COMPONENT_HTML, js="index-*.js",
                                   css="index-*.css", isolate_styles=True)


def drawing(size: int = SIZE, stroke: int = STROKE) -> np.ndarray | None:
    """The current drawing as an (H, W, 4) uint8 array, or None before the first stroke."""
    injected = st.session_state.get(state.CANVAS_RGBA)
    if injected is not None:
        import numpy as np
        return np.asarray(injected)
    try:
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
    snapshots = st.session_state.setdefault(SNAPSHOTS, {})
    image = result.image_data
    if image is not None:
        snapshots[len(objects)] = image
        return image
    # A canvas re-mounted by Undo shows its strokes but sends nothing until drawn on.
    return snapshots.get(len(objects)) if objects else None


def buttons(key: str = "classify") -> None:
    """Undo (disabled when there is nothing to undo) and Clear, side by side."""
    left, right, _ = st.columns([1, 1, 1.2])
    left.button("Undo", icon=":material/undo:", on_click=undo, key=f"{key}_undo",
                disabled=strokes() == 0, help="Remove the last stroke", width="stretch")
    right.button("Clear", icon=":material/ink_eraser:", on_click=clear, key=f"{key}_clear",
                 help="Start again on an empty canvas", width="stretch")
