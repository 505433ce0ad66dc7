"""Classify's "Nearest training images": the training images the answer sits among.

A section of its own under the prediction (ui.common.neighbours draws it): a lazy
expander, so a stroke costs nothing while it is closed.
"""
from __future__ import annotations

from core.predict.preprocess import Preprocessed
from ui.common import neighbours, state

INPUT_NAMES = {"draw": "your drawing", "upload": "your upload", "sample": "the test image"}


def panel(sel: state.Selection, pre: Preprocessed, source: str) -> None:
    """The expander; the neighbours of the input the model saw when it is open."""
    neighbours.section(sel.model, pre.image, INPUT_NAMES.get(source, "the input"),
                       key="classify_neighbours")
