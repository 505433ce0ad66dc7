"""Numbers as the pages write them."""
from __future__ import annotations

import math


def format_duration(seconds: float | None) -> str:
    """'1:02:03', '4:05', '0:07'; an em dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
