"""A background task's progress on the page (core/machine/background.py runs it): a bar
with the count of items done, redrawn once a second by a fragment, which reruns the
page when the task is over so that its result is drawn."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from core.machine.background import Task
from ui.common.errors import guarded, show_error

POLL_SECONDS = 1.0


def _bar(task: Task, describe: Callable[[Task], str]) -> None:
    if not task.running:
        st.rerun(scope="app")  # done (or failed): the page draws the result (or the error)
    st.progress(task.fraction, text=describe(task))


def follow(task: Task, describe: Callable[[Task], str], key: str) -> None:
    """The task's bar while it runs, its error once it failed; nothing once it succeeded.
    `describe(task)` is the bar's text, e.g. "Attacking: 300 of 1,000 test images"."""
    if task.error is not None:
        show_error(task.error)
        return
    if task.running:
        with st.container(key=key):
            st.fragment(guarded(_bar), run_every=POLL_SECONDS)(task, describe)
