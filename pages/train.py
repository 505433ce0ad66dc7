"""Train: configure a run, watch it live, stop or resume it, use the result."""
from __future__ import annotations

import streamlit as st

from ui.common.errors import guard
from ui.common.selection import selection
from ui.train import form, run_view, storage_box, sweep

sel = selection()
st.title(":material/model_training: Train")

settings_box, notes_box, runs_box = st.container(border=True), st.container(), st.container()
# The runs are drawn first, into their place below the form, and the form's cost estimate
# last (torch counting FLOPs: ~1.3 s the first time on a fresh server): someone back after
# a restart must see their run at once, not think it lost.
with runs_box:
    run_view.runs_section(in_use=sel.model.key if sel.model is not None else None)
with settings_box:
    show_estimate = form.render_form(sel.dataset)
with notes_box:
    form.show_notice()
    with st.expander("Sweep: try several settings at once", icon=":material/stacked_line_chart:"):
        with guard():
            sweep.sweep_form()
    with guard():
        sweep.sweep_view()
    storage_box.recovery_notice()
    with guard():
        storage_box.storage_box()
show_estimate()
