"""Classify's "Fool it" panel: a small change to the input that changes the model's answer.

PGD (or FGSM, its one step) under an L-inf budget the visitor sets, to any other class
or to a class they pick (core/predict/attacks.py), on the 28x28 image the model saw. Shows the
original, the change (amplified, with its scale), the perturbed image, the new top k,
the change's size, and whether the dataset's other models are fooled by the same image.

The expander is lazy: the attack runs only while it is open (about 0.1-0.2 s for the
default model on the CPU, bench/attack_speed.py), so strokes cost nothing extra when
it is closed.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.data import DATASETS
from core.predict.attacks import (DEFAULT_EPS, DEFAULT_STEPS, MAX_EPS, AttackResult, attack,
                                   transfer)
from core.networks.checkpoints import Checkpoint
from core.predict.preprocess import Preprocessed
from ui.common import charts, state
from ui.common.errors import show_error
from ui.common.loaders import load_model

OPEN = "fool_open"  # the expander's state: the attack runs only while it is open
METHODS = {"pgd": "PGD", "fgsm": "FGSM"}
ANY = "any other class"
EPS_STEP = 0.01


def panel(sel: state.Selection, ckpt: Checkpoint, pre: Preprocessed) -> None:
    """The expander under the prediction; the attack and its results when it is open."""
    box = st.expander("Fool it: a change too small to see that flips the answer",
                      icon=":material/bug_report:", key=OPEN, on_change="rerun")
    if not box.open:
        return
    with box:
        names = list(ckpt.meta.class_names)
        c1, c2, c3 = st.columns([1.2, 1, 1.1], vertical_alignment="bottom")
        # From one step up: at 0 nothing may change, so the slider does not offer it.
        eps = c1.slider("Budget ε (L∞)", EPS_STEP, MAX_EPS, DEFAULT_EPS, step=EPS_STEP,
                        key="fool_eps", persist_state="session",
                        help="No pixel may change by more than ε, in pixel units from black "
                             "(0) to white (1): 0.1 is a tenth of the way")
        method = c2.segmented_control("Method", list(METHODS), format_func=METHODS.get,
                                      default="pgd", key="fool_method", persist_state="session",
                                      help=f"PGD: up to {DEFAULT_STEPS} small steps, stopping "
                                           "once fooled; FGSM: one step of ε") or "pgd"
        target = c3.selectbox("Aim at", [ANY] + list(range(len(names))), key="fool_target",
                              format_func=lambda t: t if t == ANY else f"class {names[t]}",
                              persist_state="session",
                              help="Any class but the model's answer, or one you pick")
        try:
            result = attack(ckpt.model, pre.image, ckpt.meta.mean, ckpt.meta.std, names,
                            eps, method, target=None if target == ANY else int(target))
        except ValueError as err:
            st.warning(str(err)[0].upper() + str(err)[1:] + ".", icon=":material/block:")
            return
        _show(result, names)
        if result.success:  # an image that fools nobody has nothing to transfer
            _transfer(sel, result, names)


def _show(result: AttackResult, names: list[str]) -> None:
    message = result.message[0].upper() + result.message[1:] + "."
    (st.success if result.success else st.warning)(
        message, icon=":material/bug_report:" if result.success else ":material/shield:")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Now it says", result.top[0][1], f"was {result.original_label}",
              delta_color="off", delta_arrow="off")
    m2.metric("Confidence", f"{result.top[0][2]:.1%}")
    m3.metric("L∞ size", f"{result.linf:.3f}", help="The largest change of any pixel (0-1)")
    m4.metric("L2 size", f"{result.l2:.2f}", help="The change's Euclidean length over all "
                                                  "784 pixels (0-1 units)")
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(charts.image_figure(_uint8(result.original), 200, "Original"),
                    config=charts.STATIC, key="fool_original")
    scale = 0.5 / max(result.linf, 1e-6)  # the largest change reaches black or white
    change = _uint8(0.5 + scale * result.perturbation)
    c2.plotly_chart(charts.image_figure(change, 200, f"Change ×{scale:.1f}"),
                    config=charts.STATIC, key="fool_change")
    c3.plotly_chart(charts.image_figure(_uint8(result.perturbed), 200, "Perturbed"),
                    config=charts.STATIC, key="fool_perturbed")
    st.caption(f"The change amplified ×{scale:.1f}: grey is no change, white and black the "
               f"largest (±{result.linf:.3f} in pixel units).")
    st.plotly_chart(charts.top_k_bars(result.top, title="Top 5 for the perturbed image"),
                    config=charts.STATIC, key="fool_topk")
    st.caption(f"{result.steps_used} of {result.steps} step{'s' * (result.steps != 1)} · "
               f"{result.seconds * 1000:.0f} ms on the CPU")


def _transfer(sel: state.Selection, result: AttackResult, names: list[str]) -> None:
    """The same perturbed image through every model of the dataset."""
    models = []
    for entry in sel.models:
        try:
            other = load_model(entry)
        except Exception as err:  # one broken file should not hide the others
            show_error(err)
            continue
        models.append((entry.label, other.model, other.meta.mean, other.meta.std))
    rows = transfer(result, models)
    fooled = sum(r.fooled for r in rows)
    st.markdown(f"**Transfer:** the same perturbed image fools {fooled} of {len(rows)} "
                f"{DATASETS[sel.dataset].title} model{'s' * (len(rows) != 1)}")
    st.dataframe([{"model": r.model, "fooled": r.fooled, "original": names[r.original],
                   "perturbed": names[r.perturbed], "confidence": r.confidence} for r in rows],
                 hide_index=True, key="fool_transfer",
                 column_config={"confidence": st.column_config.NumberColumn(format="percent")})


def _uint8(pixels: np.ndarray) -> np.ndarray:
    return np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
