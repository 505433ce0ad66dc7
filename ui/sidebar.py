"""The sidebar every page shares: dataset, model, and the device badge."""
from __future__ import annotations

import streamlit as st

from core.catalog import ModelEntry, default_model, find_model, no_model_help
from core.data import DATASETS
from ui import state
from ui.identity import admin_box
from ui.loaders import available_models, device_label, run_service, viewer
from ui.model_files import model_files_box


def _model_caption(entry: ModelEntry) -> str:
    parts = []
    if entry.test_accuracy is not None:
        parts.append(f"test accuracy {entry.test_accuracy:.2%}")
    epochs = entry.details.get("epochs")
    if epochs:
        parts.append(f"{epochs} epochs")
    seconds = entry.details.get("train_seconds")
    if seconds:
        parts.append(f"trained in {seconds:.0f} s")
    return " · ".join(parts)


def render_sidebar() -> state.Selection:
    """Draw the sidebar and record the selection in session_state for the page."""
    ss = st.session_state
    if ss.get(state.DATASET) not in DATASETS:
        ss[state.DATASET] = next(iter(DATASETS))
    with st.sidebar:
        dataset = st.selectbox("Dataset", list(DATASETS), key=state.DATASET,
                               format_func=lambda name: DATASETS[name].title,
                               help="Digits (MNIST) or garments (Fashion-MNIST)")
        models = available_models(dataset)
        chosen = find_model(models, ss.get(state.MODEL))
        if chosen is None:
            # Switching dataset (or a model that went away): fall back to the default,
            # set before the widget exists, as Streamlit requires.
            fallback = default_model(models, dataset)
            ss[state.MODEL] = fallback.key if fallback else None
        if models:
            labels = {m.key: m.label for m in models}
            key = st.selectbox("Model", list(labels), key=state.MODEL,
                               format_func=lambda k: labels.get(k, k),
                               help="Shipped checkpoints from weights/, your finished runs and "
                                    "the checkpoints you uploaded")
            chosen = find_model(models, key)
            caption = _model_caption(chosen) if chosen else ""
            if caption:
                st.caption(caption)
        else:
            chosen = None
            st.warning(no_model_help(dataset), icon=":material/info:")
        model_files_box(chosen)
        st.badge(device_label(), icon=":material/memory:", color="gray",
                 help="Where inference and training run")
        me = viewer()
        st.caption(f":material/person: {'admin · ' if me.admin else ''}"
                   f"{'you are ' + me.id[2:] if me.id.startswith('u:') else 'visitor ' + me.short}"
                   " · your runs are yours; others' are read-only")
        admin_box(run_service().settings)
    selection = state.Selection(dataset, chosen, models)
    ss[state.SELECTION] = selection
    return selection
