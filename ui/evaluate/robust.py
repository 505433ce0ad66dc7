"""Evaluate's "Accuracy under attack": clean and PGD accuracy for the sidebar's model.

The attack costs 20 forward and backward passes per image, so it runs on the fixed
subset of core.evaluate.robust (the first 1,000 test images), on request, once per
model and budget: the result is kept in the cache folder and shown at once afterwards.
"""
from __future__ import annotations

import streamlit as st

from core.networks.catalog import ModelEntry
from core.evaluate.robust import DEFAULT_SAMPLES, DEFAULT_STEPS
from ui.common.loaders import robust, robust_if_known

BUDGETS = [0.05, 0.1, 0.2, 0.3]


def robustness(entry: ModelEntry, test_accuracy: float) -> None:
    """The section: a budget, then the numbers (or a button that computes them)."""
    st.subheader("Accuracy under attack", help=(
        f"PGD, {DEFAULT_STEPS} steps under an L∞ budget ε in pixel units (0-1), on the first "
        f"{DEFAULT_SAMPLES:,} test images (the same for every model); an image counts as "
        "wrong if any step fooled the model. Computed once per model and budget."))
    c1, c2, c3, c4 = st.columns([1.3, 1, 1, 1], vertical_alignment="bottom")
    eps = c1.select_slider("Budget ε", BUDGETS, value=0.1, key="eval_eps",
                           persist_state="session")
    result, slot = robust_if_known(entry, eps), c1.empty()
    if result is None and slot.button("Compute accuracy under attack", key="eval_robust",
                                      icon=":material/bug_report:"):
        with st.spinner(f"Attacking {DEFAULT_SAMPLES:,} test images at ε={eps:g} (once)…"):
            result = robust(entry, eps)
        slot.empty()  # done: the button goes, as it does on every later visit
    c2.metric("Clean, all test images", f"{test_accuracy:.2%}")
    if result is None:
        st.caption(f"Not computed yet for ε={eps:g}: up to a minute or two on the 2-core CPU "
                   "(the default resnet: 66 s at ε=0.1), then kept.")
        return
    c3.metric(f"Clean, first {result.samples:,}", f"{result.clean_accuracy:.2%}")
    c4.metric(f"Under attack, ε={result.eps:g}", f"{result.robust_accuracy:.2%}",
              f"{(result.robust_accuracy - result.clean_accuracy) * 100:+.1f} pt",
              delta_color="off")
    spent = f" · computed in {result.seconds:.0f} s" if result.seconds else ""
    st.caption(f"PGD {result.steps} steps on the first {result.samples:,} test images"
               f"{spent}. A robustly trained model: `python -m core.train --adversarial fgsm "
               f"--adv-eps 0.3` (docs/robustness.md).")
