"""Compare runs: any runs' curves overlaid in one chart, and their settings side by side."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.networks.catalog import run_stamp
from core.runs.compare import (CurveMetric, compare_configs, default_runs, describe_run,
                               metric_series, missing_note, run_labels)
from core.runs.curves import training_curves
from core.runs.api import RunNotFound
from ui.common import insight_charts, state
from ui.common.charts import STATIC
from ui.common.loaders import run_service
from ui.common.selection import selection

HIGHLIGHT = "background-color: #ffe08a; color: #1a1a1a; font-weight: 600"

sel = selection()  # the shared sidebar ran (and this is not Streamlit's legacy pages pass)
ss = st.session_state
st.title(":material/compare_arrows: Compare runs")

all_runs = run_service().list_runs(state.viewer())
if not all_runs:
    st.info("No training runs yet. Start some on the **Train** page, then compare them here.",
            icon=":material/info:")
    st.stop()
by_id = {r.id: r for r in all_runs}


def label(run_id: str) -> str:
    run = by_id[run_id]
    return f"{run_stamp(run_id)} · {describe_run(run)}"


if "compare_runs" not in ss:
    ss["compare_runs"] = default_runs(all_runs, sel.dataset)
ss["compare_runs"] = [r for r in ss["compare_runs"] if r in by_id]  # deleted since
chosen = st.multiselect("Runs", list(by_id), key="compare_runs", format_func=label,
                        placeholder="Pick the runs to compare")
if not chosen:
    st.info("Pick one or more runs above.", icon=":material/touch_app:")
    st.stop()

snaps = []
for run_id in chosen:
    try:
        snaps.append(run_service().get(run_id, state.viewer(), metrics=True))
    except RunNotFound:  # deleted between the list and now
        st.warning(f"Run `{run_id}` is gone.", icon=":material/search_off:")

metric = st.segmented_control("Metric", list(CurveMetric), key="compare_metric",
                              format_func=lambda m: m.label, default=CurveMetric.VAL_ACCURACY)
metric = metric or CurveMetric.VAL_ACCURACY
names = run_labels(snaps)
series = [(name, *metric_series(training_curves(s.steps, s.epochs), metric))
          for name, s in zip(names, snaps)]
st.plotly_chart(insight_charts.runs_overlay(series, metric), config=STATIC, key="compare_chart")
for name, snap, (_, x, _) in zip(names, snaps, series):
    if not x:
        st.caption(f"**{name}**: {missing_note(snap, metric)}.")

st.subheader("Settings")
table = compare_configs([s.config for s in snaps])
frame = pd.DataFrame({name: ["—" if v is None else str(v) for v in
                             (table.values[f][i] for f in table.fields)]
                      for i, name in enumerate(names)}, index=table.fields)
frame.insert(0, "differs", ["✱" if f in table.differing else "" for f in table.fields])
frame.index.name = "setting"
styled = frame.style.apply(
    lambda row: [HIGHLIGHT if row.name in table.differing else "" for _ in row], axis=1)
st.dataframe(styled, key="compare_table", height=36 + 35 * len(frame),
             column_config={"_index": st.column_config.TextColumn("setting", width=140),
                            "differs": st.column_config.TextColumn(width=60)})
if len(snaps) > 1:
    n = len(table.differing)
    st.caption(f"✱ {n} setting{'s differ' if n != 1 else ' differs'}: "
               f"{', '.join(table.differing)}." if n else "The runs' settings are the same.")
