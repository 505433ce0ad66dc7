"""Mistakes: the test images the selected model gets wrong, filtered, sorted, paged."""
from __future__ import annotations

import streamlit as st

from core.data import DATASETS
from core.data.explore import enlarge
from core.evaluate.mistakes import SORTS, filter_mistakes, from_eval, paginate
from ui.common import charts, neighbours, state
from ui.common.loaders import evaluation, test_split
from ui.common.selection import require_model, selection

SESSION = "session"
PER_PAGE = [12, 24, 48, 96]
COLUMNS = 6

sel = selection()
ss = st.session_state
st.title(":material/report: Mistakes")

require_model(sel)

names = list(DATASETS[sel.dataset].classes)
with st.spinner(f"Evaluating {sel.model.label} on the test set (once; the result is cached)…"):
    res = evaluation(sel.model)
split = test_split(sel.dataset)
table = from_eval(res)

# A (true, predicted) pair sent from Evaluate becomes the filters, once; a third item
# (from the embedding map) is a test image to inspect.
request = ss.pop(state.MISTAKES_REQUEST, None)
wanted = None
if request is not None:
    ss["mistakes_true"], ss["mistakes_pred"] = request[:2]
    ss.pop("mistakes_pick", None)
    if len(request) > 2:
        wanted = ss["mistakes_pick"] = int(request[2])


def _reset_page() -> None:
    ss.pop("mistakes_pick", None)


any_class = [None] + list(range(len(names)))
label = lambda c: "any" if c is None else names[c]  # noqa: E731
with st.container(horizontal=True, vertical_alignment="bottom"):
    true = st.selectbox("True class", any_class, format_func=label, key="mistakes_true",
                        persist_state=SESSION, on_change=_reset_page, width=170)
    pred = st.selectbox("Predicted as", any_class, format_func=label, key="mistakes_pred",
                        persist_state=SESSION, on_change=_reset_page, width=170)
    sort = st.selectbox("Order", list(SORTS), format_func=SORTS.get, key="mistakes_sort",
                        persist_state=SESSION, on_change=_reset_page, width=260)
    per_page = st.selectbox("Per page", PER_PAGE, index=1, key="mistakes_per_page",
                            persist_state=SESSION, on_change=_reset_page, width=110)

shown = filter_mistakes(table, true, pred, sort)
st.caption(f"{len(shown):,} of {len(table):,} mistakes of {sel.model.label} · each tile: "
           "true class → **predicted class** · the model's confidence in it")
if len(shown) == 0:
    st.info("No mistakes match these filters." if len(table) else
            "This model classifies every test image correctly.", icon=":material/celebration:")
    st.stop()

pages = paginate(len(shown), 1, per_page).pages
grid_col, detail_col = st.columns([2.6, 1], gap="large")
with grid_col:
    # Keyed by the filters: new filters start again at page 1.
    page_key = f"mistakes_page_{sel.model.key}_{true}_{pred}_{sort}_{per_page}"
    position = (shown.indices == wanted).nonzero()[0] if wanted is not None else []
    if len(position):  # open the page that holds the requested image
        ss[page_key] = int(position[0]) // per_page + 1
    page = st.pagination(pages, key=page_key, max_visible_pages=7) if pages > 1 else 1
    view = paginate(len(shown), page, per_page)
    for start in range(view.start, view.stop, COLUMNS):
        cols = st.columns(COLUMNS)
        for col, row in zip(cols, range(start, min(start + COLUMNS, view.stop))):
            m = shown.row(row)
            with col:
                st.image(enlarge(split.images[m.index].numpy(), 4), width="stretch")
                st.caption(f"{names[m.true]} → **{names[m.predicted]}** · {m.confidence:.1%}")
                st.button("Inspect", key=f"mistakes_inspect_{m.index}", icon=":material/zoom_in:",
                          type="primary" if m.index == ss.get("mistakes_pick") else "tertiary",
                          on_click=ss.__setitem__, args=("mistakes_pick", m.index))

with detail_col:
    pick = ss.get("mistakes_pick")
    rows = [i for i in range(view.start, view.stop) if int(shown.indices[i]) == pick]
    m = shown.row(rows[0] if rows else view.start)
    with st.container(border=True):
        st.markdown(f"**Test image #{m.index}**")
        st.image(enlarge(split.images[m.index].numpy(), 10), width="stretch")
        st.markdown(f"True: **{names[m.true]}** · predicted: **{names[m.predicted]}** "
                    f"({m.confidence:.1%})")
        st.plotly_chart(charts.probability_bars(m.probabilities, names, true=m.true,
                                                predicted=m.predicted, height=260),
                        config=charts.STATIC, key="mistakes_probs")
        st.caption(":red[■] the model's answer · :green[■] the true class")
    neighbours.section(sel.model, split.images[m.index].numpy(),
                       f"test image #{m.index} (a {names[m.true]})", key="mistakes_neighbours",
                       columns=2)
