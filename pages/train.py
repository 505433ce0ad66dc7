"""Train: configure a run, watch it live, stop or resume it, use the result."""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import streamlit as st

from core.catalog import architecture_infos, run_stamp
from core.train.curves import format_duration, training_curves
from core.data import DATASETS
from core.device import available_devices
from core.train.jobs import ACTIVE_STATES, JobSnapshot
from core.train.runs import config_summary, run_progress, run_row
from core.train.config import OPTIMIZERS, SCHEDULES, TrainConfig
from ui import charts, state
from ui.errors import guard, guarded, safe_callback, show_error
from ui.loaders import manager

SESSION = "session"  # widget values survive page switches
BATCH_SIZES = [32, 64, 128, 256, 512, 1024]
DEVICE_NAMES = {"auto": "auto (GPU when available)", "cpu": "CPU", "cuda": "CUDA GPU",
                "mps": "Apple GPU (MPS)"}
STATE_BADGES = {  # state: (text, icon, colour)
    "queued": ("Queued", ":material/schedule:", "gray"),
    "running": ("Training", ":material/autorenew:", "blue"),
    "stopping": ("Stopping", ":material/pause_circle:", "orange"),
    "finished": ("Finished", ":material/task_alt:", "green"),
    "cancelled": ("Stopped", ":material/stop_circle:", "orange"),
    "failed": ("Failed", ":material/error:", "red"),
}
POLL_SECONDS = 1.0  # the live view's refresh period (the issue asks for >= once a second)

sel = state.selection()
mgr = manager()
ss = st.session_state
st.title(":material/model_training: Train")


# ------------------------------------------------------------------ the form

def _wait_for(run_id: str, done, timeout: float) -> None:
    """Poll the job briefly inside a callback, so the rerun that follows shows the new
    state instead of waiting for the live view's next tick."""
    deadline = time.time() + timeout
    while time.time() < deadline and not done(mgr.snapshot(run_id)):
        time.sleep(0.02)


@safe_callback
def _stop(run_id: str) -> None:
    mgr.stop(run_id)
    # Training ends within a step; the best checkpoint is then saved and scored on the
    # test set. Wait a little for that, so the page can say "Stopped" right away.
    _wait_for(run_id, lambda s: s.state not in ACTIVE_STATES, 1.5)


# Button callbacks may run twice for one click when the click lands while the live
# view's fragment reruns (Streamlit replays the trigger): each must be idempotent.

@safe_callback
def _resume(run_id: str) -> None:
    if mgr.snapshot(run_id).resumable:  # not again if the first call queued it
        mgr.resume(run_id)


@safe_callback
def _start() -> None:
    """Start button callback: queue the run; it starts at once unless one is training."""
    try:
        cfg = TrainConfig(
            dataset=ss["train_dataset"], model=ss["train_model"], epochs=int(ss["train_epochs"]),
            batch_size=int(ss["train_batch"]), lr=float(ss["train_lr"]),
            optimizer=ss["train_optimizer"], schedule=ss["train_schedule"],
            weight_decay=float(ss["train_wd"]), label_smoothing=float(ss["train_smoothing"]),
            augment=bool(ss["train_augment"]),
            erase=int(ss["train_erase"]) if ss["train_augment"] else 0,
            seed=int(ss["train_seed"]), device=ss["train_device"])
        # A double click (or a click replayed by a rerun) must not queue the same run twice.
        last = ss.get("train_last_submit")
        if last and last[1] == asdict(cfg) and time.time() - last[0] < 3.0:
            return
        ahead = mgr.active_run()
        job_id = mgr.submit(cfg)
    except Exception as err:  # invalid settings: shown in the page, nothing queued
        ss[state.TRAIN_NOTICE] = ("error", err)
        return
    ss["train_last_submit"] = (time.time(), asdict(cfg))
    ss["train_show"] = job_id
    if ahead is None:
        _wait_for(job_id, lambda s: s.state != "queued", 1.0)  # show it training at once
    if ahead is not None:
        pos = mgr.snapshot(job_id).queue_position or 1
        ss[state.TRAIN_NOTICE] = ("queued", f"Queued: run `{ahead.id}` is "
                                  f"{'training' if ahead.state != 'queued' else 'queued'}, so this "
                                  f"one waits (position {pos} in the queue) and starts by itself "
                                  "when the runs before it end.")
    else:
        ss[state.TRAIN_NOTICE] = ("started", f"Started run `{job_id}`.")


