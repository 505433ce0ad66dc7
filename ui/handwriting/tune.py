"""Fine-tune the sidebar's model on the visitor's handwriting: start it, follow it, and the
honest measure after (held-out drawings and the test set, before and after)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.networks.catalog import ModelEntry
from core.data.handwriting import HandwritingSet
from core.runs.finetune import finetune_runs, submit_finetune
from core.runs.api import LimitReached
from core.runs.snapshot import RunSnapshot
from core.runs.state import RunState
from core.train.finetune import FinetuneError, FinetuneOptions, Measure, read_measure
from ui.common import state
from ui.common.errors import guarded
from ui.common.loaders import run_service
from ui.common.run_badges import BADGES

FOLLOWED = "hw_tune_run"  # session: the fine-tune run this page shows
HOLDOUTS = {0.5: "half of each digit's drawings", 0.25: "a quarter", 0.0: "none (no measure)"}
POLL_SECONDS = 1.0


def start(model: ModelEntry, hw: HandwritingSet) -> None:
    """The settings and the button; a refusal (too few drawings, wrong model, a limit) says why."""
    defaults = FinetuneOptions()
    holdout = st.segmented_control(
        "Held out to test on", list(HOLDOUTS), default=defaults.holdout, key="hw_holdout",
        format_func=HOLDOUTS.get,
        help="Drawings kept out of the fine-tune, to measure it honestly on drawings it "
             "was not taught with")
    if holdout is None:
        holdout = defaults.holdout
    st.caption(f"Trains {model.label} for one pass over your drawings (each {defaults.repeats} "
               f"times) mixed with {defaults.replay:,} MNIST training images, so that it does "
               "not forget; a normal run, listed on Train.")
    if st.button(f"Fine-tune {model.architecture} on your handwriting", type="primary",
                 icon=":material/model_training:", key="hw_tune"):
        try:
            snap = submit_finetune(run_service(), state.viewer(), hw.arrays(), model.path,
                                   model.label, options=FinetuneOptions(holdout=holdout))
        except (FinetuneError, LimitReached) as err:
            hint = (f" Or choose **{HOLDOUTS[0.0]}** under *Held out to test on*."
                    if getattr(err, "without_holdout", False) else "")
            st.error(f"{err}{hint}", icon=":material/block:")
            return
        st.session_state[FOLLOWED] = snap.id


def followed() -> RunSnapshot | None:
    """The run this page shows: the one started here, else the visitor's newest fine-tune."""
    service, me = run_service(), state.viewer()
    run_id = st.session_state.get(FOLLOWED)
    if run_id:
        try:
            return service.get(run_id, me, metrics=False)
        except KeyError:  # deleted on Train meanwhile
            st.session_state.pop(FOLLOWED, None)
    runs = finetune_runs(service, me)
    return runs[0] if runs else None


@dataclass(frozen=True)
class Status:
    """What the followed fine-tune is doing now, as the page's header and bar say it."""
    badge: str  # the header's word: Queued, Loading, Training, Scoring, Stopping
    colour: str
    text: str  # the progress bar's
    fraction: float


def status(snap: RunSnapshot) -> Status:
    """The live state of an active fine-tune (or one scoring after a Stop). Its step count
    is known from its first recorded step on: before that it is loading."""
    if snap.state == RunState.QUEUED:
        return Status("Queued", "gray", f"Queued (position {snap.queue_position or 1}): starts "
                      "when a worker is free", 0.0)
    if snap.phase == "scoring":
        return Status("Scoring", "blue", "Scoring: the base and the fine-tuned model on your "
                      "held-out drawings and on the 10,000 test images…", 1.0)
    if snap.state == RunState.STOPPING:
        return Status("Stopping", "orange", "Stopping after the current step…",
                      min(1.0, snap.fraction_done))
    if snap.total_steps <= 0 or snap.step <= 0:
        return Status("Loading", "blue", f"Loading the data and {snap.config.model} on "
                      f"{snap.device or '…'}", 0.0)
    return Status("Training", "blue", f"Training · step {snap.step:,} of "
                  f"{snap.total_steps:,}", min(1.0, snap.fraction_done))


def _header(snap: RunSnapshot, badge: str, colour: str) -> None:
    st.markdown(f"**Fine-tune run** [{snap.id}](/train?run={snap.id}) · :{colour}[{badge}]")


def _live(run_id: str) -> None:
    """Reruns alone while the run is queued, trains or scores: the header and the bar
    together, so the header never says Queued while the bar moves."""
    snap = run_service().get(run_id, state.viewer(), metrics=False)
    if not snap.state.active and snap.phase is None:
        st.rerun(scope="app")  # over and scored: the measure
    now = status(snap)
    _header(snap, now.badge, now.colour)
    st.progress(now.fraction, text=now.text)
    if snap.state.active and st.button("Stop", icon=":material/stop:", key="hw_tune_stop"):
        run_service().stop(run_id, state.viewer())


def measure_table(m: Measure) -> pd.DataFrame:
    rows = []
    if m.held_out_count:
        rows.append({"": f"Your held-out drawings ({m.held_out_count})",
                     "before": m.held_out_before, "after": m.held_out_after})
    rows.append({"": "MNIST test set (10,000)", "before": m.test_before, "after": m.test_after})
    df = pd.DataFrame(rows).set_index("")
    df["change (points)"] = 100 * (df["after"] - df["before"])
    return df


def show(snap: RunSnapshot) -> None:
    """The followed run: live while it trains, then its measure and a button to use it."""
    if snap.state.active or snap.phase is not None:
        st.fragment(guarded(_live), run_every=POLL_SECONDS)(snap.id)
        return
    _header(snap, BADGES[snap.state].text, BADGES[snap.state].colour)
    if snap.error:
        st.error(snap.error, icon=":material/error:")
    m = read_measure(snap.run_dir)
    if m is None:
        if snap.state.usable and not snap.error:
            st.info("This run has no measure (it stopped before it was scored).")
        return
    st.table(measure_table(m).style.format(  # two rows: a plain table, text in the page
        {"before": "{:.1%}", "after": "{:.1%}", "change (points)": "{:+.2f}"}))
    if m.held_out_count:
        st.caption(f"Trained on {m.train_count} of your drawings; measured on the other "
                   f"{m.held_out_count}, which it was not taught with. Base: {m.base}.")
    else:
        st.caption(f"Trained on all {m.train_count} of your drawings: nothing held out, so only "
                   "the test set is measured.")
    key = f"run:{snap.id}"
    if snap.best_checkpoint is not None:
        in_use = st.session_state.get(state.MODEL) == key
        st.button("In use on every page" if in_use else "Use this model on every page",
                  icon=":material/check_circle:", key="hw_use", disabled=in_use,
                  on_click=state.use_model, args=(snap.config.dataset, key))
