"""Train: configure a run, watch it live, stop or resume it, use the result."""
from __future__ import annotations

import streamlit as st

from ui.common import state
from ui.common.errors import guard
from ui.common.loaders import run_service
from ui.common.selection import selection
from ui.train import form, run_view, storage_box, sweep

sel = selection()
st.title(":material/model_training: Train")

with st.container(border=True):
    form.render_form(sel.dataset)
form.show_notice()
with st.expander("Sweep: try several settings at once", icon=":material/stacked_line_chart:"):
    with guard():
        sweep.sweep_form()
with guard():
    sweep.sweep_view()
storage_box.recovery_notice()
with guard():
    storage_box.storage_box()

all_runs = run_service().list_runs(state.viewer())
if not all_runs:
    st.info("No runs yet. Pick the settings above and press **Start training**; the run keeps "
            "going in the background when you switch pages or close the tab.",
            icon=":material/info:")
    st.stop()

shown = run_view.choose_run(all_runs)
with guard():
    run_view.show_run(run_service().get(shown.id, state.viewer()),
                      in_use=sel.model.key if sel.model is not None else None)

st.subheader("Runs")
run_view.runs_table(all_runs)
