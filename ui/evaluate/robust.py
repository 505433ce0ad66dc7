"""Evaluate's "Accuracy under attack": clean and PGD accuracy for the sidebar's model.

The attack costs 20 forward and backward passes per image, so it runs on the fixed
subset of core.evaluate.robust (the first 1,000 test images), once per model and budget:
shipped for the default models, else on request in the background, with its progress on
the page. A visitor may leave and come back: the attack goes on, and its result is kept
in the cache folder.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from core.evaluate.robust import BUDGETS, DEFAULT_SAMPLES, DEFAULT_STEPS
from core.machine.background import Task
from core.networks.catalog import ModelEntry
from ui.common.loaders import robust_if_known, robust_task
from ui.common.progress import follow


WAIT_SECONDS = 0.5  # before the bar: a small model's attack is over by then


def _start(entry: ModelEntry, eps: float) -> None:
    robust_task(entry, eps, start=True)


def _attacking(eps: float) -> Callable[[Task], str]:
    return lambda task: (f"Attacking at ε={eps:g}: {task.done:,} of {task.total:,} test images "
                         "(it goes on if you leave this page)")


def robustness(entry: ModelEntry, test_accuracy: float) -> None:
    """The section: a budget, then the numbers (or a button that computes them, or the
    attack's progress)."""
    st.subheader("Accuracy under attack", help=(
        f"PGD, {DEFAULT_STEPS} steps under an L∞ budget ε in pixel units (0-1), on the first "
        f"{DEFAULT_SAMPLES:,} test images (the same for every model); an image counts as "
        "wrong if any step fooled the model. Computed once per model and budget."))
    c1, c2, c3, c4 = st.columns([1.3, 1, 1, 1], vertical_alignment="bottom")
    eps = c1.select_slider("Budget ε", list(BUDGETS), value=0.1, key="eval_eps",
                           persist_state="session")
    result, task = robust_if_known(entry, eps), robust_task(entry, eps)
    if result is None and task is not None and task.wait(WAIT_SECONDS):
        result = task.result
    if result is None and (task is None or task.error is not None):
        c1.button("Compute accuracy under attack", key="eval_robust",
                  icon=":material/bug_report:", on_click=_start, args=(entry, eps))
    c2.metric("Clean, all test images", f"{test_accuracy:.2%}")
    if result is None:
        if task is not None:
            follow(task, _attacking(eps), key="eval_robust_progress")
        else:
            st.caption(f"Not computed yet for ε={eps:g}: a minute or more on the 2-core CPU "
                       "(a resnet: 66 s at ε=0.1 on a quiet machine), then kept. It runs in "
                       "the background: you may leave this page meanwhile.")
        return
    c3.metric(f"Clean, first {result.samples:,}", f"{result.clean_accuracy:.2%}")
    c4.metric(f"Under attack, ε={result.eps:g}", f"{result.robust_accuracy:.2%}",
              f"{(result.robust_accuracy - result.clean_accuracy) * 100:+.1f} pt",
              delta_color="off")
    spent = f" · computed in {result.seconds:.0f} s" if result.seconds else ""
    st.caption(f"PGD {result.steps} steps on the first {result.samples:,} test images"
               f"{spent}. A robustly trained model: `python -m core.train --adversarial fgsm "
               f"--adv-eps 0.3` (docs/robustness.md).")
