"""Session-state keys shared by the pages, in one place so they cannot drift apart, and
the helpers that read and write them.

The bottom of ui/: it imports no other ui module but deep_links (the sidebar, the
loaders and the model files import this one).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import streamlit as st

from core.data import DATASETS
from ui.common.deep_links import leave_legacy_pages_pass

if TYPE_CHECKING:  # annotations only: core.networks.catalog imports torch (this module is on a
    # cold start's path, before torch), numpy takes tens of ms
    import numpy as np

    from core.networks.catalog import ModelEntry
    from core.server.visitors import Viewer

DATASET = "dataset"  # sidebar: "mnist" or "fashion"
MODEL = "model_key"  # sidebar: a ModelEntry.key
VIEWER = "_viewer"  # the Viewer (identity, admin) of this session
SELECTION = "_selection"  # the Selection computed in this run (None: it failed)
SIDEBAR_DRAWN = "_sidebar_drawn"  # the sidebar is drawn in this run
CANVAS_RGBA = "classify_canvas_rgba"  # tests put an (H, W, 4) array here instead of drawing
CANVAS_ROUND = "classify_canvas_round"  # bumped by Clear: a new key gives an empty canvas
MISTAKES_REQUEST = "mistakes_request"  # (true, predicted) sent from Evaluate to Mistakes,
# or (true, predicted, index) to also inspect one test image (from the embedding map)
MISTAKES_PICK = "mistakes_pick"  # the test image the Mistakes page shows large
CLASSIFY_INPUT = "classify_input"  # Classify's last ModelInput, shown on Inside the model
TRAIN_FOCUS = "train_show"  # the run the Train page shows (its Run select box)
TRAIN_SEEN = "train_seen_active"  # live runs the Train page has already put on show
TRAIN_NOTICE = "train_notice"  # a message to show once after Start / Resume
TRAIN_REQUEST = "train_request"  # the last Start: settings, request token, run id
# The page's URL carries the sidebar's choice (?model=run:<id>, ?dataset=fashion), so a refresh
# or a bookmark opens the same model. Keys, not the select box's labels: a label changes
# (a run's accuracy, its name) and the page needs the choice before the box is drawn.
LINK_DATASET = "dataset"  # query parameters
LINK_MODEL = "model"
LINK_READ = "_link_read"  # session: the URL's model was looked at (its first full run)
LINK_MISSING = "_link_missing"  # session: the URL named a model this visitor does not have


@dataclass(frozen=True)
class ModelInput:
    """A preprocessed input as the model saw it, before normalisation (which each
    model does with its own constants)."""
    dataset: str
    image: np.ndarray  # (28, 28) uint8
    source: str  # what it came from, for a caption: "your drawing", "test image #12"...


@dataclass
class Selection:
    dataset: str
    model: ModelEntry | None  # None when the dataset has no model yet
    models: list[ModelEntry] = field(default_factory=list)  # all models of this dataset


def new_run() -> None:
    """The entry script, at the start of every (full) run: selection and sidebar are
    computed and drawn again. (A fragment's rerun keeps the last full run's.)"""
    st.session_state.pop(SELECTION, None)
    st.session_state.pop(SIDEBAR_DRAWN, None)


def dataset() -> str:
    """The sidebar's dataset, known before the sidebar is drawn: for a page that draws
    something before it asks for the selection (Classify: its canvas)."""
    # A page file run alone by Streamlit's legacy pages/ pass: go through the entry
    # script instead (see ui.common.deep_links).
    leave_legacy_pages_pass()
    ss = st.session_state
    if ss.get(DATASET) not in DATASETS:  # set before the widget exists, as Streamlit requires
        linked = st.query_params.get(LINK_DATASET)  # a new session: the URL's, if any
        ss[DATASET] = linked if linked in DATASETS else next(iter(DATASETS))
    return ss[DATASET]


def keep_in_link(dataset: str, model_key: str | None, default_key: str | None) -> None:
    """Write the selection into the page's URL, leaving out what a new session picks
    anyway (the first dataset, its default model): a plain visit keeps a plain URL. Only
    what changed is written (each write is a message to the browser). A page switch
    drops the URL's parameters; every page's full run writes them back."""
    wanted = {LINK_DATASET: None if dataset == next(iter(DATASETS)) else dataset,
              LINK_MODEL: None if model_key == default_key else model_key}
    params = st.query_params
    for name, value in wanted.items():
        if value is None and name in params:
            del params[name]
        elif value is not None and params.get(name) != value:
            params[name] = value


def use_model(dataset: str, key: str) -> None:
    """Button callback: make a model the selected one on every page.

    Runs before the next rerun's widgets exist, which is the only time
    Streamlit lets code change a widget's value.
    """
    st.session_state[DATASET] = dataset
    st.session_state[MODEL] = key


def viewer() -> Viewer:
    """Who is asking in this session (set by streamlit_app.py before any page runs)."""
    return st.session_state[VIEWER]
