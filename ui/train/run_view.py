"""The Train page's runs: which one is on show, its live view or results, its actions,
and the table of all runs. Reads the run system (core.runs.api) as this visitor."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.networks.catalog import run_stamp
from core.data import DATASETS
from core.runs.curves import training_curves
from core.train.health import likely_cause
from core.runs.snapshot import RunSnapshot
from core.runs.state import RunState
from ui.common import charts, state, timings
from ui.common.format import format_duration, percent_column, percent_text, rounded_percent
from ui.common.errors import guard, guarded, safe_callback
from ui.common.loaders import run_service
from ui.common.run_badges import BADGES, PRUNED
from ui.train.code import no_code_for_finetune, show_code
from ui.train.form import settle
from ui.train.run_rows import config_summary, run_progress, run_row

POLL_SECONDS = 1.0  # the live view's refresh period (the issue asks for >= once a second)


# Button callbacks may run twice for one click when the click lands while the live
# view's fragment reruns (Streamlit replays the trigger): each must be idempotent.

@safe_callback
def _stop(run_id: str) -> None:
    run_service().stop(run_id, state.viewer())
    # Training ends within a step and the run says Stopped; the test-set scoring of its
    # best checkpoint follows with its own line. Wait that long, not for the scoring.
    settle(run_id, lambda s: not s.state.active, 1.5)


@safe_callback
def _resume(run_id: str) -> None:
    if run_service().get(run_id, state.viewer(), metrics=False).resumable:  # not twice for one click
        run_service().resume(run_id, state.viewer())


@safe_callback
def _pin(run_id: str, pinned: bool) -> None:
    run_service().pin(run_id, state.viewer(), pinned)


@safe_callback
def _delete(run_id: str) -> None:
    run_service().delete(run_id, state.viewer())
    st.session_state.pop(state.TRAIN_FOCUS, None)


def choose_run(all_runs: list[RunSnapshot]) -> RunSnapshot:
    """The Run select box. A run named in the URL (?run=<id>) is put on show if this
    visitor may see it; the visitor's own run that started elsewhere (another tab,
    before a refresh) is put on show once; after that the person's choice stands."""
    ss, ids = st.session_state, [r.id for r in all_runs]
    linked = st.query_params.get("run")
    if linked and ss.get("_train_linked") != linked:
        ss["_train_linked"] = linked
        if linked in ids:
            ss[state.TRAIN_FOCUS] = linked
        else:
            st.warning(f"Run `{linked}` was not found.", icon=":material/search_off:")
    active = run_service().active_run(state.viewer())
    seen = ss.setdefault(state.TRAIN_SEEN, set())
    if active is not None and active.id not in seen:
        seen.add(active.id)
        ss[state.TRAIN_FOCUS] = active.id
    if ss.get(state.TRAIN_FOCUS) not in ids:
        ss[state.TRAIN_FOCUS] = active.id if active else ids[0]

    # No state or metrics in the labels: the select box is outside the live fragment,
    # so they would go stale; the fragment shows them instead. Made here, in the script
    # run: a format_func may be called later, outside it (AppTest does), where
    # owner_label() cannot read the session's viewer.
    labels = {run.id: f"{run_stamp(run.id)} · {run.config.dataset} · {run.config.model} · "
                      f"{run.config.epochs} epochs" + ("" if run.mine else f" · {owner_label(run)}")
              for run in all_runs}
    st.selectbox("Run", ids, key=state.TRAIN_FOCUS, format_func=labels.__getitem__)
    return next(r for r in all_runs if r.id == ss[state.TRAIN_FOCUS])


def owner_label(run: RunSnapshot) -> str:
    if run.owner == state.viewer().id:
        return "you"
    special = {"cli": "the command line"}  # core.runs.register.CLI_OWNER
    return special.get(run.owner) or f"visitor {run.owner.split(':')[-1][:6]}"


def _charts(snap: RunSnapshot, live: bool = False) -> None:
    # Live: few points, redrawn every second. Finished: drawn once, more detail.
    curves = training_curves(snap.steps, snap.epochs, max_points=200 if live else 800)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.loss_chart(curves, snap.total_steps, raw=not live),
                    config=charts.STATIC, key="train_loss_chart")
    c2.plotly_chart(charts.accuracy_chart(curves, snap.config.epochs),
                    config=charts.STATIC, key="train_acc_chart")


def show_results(snap: RunSnapshot) -> None:
    test, result = snap.test, snap.result
    names = list(DATASETS[snap.config.dataset].classes)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Test accuracy", percent_text(test.accuracy))
    m2.metric("Best validation accuracy", percent_text(result.val_accuracy or 0),
              help=f"Best epoch {result.best_epoch} (by validation loss)")
    m3.metric("Training time", format_duration(result.train_seconds))
    m4.metric("Samples/s", f"{result.samples_per_second or 0:,.0f}", help=snap.device)
    st.caption(f"Trained on {result.how}" + (f" ({result.step_note})" if result.step_note else ""))
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.per_class_bars(names, test.per_class_accuracy,
                                          title="Test accuracy per class"),
                    config=charts.STATIC, key="train_per_class")
    c2.plotly_chart(charts.confusion_heatmap(test.confusion_matrix, names, normalized=False,
                                             height=420, title="Confusion matrix (test)"),
                    config=charts.STATIC, key="train_confusion")


