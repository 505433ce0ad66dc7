"""Evaluate: test accuracy, per-class accuracy, the confusion matrix, two models compared."""
from __future__ import annotations

import math

import streamlit as st

from core.networks.catalog import find_model
from core.evaluate.compare import compare, per_class_table, row_normalize
from core.data import DATASETS
from ui.common import calibration, charts, state
from ui.common.errors import safe_callback
from ui.common.format import percent_column, percent_text, rounded_percent
from ui.common.loaders import evaluation
from ui.evaluate.robust import robustness
from ui.common.selection import require_model, selection

sel = selection()
ss = st.session_state
st.title(":material/analytics: Evaluate")

require_model(sel)

names = list(DATASETS[sel.dataset].classes)


def _evaluated(entry):
    with st.spinner(f"Evaluating {entry.label} on the test set (once; the result is cached)…"):
        return evaluation(entry)


res = _evaluated(sel.model)
total = sum(map(sum, res.confusion_matrix))
finite = [(a, n) for a, n in zip(res.per_class_accuracy, names) if not math.isnan(a)]
worst_acc, worst_name = min(finite) if finite else (float("nan"), "—")

st.caption(f"{sel.model.label} · {total:,} test images of {sel.dataset}")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Test accuracy", percent_text(res.accuracy))
m2.metric("Test loss", f"{res.loss:.4f}")
m3.metric("Mistakes", f"{len(res.mistake_indices):,}", help=f"of {total:,} test images")
m4.metric("Hardest class", worst_name, percent_text(worst_acc), delta_color="off",
          delta_arrow="off")


def _open_mistakes(true: int | None, predicted: int | None) -> None:
    ss[state.MISTAKES_REQUEST] = (true, predicted)
    ss["_eval_go"] = True


@safe_callback
def _on_cell() -> None:
    """A click on a confusion-matrix cell: off the diagonal, open those mistakes."""
    points = (ss.get("eval_cm") or {}).get("selection", {}).get("points", [])
    if not points:
        return
    point = points[0]
    try:
        predicted, true = names.index(str(point["x"])), names.index(str(point["y"]))
    except (KeyError, ValueError):
        return
    if true == predicted:
        ss["_eval_note"] = (f"“{names[true]}” classified correctly: pick a cell off the "
                            "diagonal.")
        return
    _open_mistakes(true, predicted)


left, right = st.columns([1, 1.15], gap="large")
with left:
    st.plotly_chart(charts.per_class_bars(names, res.per_class_accuracy,
                                          title="Accuracy per class"),
                    config=charts.STATIC, key="eval_per_class")
    with st.expander("Per-class numbers"):
        st.dataframe([{"class": r.name, "accuracy": rounded_percent(r.accuracy),
                       "correct": r.correct, "images": r.images,
                       "mistaken for": r.most_confused_with or "—"}
                      for r in per_class_table(res, names)],
                     hide_index=True, key="eval_table", placeholder="—",
                     column_config={"accuracy": percent_column(),
                                    "mistaken for": st.column_config.TextColumn(
                                        help="The class its mistakes were most often taken "
                                             "for")})
with right:
    normalized = st.toggle("Row-normalised (share of each true class)", key="eval_normalized",
                           persist_state="session")
    matrix = row_normalize(res.confusion_matrix) if normalized else res.confusion_matrix
    st.plotly_chart(charts.confusion_heatmap(matrix, names, normalized,
                                             title="Confusion matrix (click a cell to see "
                                                   "those mistakes)"),
                    key="eval_cm", on_select=_on_cell, selection_mode="points",
                    config=charts.STATIC)
    note = ss.pop("_eval_note", None)
    if note:
        st.info(note, icon=":material/touch_app:")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        any_class = [None] + list(range(len(names)))
        label = lambda c: "any" if c is None else names[c]  # noqa: E731
        st.selectbox("True class", any_class, format_func=label, key="eval_true", width=160)
        st.selectbox("Predicted as", any_class, format_func=label, key="eval_pred",
                            width=160)
        # The callback reads the select boxes' state, not args bound at the last
        # rerun: both may change in the same rerun as the click.
        st.button("Show these mistakes", icon=":material/arrow_forward:", key="eval_go",
                  on_click=lambda: _open_mistakes(ss.get("eval_true"), ss.get("eval_pred")))

if ss.pop("_eval_go", False):
    st.switch_page("pages/mistakes.py")

calibration.section(sel.model, res)

# ---------------------------------------------------------------- under attack
st.divider()
robustness(sel.model, res.accuracy)

# ---------------------------------------------------------------- compare
st.divider()
st.subheader("Compare two models")
others = [m for m in sel.models if m.key != sel.model.key]
if not others:
    st.info(f"Only one {sel.dataset} model is available. Train another on the **Train** page "
            "to compare them here.", icon=":material/info:")
    st.stop()

labels = {m.key: m.label for m in others}
b_key = st.selectbox(f"Model B (A is the sidebar's model: {sel.model.label})", list(labels),
                     format_func=labels.get, key="eval_compare_b")
entry_b = find_model(others, b_key)
res_b = _evaluated(entry_b)
comp = compare(res, res_b, names)
m1, m2, m3, m4 = st.columns(4)
m1.metric("A: test accuracy", f"{comp.accuracy_a:.2%}")
m2.metric("B: test accuracy", f"{comp.accuracy_b:.2%}",
          f"{comp.accuracy_delta * 100:+.2f} pt vs A")
m3.metric("Only A right", f"{comp.only_a_right:,}", help="Test images A gets right and B wrong")
m4.metric("Only B right", f"{comp.only_b_right:,}", help="Test images B gets right and A wrong")
c1, c2 = st.columns(2)
c1.plotly_chart(charts.comparison_bars(comp, sel.model.label, entry_b.label),
                config=charts.STATIC, key="eval_compare_bars")
c2.plotly_chart(charts.delta_bars(comp), config=charts.STATIC, key="eval_delta_bars")
st.caption(f"Both right: {comp.both_right:,} · both wrong: {comp.both_wrong:,} · "
           f"of {total:,} test images")
