"""Percentages as the app shows them: one rounding rule for text, tables and charts.

A table's percent column is formatted by the browser (Intl.NumberFormat: the shortest
decimal form of the number, rounded half up), a metric's text by Python (`:.2%`, which
rounds the binary number times 100, half to even); on a tie such as 11,883 of 12,000
validation images (99.025%) the two read 99.03% and 99.02%. So every percentage is
rounded here first, half up on its shortest decimal form, and both show that number;
and a table's column shows a fixed number of decimals ("100.00%", not "100%" beside
"98.77%").
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import streamlit as st

PLACES = 2  # decimals of a percent: 99.12%


def rounded(fraction: float | None, places: int = PLACES) -> float | None:
    """0.99025 -> 0.9903 (places=2): the fraction whose percent has `places` decimals;
    None and NaN stay None."""
    if fraction is None or not math.isfinite(fraction):
        return None
    step = Decimal(1).scaleb(-(places + 2))
    return float(Decimal(repr(float(fraction))).quantize(step, rounding=ROUND_HALF_UP))


def text(fraction: float | None, places: int = PLACES, missing: str = "—") -> str:
    """'99.03%' (the same number a percent column shows); `missing` for None or NaN."""
    value = rounded(fraction, places)
    return missing if value is None else f"{value:.{places}%}"


def column(label: str | None = None, places: int = PLACES, **kwargs) -> st.column_config.NumberColumn:
    """A table column of fractions shown as percents with `places` decimals, every row
    alike (the step fixes the decimals; give it values from `rounded`)."""
    return st.column_config.NumberColumn(label, format="percent",
                                         step=10.0 ** -(places + 2), **kwargs)
