"""Numbers as the pages write them: durations, and percents by core's one rounding rule
(core.evaluate.percent) in text and in table columns that show a fixed number of
decimals ("100.00%", not "100%" beside "98.77%")."""
from __future__ import annotations

import math

import streamlit as st

from core.evaluate.percent import PLACES, percent_text, rounded_percent

__all__ = ["format_duration", "percent_column", "percent_text", "rounded_percent"]


def format_duration(seconds: float | None) -> str:
    """'1:02:03', '4:05', '0:07'; an em dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent_column(label: str | None = None, places: int = PLACES,
                   **kwargs) -> st.column_config.NumberColumn:
    """A table column of fractions shown as percents with `places` decimals on every row
    (the step fixes the decimals; give it values from `rounded_percent`)."""
    return st.column_config.NumberColumn(label, format="percent",
                                         step=10.0 ** -(places + 2), **kwargs)
