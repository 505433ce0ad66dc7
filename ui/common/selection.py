"""What a page calls first: selection() (the sidebar's dataset and model, drawing the
shared sidebar at the first call of a run) and require_model().

Above the sidebar: it imports ui.common.sidebar (on call, as that imports torch), and
only pages import it; the sidebar, loaders, model files and state never do. Light to
import, so that Classify can draw its canvas before torch is imported.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ui.common.deep_links import leave_legacy_pages_pass

if TYPE_CHECKING:  # annotations only: core.networks.catalog imports torch
    from core.networks.catalog import ModelEntry
    from ui.common.state import Selection


def selection() -> Selection:
    """What the sidebar selected in this run. The first call of a run draws the sidebar:
    every page calls this first, except Classify, which draws its canvas before (the
    sidebar's model list imports torch, and a cold start's first page is Classify)."""
    # A page file run alone by Streamlit's legacy pages/ pass (its SELECTION would be
    # the last run's): go through the entry script instead.
    leave_legacy_pages_pass()
    from ui.common.sidebar import render_sidebar  # it imports torch (the model list)
    sel = render_sidebar()
    if sel is None:  # the sidebar failed and has shown why: nothing more to draw
        st.stop()
    return sel


def require_model(sel: Selection) -> ModelEntry:
    """The selected model; without one, say how to get one and end the page here."""
    if sel.model is None:
        from core.networks.catalog import no_model_help  # it imports torch: see above
        st.info(no_model_help(sel.dataset), icon=":material/info:")
        st.stop()
    return sel.model
