"""Classify: draw or upload, see the prediction, what the model saw, and where it looked.

The heading and the canvas come first, before anything that imports torch: on a new
server they are on screen (and take strokes) while torch and the model load. Below the
heading, the page is a fragment: a stroke reruns it alone, not the sidebar, the
navigation and the identity around it. Its parts are ui/classify/view.py's functions;
the teach buttons, Fool it and every model's vote are fragments of their own inside it.
"""
from __future__ import annotations

import streamlit as st

from core.data import DATASETS
from ui.classify.canvas import buttons as canvas_buttons, drawing
from ui.common import state, timings
from ui.common.errors import guarded
from ui.common.selection import selection

SOURCES = {"draw": ":material/draw: Draw", "upload": ":material/upload: Upload",
           "sample": ":material/casino: Test image"}


def panel(dataset: str) -> None:
    """The input on the left, the model's answer on the right."""
    with timings.script_run("classify"):  # a stroke's rerun (inside a full run: a stage)
        spec = DATASETS[dataset]
        sources = (["draw"] if spec.drawable else []) + ["upload", "sample"]
        if st.session_state.get("classify_source") not in sources:
            st.session_state["classify_source"] = sources[0]
        left, right = st.columns([1, 1.45], gap="large")
        rgba = None
        with left:
            with timings.stage("source"):
                source = st.radio("Input", sources, key="classify_source", horizontal=True,
                                  format_func=SOURCES.get, label_visibility="collapsed")
            if not spec.drawable:  # say why Draw is not offered, rather than hide it
                st.caption(f"No Draw for {spec.title}: its models learned photos of "
                           f"{spec.noun}s, not drawings. Upload a photo, or take a test image.")
            if source == "draw":
                with timings.stage("canvas"):
                    rgba = drawing()
                    canvas_buttons()
                timings.mark("canvas")
        with timings.stage("imports"):  # now, with the canvas on screen: torch, the charts
            from ui.classify import view
        view.answer(dataset, source, rgba, left, right)


dataset = state.dataset()
st.title(":material/draw: Classify")
timings.mark("heading")
st.fragment(guarded(panel))(dataset)
selection()  # the sidebar, drawn after the canvas (it imports torch)
