"""Inside the model's embedding map, when it is ready: shipped for the default models,
cached once computed, else computed in the background (a pass over the test set, about
50 s for a ResNet on the 2-core CPU) with its progress on the page. A visitor may leave
and come back: the pass goes on, and the map is kept."""
from __future__ import annotations

import streamlit as st

from core.evaluate.embedding import Embedding
from core.machine.background import Task
from core.networks.catalog import ModelEntry
from ui.common.loaders import embedding_if_ready, embedding_task
from ui.common.progress import follow

WAIT_SECONDS = 0.5  # before the bar: a small model's pass is over by then


def _mapping(task: Task) -> str:
    return (f"Mapping the test images: {task.done:,} of {task.total:,} (once per model, then "
            "kept; it goes on if you leave this page)")


def _retry(entry: ModelEntry) -> None:
    embedding_task(entry, start=True)


def ready_map(entry: ModelEntry) -> Embedding | None:
    """The map, or None while it is being computed (its bar is shown) or failed (the
    error and a Try again button are shown)."""
    emb = embedding_if_ready(entry)
    if emb is not None:
        return emb
    task = embedding_task(entry) or embedding_task(entry, start=True)
    if task.wait(WAIT_SECONDS):
        return task.result
    follow(task, _mapping, key="inside_map_progress")
    if task.error is not None:
        st.button("Try again", key="inside_map_retry", icon=":material/refresh:",
                  on_click=_retry, args=(entry,))
    return None