def _near_chance(snap: RunSnapshot) -> str | None:
    """A warning for a run whose best model barely learned, else None."""
    result = snap.result
    if result is None or not result.near_chance:
        return None
    cause = likely_cause(snap.config)
    return (f"Its best validation accuracy, {result.val_accuracy:.2%}, is near chance "
            f"({1 / len(DATASETS[snap.config.dataset].classes):.0%}): the model barely learned"
            + (f" ({cause})." if cause else "."))


def _actions(snap: RunSnapshot, in_use: str | None) -> None:
    best = snap.best_checkpoint
    if not snap.mine:
        st.caption(f":material/visibility: This run belongs to {owner_label(snap)}: you can "
                   "watch it, not change, download or use it.")
        return
    # A diverged or near-chance model is offered only behind the warning shown above.
    doubtful = snap.state == RunState.DIVERGED or _near_chance(snap) is not None
    with st.container(horizontal=True):
        if best is not None and snap.state.usable:
            chosen = in_use == f"run:{snap.id}"
            st.button("In use on every page" if chosen else
                      "Use anyway" if doubtful else "Use this model",
                      icon=":material/check_circle:", disabled=chosen,
                      type="secondary" if doubtful else "primary",
                      on_click=state.use_model, args=(snap.config.dataset, f"run:{snap.id}"),
                      key="train_use",
                      help="Makes this model the one every page uses, despite the warning "
                           "above" if doubtful else None)
            st.download_button("Download checkpoint", data=Path(best).read_bytes(),
                               file_name=f"{snap.id}.pt", mime="application/octet-stream",
                               icon=":material/download:", key="train_download",
                               on_click="ignore")
        if snap.resumable:
            st.button("Resume", icon=":material/play_arrow:", on_click=_resume,
                      args=(snap.id,), key="train_resume")
        if state.viewer().admin:
            st.button("Unpin" if snap.pinned else "Pin", icon=":material/keep:", on_click=_pin,
                      args=(snap.id, not snap.pinned), key="train_pin",
                      help="A pinned run is never removed by retention (admins only)")
        if snap.phase is None:
            st.button("Delete", icon=":material/delete:", on_click=_delete, args=(snap.id,),
                      key="train_delete", type="tertiary",
                      help="Removes the run, its checkpoints and its curves")


def _placement(snap: RunSnapshot) -> None:
    if snap.executor:
        st.caption(f":material/dns: Trains on **{snap.executor}** · node {snap.node or '…'} · "
                   f"{snap.device or '…'} · owner: {owner_label(snap)}")


def _live_view(run_id: str, shown_state: RunState) -> None:
    """Reruns alone once a second while the run is queued or training: progress and
    charts only, so the browser redraws little. Any change of state reruns the page."""
    snap = run_service().get(run_id, state.viewer(), max_points=200)
    if snap.state != shown_state:
        st.rerun(scope="app")  # started, stopped or finished: badge, buttons, results, models
    # Here, not above the fragment: the worker names its node and device after it starts.
    _placement(snap)
    if snap.state == RunState.QUEUED:
        st.info(f"Queued (position {snap.queue_position or 1}): starts when a worker is free.",
                icon=":material/schedule:")
        return
    prog = run_progress(snap)
    if snap.state == RunState.STOPPING:
        label = ("Stopping: training ends after the current step, then the best checkpoint "
                 "is saved and scored on the test set…")
    elif not snap.steps:
        label = f"Loading data and building the model on {snap.device or '…'}"
    else:
        label = prog.text
    st.progress(prog.fraction, text=label)
    if snap.steps:
        _charts(snap, live=True)


def _scoring_view(run_id: str) -> None:
    """After a Stop: the best checkpoint is being scored on the test set."""
    snap = run_service().get(run_id, state.viewer(), metrics=False)
    if snap.phase != "scoring":
        st.rerun(scope="app")
    st.progress(1.0, text="Scoring the best checkpoint on the test set…")


def _live(snap: RunSnapshot, side) -> None:
    if not snap.mine:
        side.caption("another visitor's run")
    elif snap.state == RunState.QUEUED:
        side.button("Cancel", icon=":material/close:", on_click=_stop, args=(snap.id,),
                    key="train_cancel")
    else:
        side.button("Stop", icon=":material/stop:", on_click=_stop, args=(snap.id,),
                    key="train_stop", disabled=snap.state == RunState.STOPPING,
                    help="Ends training within a second and keeps the best checkpoint so far")
    # The training thread never calls Streamlit: this fragment reads the job's
    # snapshot once a second, rerunning alone (not the page).
    st.fragment(timings.recorded("train live", guarded(_live_view)),
                run_every=POLL_SECONDS)(snap.id, snap.state)