with st.container(border=True):
    ss.setdefault("train_dataset", sel.dataset)
    infos = {a.name: a for a in architecture_infos()}
    c1, c2, c3, c4 = st.columns([1, 1.2, 0.8, 0.8])
    c1.selectbox("Dataset", list(DATASETS), key="train_dataset", persist_state=SESSION,
                 format_func=lambda n: DATASETS[n].title)
    arch = c2.selectbox("Architecture", list(infos), index=list(infos).index("cnn"),
                        key="train_model", persist_state=SESSION,
                        format_func=lambda n: f"{n} ({infos[n].parameters:,} parameters)")
    c3.number_input("Epochs", 1, 200, 5, key="train_epochs", persist_state=SESSION)
    c4.selectbox("Batch size", BATCH_SIZES, index=BATCH_SIZES.index(128), key="train_batch",
                 persist_state=SESSION)
    info = infos[arch]
    st.caption(f"**{info.name}**: {info.description} · {info.parameters:,} parameters"
               + ("" if info.reference else " · MNIST Studio design"))
    c1, c2, c3, c4 = st.columns([1, 1.2, 0.8, 0.8])
    c1.number_input("Learning rate", 1e-5, 2.0, 1e-3, step=1e-4, format="%.5f", key="train_lr",
                    persist_state=SESSION, help="The peak rate under onecycle")
    c2.selectbox("Optimizer", OPTIMIZERS, key="train_optimizer", persist_state=SESSION)
    c3.selectbox("Schedule", SCHEDULES, index=list(SCHEDULES).index("onecycle"),
                 key="train_schedule", persist_state=SESSION,
                 help="onecycle: warm up to the peak rate, then anneal; constant: no schedule")
    c4.number_input("Seed", 0, 2**31 - 1, 0, key="train_seed", persist_state=SESSION)
    c1, c2, c3, c4 = st.columns([1, 1.2, 0.8, 0.8], vertical_alignment="bottom")
    devices = available_devices()
    c1.selectbox("Device", devices, key="train_device", persist_state=SESSION,
                 format_func=lambda d: DEVICE_NAMES.get(d, d))
    augment = c2.toggle("Augmentation", key="train_augment", persist_state=SESSION,
                        help="Random shifts of up to 2 px (plus mirroring for garments)")
    c3.number_input("Cutout (px)", 0, 14, 0, key="train_erase", persist_state=SESSION,
                    disabled=not augment, help="With augmentation: erase a random square")
    with c4.popover("More", icon=":material/tune:"):
        st.number_input("Weight decay", 0.0, 1.0, 0.0, step=1e-4, format="%.4f", key="train_wd",
                        persist_state=SESSION)
        st.number_input("Label smoothing", 0.0, 0.5, 0.0, step=0.05, key="train_smoothing",
                        persist_state=SESSION)
    busy = mgr.active_run()
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("Start training", type="primary", icon=":material/play_arrow:",
                  on_click=_start, key="train_start",
                  help="One run trains at a time; a Start while one trains waits in a queue")
        if busy:
            st.caption(f"A run is {'training' if busy.state != 'queued' else 'queued'}: a new "
                       "one waits in the queue and starts by itself after it.")

notice = ss.pop(state.TRAIN_NOTICE, None)
if notice:
    kind, body = notice
    if kind == "error":
        show_error(body)
    elif kind == "queued":
        st.info(body, icon=":material/schedule:")
    else:
        st.success(body, icon=":material/rocket_launch:")


# ---------------------------------------------------------- the run on show

runs = mgr.list_runs()
if not runs:
    st.info("No runs yet. Pick the settings above and press **Start training**; the run keeps "
            "going in the background when you switch pages or close the tab.",
            icon=":material/info:")
    st.stop()

ids = [r.id for r in runs]
active = mgr.active_run()
# A run started elsewhere (another tab, before a refresh) is shown once it appears;
# after that the person's choice of run stands.
seen = ss.setdefault("train_seen_active", set())
if active is not None and active.id not in seen:
    seen.add(active.id)
    ss["train_show"] = active.id
if ss.get("train_show") not in ids:
    ss["train_show"] = active.id if active else ids[0]


def _label(run_id: str) -> str:
    # No state or metrics in the label: the select box is outside the live
    # fragment, so they would go stale; the fragment shows them instead.
    row = run_row(next(r for r in runs if r.id == run_id))
    planned = row.epochs.split("/")[1]
    return f"{run_stamp(run_id)} · {row.dataset} · {row.model} · {planned} epochs"


st.selectbox("Run", ids, key="train_show", format_func=_label)
shown = next(r for r in runs if r.id == ss["train_show"])


def _charts(snap: JobSnapshot, live: bool = False) -> None:
    # Live: few points, redrawn every second. Finished: drawn once, more detail.
    curves = training_curves(snap.steps, snap.epochs, max_points=200 if live else 800)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.loss_chart(curves, snap.total_steps, raw=not live),
                    config=charts.STATIC, key="train_loss_chart")
    c2.plotly_chart(charts.accuracy_chart(curves, int(snap.config.get("epochs") or 1)),
                    config=charts.STATIC, key="train_acc_chart")


def _results(snap: JobSnapshot) -> None:
    test, result = snap.test or {}, snap.result or {}
    names = list(DATASETS[snap.config["dataset"]].classes)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Test accuracy", f"{test['accuracy']:.2%}")
    m2.metric("Best validation accuracy", f"{result.get('val_accuracy', 0):.2%}",
              help=f"Best epoch {result.get('best_epoch')} (by validation loss)")
    m3.metric("Training time", format_duration(result.get("train_seconds")))
    m4.metric("Samples/s", f"{result.get('samples_per_second', 0):,.0f}", help=snap.device)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.per_class_bars(names, test["per_class_accuracy"],
                                          title="Test accuracy per class"),
                    config=charts.STATIC, key="train_per_class")
    c2.plotly_chart(charts.confusion_heatmap(test["confusion_matrix"], names, normalized=False,
                                             height=420, title="Confusion matrix (test)"),
                    config=charts.STATIC, key="train_confusion")


