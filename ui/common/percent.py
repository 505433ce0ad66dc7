"""Percentages in the pages: core's one rounding rule (core.evaluate.percent) for text, and
table columns that show what it rounded with a fixed number of decimals ("100.00%",
not "100%" beside "98.77%")."""
from __future__ import annotations

import streamlit as st

from core.evaluate.percent import PLACES, percent_text, rounded

__all__ = ["column", "rounded", "text"]
text = percent_text


def column(label: str | None = None, places: int = PLACES, **kwargs) -> st.column_config.NumberColumn:
    """A table column of fractions shown as percents with `places` decimals, every row
    alike (the step fixes the decimals; give it values from `rounded`)."""
    return st.column_config.NumberColumn(label, format="percent",
                                         step=10.0 ** -(places + 2), **kwargs)