def _outcome(snap: RunSnapshot) -> None:
    doubt = _near_chance(snap)
    if snap.state == RunState.FAILED:
        st.error(f"**Training failed.** {snap.error}", icon=":material/error:")
    elif snap.state == RunState.DIVERGED:
        st.error(f"**Diverged:** {snap.error}. Training ended early; the best checkpoint, "
                 "chosen on validation loss, may be from before the loss blew up. "
                 + (doubt or "Check its accuracy below before you use it."),
                 icon=":material/warning:")
        return
    elif snap.state == RunState.CANCELLED:
        st.warning(stopped_text(snap), icon=":material/pause_circle:")
    else:
        seconds = snap.result.train_seconds if snap.result else None
        finished = f"**Finished** in {format_duration(seconds)} on {snap.device}."
        if doubt is None:  # green only for a model that learned
            st.success(finished, icon=":material/task_alt:")
        else:
            st.warning(f"{finished} {doubt}", icon=":material/warning:")
        return
    if doubt is not None:
        st.warning(doubt, icon=":material/warning:")


def stopped_text(snap: RunSnapshot) -> str:
    """What a stopped run's outcome says: pruned by its sweep, or stopped (and why); what
    Resume does only to a visitor who has the button."""
    done = f"after {snap.epochs_done} of {snap.config.epochs} epochs"
    if snap.pruned:
        text = (f"**Pruned** by its sweep {done}: its validation accuracy was below the "
                "median of the sweep's finished trials at that epoch, so it was not worth "
                "training on.")
    else:
        text = f"**Stopped** {done}" + (f" ({snap.error})." if snap.error else ".")
    if snap.mine and snap.resumable:
        text += (" **Resume** trains it on from the last step; its best checkpoint so far is "
                 "usable now.")
    return text


def show_run(snap: RunSnapshot, in_use: str | None) -> None:
    """One run: its state and settings, then live progress, or its outcome and results.
    `in_use` is the selected model's key, to mark this run's model as the one in use."""
    head, side = st.columns([6, 1], vertical_alignment="center")
    with head.container(horizontal=True, vertical_alignment="center"):
        badge = PRUNED if snap.pruned and snap.state == RunState.CANCELLED else BADGES[snap.state]
        st.badge(badge.text, icon=badge.icon, color=badge.colour)
        st.caption(config_summary(snap.config))
    if snap.state.active:
        _live(snap, side)
        _code(snap)
        return
    _placement(snap)
    _outcome(snap)
    if snap.phase == "scoring":
        st.fragment(guarded(_scoring_view), run_every=POLL_SECONDS)(snap.id)
    if snap.steps or snap.epochs:
        _charts(snap)
    if snap.test and snap.result:
        show_results(snap)
    _actions(snap, in_use)
    _code(snap)


def _code(snap: RunSnapshot) -> None:
    """The run as a standalone PyTorch script (any run: its settings are on show anyway)."""
    if snap.finetune:
        no_code_for_finetune()
    else:
        show_code(snap.config, key="train_code")


def runs_section(in_use: str | None) -> None:
    """The run on show (its select box, then the run) and the table of all runs, or
    a word on how to start one. `in_use`: as for show_run."""
    all_runs = run_service().list_runs(state.viewer())
    if not all_runs:
        st.info("No runs yet. Pick the settings above and press **Start training**; the run "
                "keeps going in the background when you switch pages or close the tab.",
                icon=":material/info:")
        return
    shown = choose_run(all_runs)
    with guard():
        show_run(run_service().get(shown.id, state.viewer()), in_use=in_use)
    st.subheader("Runs")
    runs_table(all_runs)


def runs_table(all_runs: list[RunSnapshot]) -> None:
    """Every run, a row each; what a run has not got yet (a test accuracy while it trains)
    is an empty cell, and percents are rounded as the run's own metrics are."""
    rows = [(run_row(r), r) for r in all_runs]
    st.dataframe(
        [{"Run": r.id, "Owner": owner_label(run), "State": r.state, "Dataset": r.dataset, "Model": r.model,
          "Epochs": r.epochs, "Test accuracy": rounded_percent(r.test_accuracy),
          "Best val accuracy": rounded_percent(r.val_accuracy), "Train time (s)": r.train_seconds,
          "Samples/s": r.samples_per_second, "Device": r.device} for r, run in rows],
        hide_index=True, key="train_runs_table", placeholder="—",
        column_config={
            "Test accuracy": percent_column(),
            "Best val accuracy": percent_column(),
            "Train time (s)": st.column_config.NumberColumn(format="%.1f"),
            "Samples/s": st.column_config.NumberColumn(format="%.0f"),
        })
