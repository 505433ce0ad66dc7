"""The visitor's handwriting set (core/data/handwriting.py), for the pages that use it:
Classify (adding to it) and Your handwriting (showing, deleting, fine-tuning)."""
from __future__ import annotations

from core.data.handwriting import HandwritingSet
from ui.common import state
from ui.common.loaders import run_service

DATASET = "mnist"  # the set holds digits: handwriting


def my_set() -> HandwritingSet:
    """This visitor's set, in the runs folder, capped by the server's settings."""
    service = run_service()
    return HandwritingSet(service.runs_dir, state.viewer().id, service.settings.handwriting_items)
