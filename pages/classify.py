"""Classify: draw or upload, see the prediction, what the model saw, and where it looked.

The heading and the canvas come first, before anything that imports torch: on a new
server they are on screen (and take strokes) while torch and the model load. Below the
heading, the page is a fragment (the panel): the input, the options, and the answer,
itself a fragment (ui/classify/view.py). A stroke reruns the answer alone, and the
canvas's Undo / Clear (enabled by the first stroke): not the canvas, which has the
stroke already, nor the rest of the panel, the sidebar, the navigation or the identity.
Inside the answer, the teach buttons, Fool it, the nearest training images and every
model's vote are fragments of their own.
"""
from __future__ import annotations

import streamlit as st

from core.data import DATASETS
from ui.classify import canvas
from ui.common import state, timings
from ui.common.errors import guarded
from ui.common.selection import selection

SOURCES = {"draw": ":material/draw: Draw", "upload": ":material/upload: Upload",
           "sample": ":material/casino: Test image"}


def panel(dataset: str) -> None:
    """The input on the left, the model's answer on the right, its other parts below."""
    with timings.script_run("classify panel"):  # inside a full run: a stage of it
        spec = DATASETS[dataset]
        sources = (["draw"] if spec.drawable else []) + ["upload", "sample"]
        if st.session_state.get("classify_source") not in sources:
            st.session_state["classify_source"] = sources[0]
        left, right = st.columns([1, 1.45], gap="large")
        below = st.container()
        with left:
            with timings.stage("source"):
                source = st.radio("Input", sources, key="classify_source", horizontal=True,
                                  format_func=SOURCES.get, label_visibility="collapsed")
            if not spec.drawable:  # say why Draw is not offered, rather than hide it
                st.caption(f"No Draw for {spec.title}: its models learned photos of "
                           f"{spec.noun}s, not drawings. Upload a photo, or take a test image.")
            if source == "draw":
                with timings.stage("canvas"):
                    canvas.show()
                    st.fragment(timings.recorded("canvas tools", guarded(canvas.buttons)),
                                key=canvas.TOOLS)()
                timings.mark("canvas")
        with timings.stage("imports"):  # now, with the canvas on screen: torch, the charts
            from ui.classify import view
        view.panel(dataset, source, left, right, below)


dataset = state.dataset()
st.title(":material/draw: Classify")
timings.mark("heading")
st.fragment(guarded(panel), key=canvas.PANEL)(dataset)
selection()  # the sidebar, drawn after the canvas (it imports torch)
