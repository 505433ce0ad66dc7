"""The layer editor: "custom" in the Train page's architecture list.

The layers live in one place, the `train_layers` text (TrainConfig.layers, core.networks.spec's
grammar), which the Start button reads like every other setting. The table edits the
same list a row per layer: add and delete rows, change a cell, or renumber "#" to move
a layer. Each change is written back as text and the table is drawn afresh from it, so
the two never disagree. Below them, what the spec does: every layer's output shape,
parameters and FLOPs, and the server's bounds.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.networks.models import ARCHITECTURES
from core.server.settings import RunSettings
from core.networks.spec import KINDS, Layer, SpecError, check, parse

KEY = "train_layers"  # the TrainConfig field's widget key (ui.train.form.key("layers"))
FROM = "train_custom_from"  # the built-in the Copy button copies
VERSION = "_train_layers_version"  # bumped to redraw the table from the text
START = ARCHITECTURES["fastcnn"].spec  # small, and quick to train on a CPU
COLUMNS = ("size", "kernel", "stride", "padding", "p")  # Layer's numbers, a column each


def _rows(spec: str) -> pd.DataFrame:
    """One row per layer; a number its kind does not use is missing (shown empty). No
    layers (an empty text): no rows, for the table to add them."""
    layers = parse(spec) if spec.strip() else []
    return pd.DataFrame([{"#": i, "layer": l.kind,
                          **{name: getattr(l, name) if name in KINDS[l.kind].fields else None
                             for name in COLUMNS}}
                         for i, l in enumerate(layers, 1)], columns=["#", "layer", *COLUMNS])


def table_height(rows: int) -> int:
    """Pixels for a data editor that shows its header, every row and the row that adds
    one, with no scrolling (Streamlit's rows are 35 px; its own "auto" height cut the
    last layer off)."""
    return 35 * (rows + 2) + 3


def _number(value, default, kind=int):
    return default if value is None or pd.isna(value) else kind(value)


def spec_of(table: pd.DataFrame) -> str | None:
    """The token string of the table's rows in "#" order; None while a row has no layer
    type yet (a row just added)."""
    if table["layer"].isna().any():
        return None
    ordered = table.assign(_n=table["#"].fillna(len(table) + 1)).sort_values("_n", kind="stable")
    tokens = []
    for _, row in ordered.iterrows():
        kind = KINDS[row["layer"]]
        numbers = {name: _number(row[name], kind.defaults.get(name, getattr(Layer, name)),
                                 float if name == "p" else int) for name in kind.fields}
        tokens.append(Layer(kind.name, **numbers).token)
    return ",".join(tokens)


def _redraw() -> None:
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def _load() -> None:
    # The select box's state, not an argument bound at the last rerun: both may change in
    # the rerun of the click.
    st.session_state[KEY] = ARCHITECTURES[st.session_state[FROM]].spec
    _redraw()


def editor(settings: RunSettings) -> None:
    """The editor and its live report; the text in `train_layers` is the result."""
    ss = st.session_state
    if KEY not in ss:  # the first visit; a list emptied later stays empty (and says so)
        ss[KEY] = START
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Start from", list(ARCHITECTURES), index=list(ARCHITECTURES).index("fastcnn"),
                     key=FROM, width=200)
        st.button("Copy its layers", icon=":material/content_copy:", on_click=_load,
                  key="train_custom_load")
    try:
        table = _rows(ss[KEY])
    except SpecError:  # the text does not parse: the table waits for it (the report says why)
        table = None
    if table is not None:
        edited = st.data_editor(
            table, num_rows="dynamic", hide_index=True, key=f"train_layers_table_{ss.get(VERSION, 0)}",
            height=table_height(len(table)), placeholder="",  # a number the layer has not: empty
            column_config={
                "#": st.column_config.NumberColumn("#", help="Position: renumber to move a layer "
                                                   "(2.5 goes between 2 and 3)", width="small"),
                "layer": st.column_config.SelectboxColumn("layer", options=list(KINDS), required=True),
                "size": st.column_config.NumberColumn("size", min_value=1, step=1,
                                                      help="channels (conv, convbn, res), units "
                                                           "(fc) or window (pool)"),
                "kernel": st.column_config.NumberColumn("kernel", min_value=1, step=1),
                "stride": st.column_config.NumberColumn("stride", min_value=1, step=1),
                "padding": st.column_config.NumberColumn("padding", min_value=0, step=1),
                "p": st.column_config.NumberColumn("p", min_value=0.0, max_value=0.95, step=0.05,
                                                   help="dropout probability"),
            })
        new = spec_of(edited)
        if new is not None and new != ss[KEY]:
            ss[KEY] = new  # before the text widget is drawn in this run
            _redraw()
            st.rerun()
    st.text_input("Layers", key=KEY, on_change=_redraw, persist_state="session",
                  help="The same list as text, e.g. conv32k3,pool2,relu,fc128,drop0.2,fc10: "
                       + ", ".join(kind.example for kind in KINDS.values()))
    report_view(ss[KEY], settings)


def report_view(spec: str, settings: RunSettings) -> None:
    """Every layer's output shape, parameters and FLOPs, the totals against the server's
    bounds; or what is wrong, naming the layer."""
    if not spec.strip():
        st.error("**No layers.** Add rows to the table, write the layers above, or copy a "
                 "built-in's layers (**Start from**): an empty list is not trained as any "
                 "model.", icon=":material/error:")
        return
    try:
        report = check(spec)
    except SpecError as err:
        st.error(f"**This network cannot be built:** {err}", icon=":material/error:")
        return
    written = [layer.token for layer in parse(spec)]
    implied = [i.token == "flatten" and written[i.index - 1] != "flatten" for i in report.layers]
    st.dataframe(pd.DataFrame([{"#": "" if auto else str(i.index),
                                "layer": "flatten (implied)" if auto else i.token,
                                "output": " × ".join(map(str, i.shape)),
                                "parameters": i.parameters, "FLOPs per image": i.flops}
                               for i, auto in zip(report.layers, implied)]),
                 hide_index=True, key="train_layers_report",
                 column_config={"parameters": st.column_config.NumberColumn(format="localized"),
                                "FLOPs per image": st.column_config.NumberColumn(format="compact")})
    bounds = settings.model_bounds
    limits = " · ".join(text for text in (
        f"at most {bounds.layers} layers" if bounds.layers else "",
        f"{bounds.parameters:,} parameters" if bounds.parameters else "",
        f"{bounds.mflops:g} MFLOPs per image" if bounds.mflops else "") if text)
    st.caption(f"**{report.parameters:,} parameters · {report.flops / 1e6:,.2f} MFLOPs per image** "
               f"(forward)" + (f" · this server allows {limits}" if limits else ""))
    try:
        bounds.check(report)
    except SpecError as err:
        st.warning(f"**Too large for this server:** {err}.", icon=":material/warning:")
