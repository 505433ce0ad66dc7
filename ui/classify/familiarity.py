"""The "I don't know" flag above a prediction (core.predict.ood does the deciding), and
why: how unusual the input is next to the real images the model was checked on."""
from __future__ import annotations

import streamlit as st
import torch

from core.data import DATASETS
from core.evaluate.percent import percent_text
from core.networks.catalog import SHIPPED, ModelEntry
from core.networks.checkpoints import CheckpointMeta
from core.predict.ood import (SCORE_NAMES, Calibration, Familiarity, calibration_for, judge,
                              ood_path, own_calibration, share_more_familiar)


def _stamp(path) -> tuple[str, int]:
    try:
        return str(path), path.stat().st_mtime_ns
    except OSError:
        return str(path), 0


@st.cache_data(show_spinner=False, max_entries=64)
def _calibration(path: str, mtime_ns: int, ood_file: str, ood_mtime_ns: int) -> Calibration | None:
    # Keyed by both files' mtimes: calibration_for hashes the checkpoint, not on every rerun.
    return calibration_for(path, folder=ood_path().parent)


def calibration(entry: ModelEntry, meta: CheckpointMeta | None = None) -> Calibration | None:
    """The model's score and threshold: the shipped record, else the one its run set when
    it ended (in the checkpoint's metadata); None for a model that has none."""
    found = _calibration(*_stamp(entry.path), *_stamp(ood_path()))
    if found is None and meta is not None and entry.source != SHIPPED:
        found = own_calibration(meta.metrics)
    return found


def _percent(share: float) -> str:
    """99.83% as "99.8%", never rounded up to a "100%" that would mean every one."""
    if share >= 1.0:
        return "100%"
    return percent_text(min(share, 0.999), 1) if share >= 0.99 else percent_text(share, 0)


def why_flagged(verdict: Familiarity, cal: Calibration, noun: str) -> str:
    """The flag's reason in words: where the input falls among the validation images."""
    share = share_more_familiar(verdict.value, cal)
    limit = share_more_familiar(cal.threshold, cal)
    if share is None or limit is None:
        return (f"To this model, the input is less familiar than it lets pass: about 1 real "
                f"{noun} in {round(1 / cal.target_false_alarm)} is as unusual.")
    than = (f"every one of the real {noun}s" if share >= 1.0
            else f"{_percent(share)} of the real {noun}s")
    return (f"**Why:** to this model, this input is more unusual than {than} it was checked "
            f"on (validation images it never trained on). It says “I don't know” for "
            f"anything more unusual than {_percent(limit)} of them, so about 1 real {noun} "
            f"in {round(1 / max(1 - limit, 1e-9))} is flagged too: a hint to look again, not "
            "a verdict.")


def technical(verdict: Familiarity, cal: Calibration) -> str:
    return (f"Unfamiliarity score {verdict.value:.3f}, threshold {verdict.threshold:.3f} "
            f"({SCORE_NAMES[cal.score]}, chosen on validation images).")


def not_available(entry: ModelEntry) -> str:
    """Why a model never says "I don't know"."""
    if entry.source == SHIPPED:
        why = ("its file changed since its threshold was chosen "
               "(`python -m scripts.ood_thresholds` chooses it again)")
    else:
        why = ("it has no threshold: runs set one when they end, and this model was trained "
               "before they did, or uploaded without one. Train it again to get one")
    return (f"“I don't know” is not available for this model: {why}. Its answer is shown "
            "however unlike a training image the input is.")


def show_flag(entry: ModelEntry, logits: torch.Tensor,
              meta: CheckpointMeta | None = None) -> Familiarity | None:
    """Warn when the input (its (1, 10) logits from the model: the energy score needs
    logits, not probabilities) is past the model's threshold, and say why; the
    prediction is shown anyway. A model without a threshold says so."""
    cal = calibration(entry, meta)
    if cal is None:
        st.caption(not_available(entry), help="The check compares how unusual an input is "
                   "with the validation images; a model needs a threshold for that.")
        return None
    verdict = judge(logits, cal)
    if not verdict.familiar:
        noun = DATASETS[entry.dataset].noun
        st.warning(f"This does not look like a {noun} the model knows: the answer below is a "
                   "guess.", icon=":material/help:")
        st.caption(why_flagged(verdict, cal, noun), help=technical(verdict, cal))
    return verdict
