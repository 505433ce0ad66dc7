"""The drawing canvas, behind one function so tests can stand in for the browser.

The canvas is a browser component: it has no value outside a browser. Tests
(AppTest) put an RGBA array in st.session_state[state.CANVAS_RGBA]; the page
then classifies that array exactly as it would a drawing.
"""
from __future__ import annotations

import logging

import numpy as np
import streamlit as st

from ui import state

SIZE = 280  # 10x MNIST's 28 px
# MNIST strokes are about 2-3 px wide in the 20 px box a digit is scaled to;
# a digit drawn across most of this canvas is scaled down ~10x, so ~20 px here.
STROKE = 20

log = logging.getLogger("mnist_studio")


def clear() -> None:
    """Button callback: a new component key mounts a fresh, empty canvas."""
    st.session_state[state.CANVAS_ROUND] = st.session_state.get(state.CANVAS_ROUND, 0) + 1
    st.session_state.pop(state.CANVAS_RGBA, None)


def drawing(size: int = SIZE, stroke: int = STROKE) -> np.ndarray | None:
    """The current drawing as an (H, W, 4) uint8 array, or None before the first stroke."""
    injected = st.session_state.get(state.CANVAS_RGBA)
    if injected is not None:
        return np.asarray(injected)
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception as err:  # the component registers only inside a running app
        log.warning("drawing canvas unavailable: %s", err)
        st.info("The drawing canvas is not available here; upload an image instead.",
                icon=":material/draw:")
        return None
    result = st_canvas(
        stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
        height=size, width=size, drawing_mode="freedraw", update_streamlit=True,
        return_image_data=True, key=f"canvas-{st.session_state.get(state.CANVAS_ROUND, 0)}")
    return result.image_data
