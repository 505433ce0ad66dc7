"""Classify's "It's a 7" control: keep the input the model saw, with its right label, in the
visitor's handwriting set (core/data/handwriting.py), in one click.

A confirm button for the predicted digit, and one button per other digit to correct
it. A second click on the same input changes that item's label instead of adding the
drawing twice. Only digits that the visitor drew or uploaded: test images are MNIST's
own, and fine-tuning on them would leak the test set into training.
"""
from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.data.handwriting import ItemNotFound, SetFull, strokes_json
from core.runs.api import LimitReached
from ui.classify.canvas import OBJECTS
from ui.common import state
from ui.common.handwriting import DATASET, my_set
from ui.common.loaders import run_service

SAVED = "teach_saved"  # session: image digest -> (item id, label), what this session kept
ERROR = "teach_error"  # session: a message from the last click (the set is full)
NOTICE = "teach_notice"  # session: what the last click did, toasted by the next run (a
# callback inside a fragment must not draw: its elements would land atop the page)
SOURCES = ("draw", "upload")
DIGIT_PX = 36  # a digit's button: the nine fit a 340 px row
ITEM_BYTES = 2048  # a kept drawing's file, at most (about 1 KB: the 28x28 input and its strokes)


def _keep(image: np.ndarray, label: int, digest: str, source: str) -> None:
    """Button callback: add the input with its label, or relabel it if kept already."""
    ss = st.session_state
    saved = ss.setdefault(SAVED, {})
    hw = my_set()
    try:
        if digest in saved:
            try:
                hw.relabel(saved[digest][0], label)
                saved[digest] = (saved[digest][0], label)
                ss[NOTICE] = f"Changed to a {label} in your handwriting."
                return
            except ItemNotFound:  # deleted meanwhile: keep it again
                del saved[digest]
        strokes = strokes_json(ss.get(OBJECTS)) if source == "draw" else ""
        run_service().quotas.check_keep(state.viewer(), ITEM_BYTES, "drawing")  # quota, disk floor
        item = hw.add(image, label, strokes)
        saved[digest] = (item.id, label)
        n = len(hw)
        ss[NOTICE] = f"Kept as a {label} in your handwriting ({n} drawing{'s' * (n != 1)})."
    except (SetFull, LimitReached) as err:
        ss[ERROR] = str(err)


def offer(dataset: str, image: np.ndarray, predicted: int, source: str) -> None:
    """Under the prediction: confirm it or correct it, one click either way."""
    if dataset != DATASET or source not in SOURCES:
        return
    ss = st.session_state
    digest = hashlib.sha1(image.tobytes()).hexdigest()
    kept = ss.get(SAVED, {}).get(digest)
    with st.container(border=True, key="teach"):
        if kept:
            st.caption(f":material/bookmark_added: In your handwriting as a **{kept[1]}**. "
                       "Wrong? Click the right digit.")
        else:
            st.caption("Teach it your handwriting: is this right?")
        # The confirm button, then the nine other digits in a row of their own, narrow
        # enough to fit the answer's column on one line from about 1,050 px of window up:
        # in one row with the confirm button, a last digit wrapped onto a line alone.
        confirmed = bool(kept and kept[1] == predicted)
        with st.container(horizontal=True, vertical_alignment="center"):
            st.button(f"It's a {predicted}", key="teach_confirm", icon=":material/check:",
                      type="secondary" if confirmed else "primary", disabled=confirmed,
                      on_click=_keep, args=(image, predicted, digest, source),
                      help="Keep this input and its label in your handwriting set")
            st.caption("No? Click the right digit:")
        row = st.container(horizontal=True, gap="xxsmall", key="teach_digits")
        for digit in (d for d in range(10) if d != predicted):
            row.button(str(digit), key=f"teach_fix_{digit}", on_click=_keep,
                       args=(image, digit, digest, source), width=DIGIT_PX,
                       disabled=bool(kept and kept[1] == digit),
                       help=f"No: it's a {digit}. Keep it in your handwriting set as a {digit}")
        if ss.get(NOTICE):
            st.toast(ss.pop(NOTICE), icon=":material/bookmark_added:")
        if ss.get(ERROR):
            st.warning(ss.pop(ERROR), icon=":material/inventory_2:")
        st.page_link("pages/handwriting.py", label="Your handwriting: see it, fine-tune on it",
                     icon=":material/edit_note:")
