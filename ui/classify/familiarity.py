"""The "I don't know" flag above a prediction (core.predict.ood does the deciding)."""
from __future__ import annotations

import streamlit as st
import torch

from core.networks.catalog import ModelEntry
from core.data import DATASETS
from core.predict.ood import SCORE_NAMES, Calibration, Familiarity, calibration_for, judge, ood_path


def _stamp(path) -> tuple[str, int]:
    try:
        return str(path), path.stat().st_mtime_ns
    except OSError:
        return str(path), 0


@st.cache_data(show_spinner=False, max_entries=64)
def _calibration(path: str, mtime_ns: int, ood_file: str, ood_mtime_ns: int) -> Calibration | None:
    # Keyed by both files' mtimes: calibration_for hashes the checkpoint, not on every rerun.
    return calibration_for(path, folder=ood_path().parent)


def calibration(entry: ModelEntry) -> Calibration | None:
    """The model's recorded score and threshold; None for a model nobody calibrated."""
    return _calibration(*_stamp(entry.path), *_stamp(ood_path()))


def show_flag(entry: ModelEntry, logits: torch.Tensor) -> Familiarity | None:
    """Warn when the input (its (1, 10) logits from the model: the energy score needs
    logits, not probabilities) is past the model's threshold; the prediction is shown
    anyway."""
    cal = calibration(entry)
    if cal is None:
        return None
    verdict = judge(logits, cal)
    if not verdict.familiar:
        noun = DATASETS[entry.dataset].noun
        st.warning(f"This does not look like a {noun} the model knows: the answer below is a "
                   "guess.", icon=":material/help:")
        st.caption(f"Unfamiliarity {verdict.value:.3f} is past this model's threshold "
                   f"{verdict.threshold:.3f} ({SCORE_NAMES[cal.score]}; set to flag "
                   f"{cal.target_false_alarm:.0%} of real validation images).")
    return verdict
