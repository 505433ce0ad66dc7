"""Classify's "It's a 7" control: keep the input the model saw, with its right label, in the
visitor's handwriting set (core/data/handwriting.py), in one click.

A confirm button for the predicted digit, and the other digits as one row of pills to
correct it (one widget, not nine buttons: every stroke's answer draws it, and it is
cheaper to send and to render). A second click on the same input changes that item's
label instead of adding the drawing twice. Only digits that the visitor drew or
uploaded: test images are MNIST's own, and fine-tuning on them would leak the test set
into training.

An input the model flagged "I don't know" (a letter, a smiley, a scribble) is not kept
in one click: the button asks first, and only "Yes, keep it as a 4" keeps it, since a
fine-tune would learn whatever it is as a 4.
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
ASKED = "teach_asked"  # session: (image digest, label) a flagged input waits to be confirmed as
SOURCES = ("draw", "upload")
FIX = "teach_fix"  # the pills of the other digits
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


def _ask(digest: str, label: int) -> None:
    """Button callback for a flagged input: ask before keeping it."""
    st.session_state[ASKED] = (digest, label)


def _fixed(keep, args) -> None:
    """The pills' callback: the digit picked is kept (or asked about), then the pills are
    cleared, ready for another click."""
    digit = st.session_state.get(FIX)
    if digit is None:
        return
    st.session_state[FIX] = None
    keep(*args(digit))


def _cancel() -> None:
    st.session_state.pop(ASKED, None)


def _confirm(image: np.ndarray, label: int, digest: str, source: str) -> None:
    st.session_state.pop(ASKED, None)
    _keep(image, label, digest, source)


def offer(dataset: str, image: np.ndarray, predicted: int, source: str,
          flagged: bool = False) -> None:
    """Under the prediction: confirm it or correct it, one click either way; for an input
    flagged "I don't know" (`flagged`), a click asks first."""
    if dataset != DATASET or source not in SOURCES:
        return
    ss = st.session_state
    digest = hashlib.sha1(image.tobytes()).hexdigest()
    kept = ss.get(SAVED, {}).get(digest)
    # Keeping it again under another label changes nothing about what it is: no question.
    careful = flagged and not kept
    keep = _ask if careful else _keep

    def args(digit: int) -> tuple:
        return (digest, digit) if careful else (image, digit, digest, source)

    with st.container(border=True, key="teach"):
        if kept:
            st.caption(f":material/bookmark_added: In your handwriting as a **{kept[1]}**. "
                       "Wrong? Click the right digit.")
        elif careful:
            st.caption("Teach it your handwriting? The model does not recognise this as a "
                       "digit, so a click asks first: keep only digits.")
        else:
            st.caption("Teach it your handwriting: is this right?")
        # The confirm button, then the nine other digits in a row of their own: in one
        # row with the confirm button, a last digit wrapped onto a line alone.
        confirmed = bool(kept and kept[1] == predicted)
        with st.container(horizontal=True, vertical_alignment="center"):
            st.button(f"It's a {predicted}", key="teach_confirm", icon=":material/check:",
                      type="secondary" if confirmed else "primary", disabled=confirmed,
                      on_click=keep, args=args(predicted),
                      help="Keep this input and its label in your handwriting set")
            st.caption("No? Click the right digit:")
        st.pills("The right digit", [d for d in range(10) if d != predicted], key=FIX,
                 on_change=_fixed, args=(keep, args), label_visibility="collapsed",
                 help="No: it's this digit. Keep it in your handwriting set with it")
        asked = ss.get(ASKED)
        if careful and asked and asked[0] == digest:
            _confirm_step(image, asked[1], digest, source)
        if ss.get(NOTICE):
            st.toast(ss.pop(NOTICE), icon=":material/bookmark_added:")
        if ss.get(ERROR):
            st.warning(ss.pop(ERROR), icon=":material/inventory_2:")
        st.page_link("pages/handwriting.py", label="Your handwriting: see it, fine-tune on it",
                     icon=":material/edit_note:")


def _confirm_step(image: np.ndarray, label: int, digest: str, source: str) -> None:
    """The question for a flagged input, with its answer buttons."""
    st.warning(f"**Is this really a {label}?** The model flagged it “I don't know”: it does "
               "not look like the digits it was trained on. Keep it only if it is a "
               f"{label} in your own hand. A letter, a symbol or a scribble kept as a {label} "
               f"would teach a fine-tuned model to call such shapes {label}.",
               icon=":material/help:")
    answer = st.container(horizontal=True, gap="small")
    answer.button(f"Yes, keep it as a {label}", key="teach_yes", type="primary",
                  icon=":material/bookmark_add:", on_click=_confirm,
                  args=(image, label, digest, source))
    answer.button("No, don't keep it", key="teach_no", on_click=_cancel)
