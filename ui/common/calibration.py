"""Evaluate's "Confidence" section: is the model's confidence what it says?"""
from __future__ import annotations

import streamlit as st

from core.networks.calibration import Reliability
from core.networks.catalog import ModelEntry
from core.evaluate.metrics import EvalResult
from ui.common import charts
from ui.common.loaders import load_model


def reading(rel: Reliability, min_images: int = charts.RELIABILITY_MIN_IMAGES) -> str:
    """How to read the diagram beside its ECE: what a bar is, where most images are, and
    why a few bins far off the line hardly move the ECE."""
    total = sum(rel.counts)
    top = max(range(len(rel.counts)), key=rel.counts.__getitem__)
    low, high = rel.edges[top], rel.edges[top + 1]
    few = sum(1 for n in rel.counts if 0 < n < min_images)
    text = (f"Each bar is the test images whose confidence fell in its bin, the number on it "
            f"how many; its height, the share of them the model got right. On the dashed line "
            f"confidence and accuracy agree; below it the model is over-confident, above it "
            f"under-confident. {rel.counts[top]:,} of the {total:,} images "
            f"({rel.counts[top] / total:.0%}) are in the {low:.0%}-{high:.0%} bin, and the "
            f"ECE weighs each bin by its images")
    if few:
        text += (f": the {few} grey bin{'s' if few != 1 else ''}, under {min_images} images "
                 f"each, can sit far from the line and move it little")
    return text + "."


def section(entry: ModelEntry, res: EvalResult) -> None:
    """The reliability diagram of the test set, its ECE, and the model's temperature."""
    rel = res.reliability
    if rel is None:
        return
    st.subheader("Confidence")
    meta = load_model(entry).meta
    fit = meta.metrics.get("calibration") if isinstance(meta.metrics, dict) else None
    left, right = st.columns([1, 1.15], gap="large")
    with left:
        st.metric("Expected calibration error (test)", f"{rel.ece:.2%}",
                  help="The gap between confidence and accuracy in 15 confidence bins, "
                       "weighted by their share of the test images: 0% is perfectly calibrated.")
        if meta.temperature != 1.0 and isinstance(fit, dict):
            st.markdown(
                f"Calibrated: its logits are divided by a temperature of **{meta.temperature:.3f}**, "
                f"fitted on the {fit.get('val_samples', 0):,} validation images, which took their "
                f"calibration error from {fit['val_ece_before']:.2%} to {fit['val_ece_after']:.2%}. "
                "The predicted classes do not change; the confidence shown everywhere does.")
        elif meta.temperature != 1.0:
            st.markdown(f"Calibrated with a temperature of **{meta.temperature:.3f}**.")
        else:
            st.markdown("Not calibrated (temperature 1): the probabilities are the network's "
                        "softmax as trained.")
        st.caption(reading(rel))
    with right:
        st.plotly_chart(charts.reliability_diagram(rel, title="Reliability: accuracy per "
                                                             "confidence bin (test set)"),
                        config=charts.STATIC, key="eval_reliability")
