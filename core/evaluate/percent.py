"""Percentages as people read them: one rounding rule wherever a score is shown.

A table's percent column is formatted by the browser (Intl.NumberFormat: the number's
shortest decimal form, rounded half up), a text by Python (`:.2%` rounds the binary
number times 100, half to even); on a tie such as 11,883 of 12,000 validation images
(99.025%) the two read 99.03% and 99.02%. So a percentage shown anywhere is rounded
here first, half up on its shortest decimal form, and text and tables show that number.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

PLACES = 2  # decimals of a percent: 99.12%


def rounded_percent(fraction: float | None, places: int = PLACES) -> float | None:
    """0.99025 -> 0.9903 (places=2): the fraction whose percent has `places` decimals;
    None and NaN give None."""
    if fraction is None or not math.isfinite(fraction):
        return None
    step = Decimal(1).scaleb(-(places + 2))
    return float(Decimal(repr(float(fraction))).quantize(step, rounding=ROUND_HALF_UP))


def percent_text(fraction: float | None, places: int = PLACES, missing: str = "—") -> str:
    """'99.03%' (the number a percent column shows for `rounded_percent(fraction)`); `missing`
    for None or NaN."""
    value = rounded_percent(fraction, places)
    return missing if value is None else f"{value:.{places}%}"
