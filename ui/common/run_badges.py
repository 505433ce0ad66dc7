"""A run's state as a badge: its word, icon and colour on the pages."""
from __future__ import annotations

from typing import NamedTuple

from core.runs.state import RunState


class Badge(NamedTuple):
    text: str
    icon: str  # a Streamlit material icon name
    colour: str


BADGES = {
    RunState.QUEUED: Badge("Queued", ":material/schedule:", "gray"),
    RunState.RUNNING: Badge("Training", ":material/autorenew:", "blue"),
    RunState.STOPPING: Badge("Stopping", ":material/pause_circle:", "orange"),
    RunState.FINISHED: Badge("Finished", ":material/task_alt:", "green"),
    RunState.CANCELLED: Badge("Stopped", ":material/stop_circle:", "orange"),
    RunState.FAILED: Badge("Failed", ":material/error:", "red"),
    RunState.DIVERGED: Badge("Diverged", ":material/warning:", "red"),
}
# A stopped sweep trial that its sweep's pruner stopped (RunSnapshot.pruned).
PRUNED = Badge("Pruned", ":material/content_cut:", "orange")
