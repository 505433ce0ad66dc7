"""The sidebar every page shares: dataset, model, and the device badge.

Its selection is computed once per script run, at the first call of current_selection()
(the page's, or the sidebar's own); the sidebar is drawn at the first call of
render_sidebar() in the run (ui.common.selection.selection(), else the entry script after
the page).
A fragment's rerun (Classify's panel after a stroke) computes and draws neither: it gets
the last full run's selection, the one the sidebar shows.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from core.networks.catalog import ModelEntry, default_model, find_model, list_models, no_model_help
from core.data import DATASETS
from ui.common import state
from ui.common.identity import admin_box
from ui.common.loaders import device_label, run_service, use_one_thread
from ui.common.model_files import model_files_box, uploaded_models


def available_models(dataset: str | None = None) -> list[ModelEntry]:
    """Shipped checkpoints, this visitor's usable runs, then the checkpoints uploaded in
    this session. Not cached: a run that just finished shows up. Others' runs are
    theirs to use, not ours."""
    mine = run_service().list_runs(state.viewer(), controlled=True)  # every rerun: asks for no more
    return list_models(dataset, runs=mine) + uploaded_models(dataset)


def _model_caption(entry: ModelEntry) -> str:
    parts = []
    if entry.test_accuracy is not None:
        parts.append(f"test accuracy {entry.test_accuracy:.2%}")
    epochs = entry.details.get("epochs")
    if epochs:
        parts.append(f"{epochs} epoch{'' if epochs == 1 else 's'}")
    seconds = entry.details.get("train_seconds")
    if seconds:
        parts.append(f"trained in {seconds:.0f} s")
    return " · ".join(parts)


def current_selection() -> state.Selection | None:
    """This run's dataset, model and the dataset's models; None when computing them failed
    earlier in the run (and the error was shown). Draws nothing: a fragment may call it."""
    ss = st.session_state
    if state.SELECTION in ss:
        return ss[state.SELECTION]
    ss[state.SELECTION] = None  # until it succeeds: one attempt (and one message) per run
    use_one_thread()  # before any model work of this run (its thread is new)
    dataset = state.dataset()
    models = available_models(dataset)
    if not ss.get(state.LINK_READ):  # a new session (a refresh, a bookmark): the URL's model
        ss[state.LINK_READ] = True
        linked = st.query_params.get(state.LINK_MODEL)
        if linked and ss.get(state.MODEL) is None:
            if find_model(models, linked) is not None:
                ss[state.MODEL] = linked
            else:
                ss[state.LINK_MISSING] = linked
    chosen, default = find_model(models, ss.get(state.MODEL)), default_model(models, dataset)
    if chosen is None:
        # Switching dataset (or a model that went away): fall back to the default,
        # set before the widget exists, as Streamlit requires.
        chosen = default
        ss[state.MODEL] = chosen.key if chosen else None
    state.keep_in_link(dataset, chosen.key if chosen else None, default.key if default else None)
    ss[state.SELECTION] = state.Selection(dataset, chosen, models)
    return ss[state.SELECTION]


@contextmanager
def _as_the_entry_script() -> Iterator[None]:
    """Widgets created here get the IDs they would get in the entry script.

    Streamlit (1.67, elements/lib/utils.py) puts the script that creates a widget (its
    "active script hash": the page's, inside page.run()) into the widget's ID, keyed or
    not. The sidebar is drawn by whichever page asks for it first: under the page's
    hash, its widgets would be new ones on every page, and a page switch would lose the
    dataset and model chosen. So they are created under the entry script's hash, as
    when the entry script drew the sidebar before the page.
    """
    ctx = get_script_run_ctx()
    if ctx is None:  # outside a script run (bare mode)
        yield
        return
    with ctx.run_with_active_hash(ctx.pages_manager.main_script_hash):
        yield


def render_sidebar() -> state.Selection | None:
    """Draw the sidebar, once per run; the run's selection (None: it failed, and the
    error is shown)."""
    ss = st.session_state
    if ss.get(state.SIDEBAR_DRAWN):
        return ss.get(state.SELECTION)
    ss[state.SIDEBAR_DRAWN] = True
    state.dataset()
    with _as_the_entry_script(), st.sidebar:
        st.selectbox("Dataset", list(DATASETS), key=state.DATASET,
                     format_func=lambda name: DATASETS[name].title,
                     help="Digits (MNIST) or garments (Fashion-MNIST)")
        sel = current_selection()
        if sel is None:
            return None
        if sel.models:
            labels = {m.key: m.label for m in sel.models}
            st.selectbox("Model", list(labels), key=state.MODEL,
                         format_func=lambda k: labels.get(k, k),
                         help="Shipped checkpoints from weights/, your finished runs and "
                              "the checkpoints you uploaded")
            caption = _model_caption(sel.model) if sel.model else ""
            if caption:
                st.caption(caption)
        else:
            st.warning(no_model_help(sel.dataset), icon=":material/info:")
        missing = ss.pop(state.LINK_MISSING, None)
        if missing:
            st.info(f"The model in this page's link (`{missing}`) is not one of yours here: "
                    "another visitor's run, a deleted one, or a file uploaded in another "
                    f"session. Showing {sel.model.label if sel.model else 'none'} instead.",
                    icon=":material/link_off:")
        model_files_box(sel.model)
        st.badge(device_label(), icon=":material/memory:", color="gray",
                 help="Where inference and training run")
        me = state.viewer()
        st.caption(f":material/person: {'admin · ' if me.admin else ''}"
                   f"{'you are ' + me.id[2:] if me.id.startswith('u:') else 'visitor ' + me.short}"
                   " · your runs are yours; others' are read-only")
        admin_box(run_service().settings)
    return sel