def _actions(snap: JobSnapshot) -> None:
    best = snap.best_checkpoint
    with st.container(horizontal=True):
        if best is not None and snap.state not in ACTIVE_STATES:
            key = f"run:{snap.id}"
            chosen = sel.model is not None and sel.model.key == key
            st.button("In use on every page" if chosen else "Use this model",
                      icon=":material/check_circle:", disabled=chosen, type="primary",
                      on_click=state.use_model, args=(snap.config["dataset"], key),
                      key="train_use")
            st.download_button("Download checkpoint", data=Path(best).read_bytes(),
                               file_name=f"{snap.id}.pt", mime="application/octet-stream",
                               icon=":material/download:", key="train_download",
                               on_click="ignore")
        if snap.resumable:
            st.button("Resume", icon=":material/play_arrow:", on_click=_resume,
                      args=(snap.id,), key="train_resume",
                      disabled=False)


def live_view(run_id: str, state: str) -> None:
    """Reruns alone once a second while the run is queued or training: progress and
    charts only, so the browser redraws little. Any change of state reruns the page."""
    snap = mgr.snapshot(run_id)
    if snap.state != state:
        st.rerun(scope="app")  # started, stopped or finished: badge, buttons, results, models
    if snap.state == "queued":
        ahead = mgr.active_run()
        name = f"run `{ahead.id}`" if ahead and ahead.id != snap.id else "the current run"
        st.info(f"Queued (position {snap.queue_position or 1}): starts when {name} ends.",
                icon=":material/schedule:")
        return
    prog = run_progress(snap)
    if snap.state == "stopping":
        label = ("Stopping: training ends after the current step, then the best checkpoint "
                 "is saved and scored on the test set…")
    elif not snap.steps:
        label = f"Loading data and building the model on {snap.device or '…'}"
    else:
        label = prog.text
    st.progress(prog.fraction, text=label)
    if snap.steps:
        _charts(snap, live=True)


def run_view(snap: JobSnapshot) -> None:
    head, side = st.columns([6, 1], vertical_alignment="center")
    with head.container(horizontal=True, vertical_alignment="center"):
        st.badge(STATE_BADGES[snap.state][0], icon=STATE_BADGES[snap.state][1],
                 color=STATE_BADGES[snap.state][2])
        st.caption(config_summary(snap.config))
    if snap.state in ACTIVE_STATES:
        if snap.state == "queued":
            side.button("Cancel", icon=":material/close:", on_click=_stop, args=(snap.id,),
                        key="train_cancel")
        else:
            side.button("Stop", icon=":material/stop:", on_click=_stop, args=(snap.id,),
                        key="train_stop", disabled=snap.state == "stopping",
                        help="Ends training within a second and keeps the best checkpoint "
                             "so far")
        # The training thread never calls Streamlit: this fragment reads the job's
        # snapshot once a second, rerunning alone (not the page).
        st.fragment(guarded(live_view), run_every=POLL_SECONDS)(snap.id, snap.state)
        return
    if snap.state == "failed":
        st.error(f"**Training failed.** {snap.error}", icon=":material/error:")
    elif snap.state == "cancelled":
        done, planned = len(snap.epochs), snap.config.get("epochs")
        why = f" ({snap.error})" if snap.error else ""
        st.warning(f"**Stopped** after {done} of {planned} epochs{why}. "
                   + ("**Resume** continues from the last step; the best checkpoint so far "
                      "is usable now." if snap.resumable else ""),
                   icon=":material/pause_circle:")
    else:
        st.success(f"**Finished** in {format_duration((snap.result or {}).get('train_seconds'))}"
                   f" on {snap.device}.", icon=":material/task_alt:")
    if snap.steps or snap.epochs:
        _charts(snap)
    if snap.test:
        _results(snap)
    _actions(snap)


with guard():
    run_view(mgr.snapshot(shown.id))


# --------------------------------------------------------------- all runs

st.subheader("Runs")
rows = [run_row(r) for r in runs]
st.dataframe(
    [{"Run": r.id, "State": r.state, "Dataset": r.dataset, "Model": r.model, "Epochs": r.epochs,
      "Test accuracy": r.test_accuracy, "Best val accuracy": r.val_accuracy,
      "Train time (s)": r.train_seconds, "Samples/s": r.samples_per_second, "Device": r.device}
     for r in rows],
    hide_index=True, key="train_runs_table",
    column_config={
        "Test accuracy": st.column_config.NumberColumn(format="percent"),
        "Best val accuracy": st.column_config.NumberColumn(format="percent"),
        "Train time (s)": st.column_config.NumberColumn(format="%.1f"),
        "Samples/s": st.column_config.NumberColumn(format="%.0f"),
    })
