"""The Train page's settings form: one widget per TrainConfig field, keyed `train_<field>`.

The widgets' help shows each field's range from TrainConfig's metadata. The
number inputs have no bounds of their own on purpose: Streamlit resets an
out-of-range number to the widget's default without a word, so the value
typed stays as typed, the form says what is wrong, and Start refuses it.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Any, Callable

import streamlit as st

from core.networks.catalog import architecture_infos
from core.data import DATASETS
from core.machine.device import available_devices
from core.networks.models import CUSTOM
from core.train.config import ConfigError, TrainConfig
from core.runs.state import RunState
from ui.common import state
from ui.common.errors import safe_callback, show_error
from core.runs.api import LimitReached
from ui.common.loaders import run_service
from ui.train import custom
from ui.train.code import show_code

PREFIX = "train_"  # widget key = PREFIX + TrainConfig field name
SESSION = "session"  # widget values survive page switches
BATCH_SIZES = [32, 64, 128, 256, 512, 1024]
DEVICE_LABELS = {"auto": "auto (GPU when available)", "cpu": "CPU", "cuda": "CUDA GPU",
                 "mps": "Apple GPU (MPS)"}
COLUMNS = [1, 1.2, 0.8, 0.8]


def key(name: str) -> str:
    return PREFIX + name


def form_values() -> dict[str, Any]:
    """The form's values by field name. A disabled widget (cutout without augmentation,
    the adversarial budget without adversarial training) does not count."""
    ss = st.session_state
    values = {name: ss[key(name)] for name in TrainConfig.settings() if key(name) in ss}
    if values.get("model") != CUSTOM:  # the editor's layers count for a custom model only
        values["layers"] = ""
    if not values.get("augment"):
        values["erase"] = 0
    if values.get("adversarial", "none") == "none":  # the budget and steps are greyed out
        values.pop("adv_eps", None)
    if values.get("adversarial") != "pgd":
        values.pop("adv_steps", None)
    return values


def form_config() -> TrainConfig:
    """The settings as a TrainConfig; ConfigError names every invalid field and its range."""
    return TrainConfig.from_values(form_values())


def _help(name: str, text: str | None = None) -> str:
    s = TrainConfig.settings()[name]
    return f"{text or s.help[0].upper() + s.help[1:]} ({s.range_text})"


def _number(container, label: str, name: str, **kw: Any) -> None:
    default = TrainConfig.defaults()[name]
    if TrainConfig.types()[name] is int:
        # An integer number_input turns a typed 2.5 into 2 in the browser, silently; a
        # float one passes 2.5 on, and TrainConfig refuses it ("must be a whole number").
        # "%.10g" shows whole numbers without decimals, up to the largest seed.
        default, kw = float(default), {"format": "%.10g", **kw, "step": float(kw["step"])}
    container.number_input(label, value=default, key=key(name), persist_state=SESSION,
                           help=_help(name, kw.pop("help", None)), **kw)


def render_form(dataset: str) -> Callable[[], None]:
    """The settings, a Start button, and what is wrong with the settings, if anything.
    Returns the function that writes the cost estimate beside Start: the page calls it
    last, as it counts the model's FLOPs with torch (about a second the first time for
    each architecture) and nothing below it should wait for that."""
    ss = st.session_state
    ss.setdefault(key("dataset"), dataset)
    infos = {a.name: a for a in architecture_infos()}
    c1, c2, c3, c4 = st.columns(COLUMNS)
    c1.selectbox("Dataset", list(DATASETS), key=key("dataset"), persist_state=SESSION,
                 format_func=lambda n: DATASETS[n].title)
    arch = c2.selectbox("Architecture", [*infos, CUSTOM], index=list(infos).index("cnn"),
                        key=key("model"), persist_state=SESSION,
                        format_func=lambda n: f"{n} ({infos[n].parameters:,} parameters)"
                        if n in infos else "custom (your own layers)")
    _number(c3, "Epochs", "epochs", step=1)
    c4.selectbox("Batch size", BATCH_SIZES, index=BATCH_SIZES.index(128), key=key("batch_size"),
                 persist_state=SESSION)
    if arch == CUSTOM:
        custom.editor(run_service().settings)
    else:
        info = infos[arch]
        st.caption(f"**{info.name}**: {info.description} · {info.parameters:,} parameters"
                   + ("" if info.reference else " · MNIST Studio design"))
    settings = TrainConfig.settings()
    c1, c2, c3, c4 = st.columns(COLUMNS)
    _number(c1, "Learning rate", "lr", step=1e-4, format="%.5f", help="The peak rate under onecycle")
    c2.selectbox("Optimizer", settings["optimizer"].choices, key=key("optimizer"),
                 persist_state=SESSION)
    c3.selectbox("Schedule", settings["schedule"].choices,
                 index=settings["schedule"].choices.index("onecycle"), key=key("schedule"),
                 persist_state=SESSION, help=_help("schedule"))
    _number(c4, "Seed", "seed", step=1)
    c1, c2, c3, c4 = st.columns(COLUMNS, vertical_alignment="bottom")
    c1.selectbox("Device", available_devices(), key=key("device"), persist_state=SESSION,
                 format_func=lambda d: DEVICE_LABELS.get(d, d))
    augment = c2.toggle("Augmentation", key=key("augment"), persist_state=SESSION,
                        help="Random shifts of up to 2 px (plus mirroring for garments)")
    _number(c3, "Cutout (px)", "erase", step=1, disabled=not augment,
            help="With augmentation: erase a random square")
    with c4.popover("More", icon=":material/tune:"):
        _number(st, "Weight decay", "weight_decay", step=1e-4, format="%.4f")
        _number(st, "Label smoothing", "label_smoothing", step=0.05)
        _knowing()
        _adversarial()
    return _start_row()


def _knowing() -> None:
    """Advanced: outlier exposure and canvas redraws, so the model can say "I don't know"
    and takes a person's drawing as an ordinary input."""
    st.caption("**Advanced: “I don't know”** (docs/ood.md)")
    _number(st, "Outlier exposure (weight)", "outlier_exposure", step=0.1, format="%.2f",
            help="Also train on generated inputs of none of the classes (letters, strokes, "
                 "shapes, the other dataset...) toward a uniform answer; 0.5 is the usual "
                 "weight, 0 is off. About 1.5x the time")
    _number(st, "Canvas redraws (share)", "canvas_redraws", step=0.05, format="%.2f",
            help="Swap this share of each batch for training images redrawn as canvas "
                 "strokes, so drawings look familiar; 0 is off")


def _adversarial() -> None:
    """Advanced: adversarial training, and its budget and steps when it is on."""
    st.caption("**Advanced: adversarial training** (robust to small changes, "
               "docs/robustness.md)")
    kinds = {"none": "off", "fgsm": "fast FGSM (about 2x the time)",
             "pgd": "PGD (about steps+1 x the time)"}
    kind = st.selectbox("Adversarial training", TrainConfig.settings()["adversarial"].choices,
                        format_func=kinds.get, key=key("adversarial"), persist_state=SESSION,
                        help=_help("adversarial"))
    _number(st, "Adversarial ε (pixels)", "adv_eps", step=0.05, format="%.2f",
            disabled=kind == "none")
    _number(st, "PGD steps", "adv_steps", step=1, disabled=kind != "pgd")


def _start_row() -> Callable[[], None]:
    try:
        cfg = form_config()
        problem = None
    except ConfigError as err:
        cfg, problem = None, err
    service = run_service()
    training, queued = service.busy()
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("Start training", type="primary", icon=":material/play_arrow:",
                  on_click=_start, key="train_start",
                  help="Runs train in worker processes; a Start while they are busy waits "
                       "in a queue")
        estimate = st.empty()
        if training or queued:
            st.caption(f"On this server now: {training} training, {queued} queued.")
    if problem is not None:
        _say(problem)
    else:
        show_code(cfg, key="train_form_code", what="these settings")

    def show_estimate() -> None:
        if cfg is not None:
            minutes, cap = service.estimate(cfg), service.settings.max_run_minutes
            estimate.caption(f"Estimated training time: **{_minutes(minutes)}** "
                             f"(limit {cap:g} min per run)"
                             + (" · :red[over the limit]" if minutes > cap else ""))
    return show_estimate


def _say(problem: ConfigError) -> None:
    """What is wrong with the settings, once: as the refusal of Start when it was just
    pressed, else as a warning."""
    if set(problem.problems) == {"layers"}:  # the layer editor above says what is wrong
        problem = ConfigError({"layers": "the layers above cannot be built"})
    notice = st.session_state.get(state.TRAIN_NOTICE)
    if notice and notice[0] == "invalid":
        del st.session_state[state.TRAIN_NOTICE]
        show_error(problem)
    else:
        st.warning(f"**Start is refused until this is fixed:** {problem}.",
                   icon=":material/warning:")


def _minutes(minutes: float) -> str:
    return f"{minutes * 60:.0f} s" if minutes < 1 else f"{minutes:.1f} min"


def _request_id(cfg: TrainConfig) -> tuple[str, bool]:
    """A token for this press of Start, and whether it repeats the last one.

    Start pressed again with the same settings while the run it started is
    still live (a double click, or a click Streamlit replays when it lands
    during the live view's rerun) repeats the token, so the run service hands
    back that run instead of queuing a copy.
    """
    settings = json.dumps(asdict(cfg), sort_keys=True)
    last = st.session_state.get(state.TRAIN_REQUEST)
    if last and last["settings"] == settings and _still_active(last["run"]):
        return last["token"], True
    return uuid.uuid4().hex, False


def _still_active(run_id: str) -> bool:
    try:
        return run_service().get(run_id, state.viewer(), metrics=False).state.active
    except KeyError:  # deleted since
        return False


@safe_callback
def _start() -> None:
    """Start button callback: queue the run; it starts at once unless one is training."""
    ss, service, me = st.session_state, run_service(), state.viewer()
    try:
        cfg = form_config()
    except ConfigError:  # said by _start_row, under the button; nothing queued or replaced
        ss[state.TRAIN_NOTICE] = ("invalid", None)
        return
    token, repeat = _request_id(cfg)
    training, queued = service.busy()  # one look, before this run joins them
    free = training < service.settings.worker_count() and not queued
    try:
        run = service.submit(cfg, me, request_id=token)
    except LimitReached as err:  # said in the page; nothing queued
        ss[state.TRAIN_NOTICE] = ("refused", str(err))
        return
    ss[state.TRAIN_FOCUS] = run.id
    if repeat:
        return
    ss[state.TRAIN_REQUEST] = {"settings": json.dumps(asdict(cfg), sort_keys=True),
                               "token": token, "run": run.id}
    if free:  # a worker takes it at once: show it training, not queued
        settle(run.id, lambda s: s.state != RunState.QUEUED, 1.0)
        ss[state.TRAIN_NOTICE] = ("started", f"Started run `{run.id}`.")
        return
    run = service.get(run.id, me, metrics=False)
    ss[state.TRAIN_NOTICE] = ("queued", f"Queued: every worker is busy, so this run waits "
                              f"(position {run.queue_position or 1} in the queue) and starts "
                              "by itself when the runs before it end.")


def settle(run_id: str, until, timeout: float) -> None:
    """Wait briefly inside a callback, so the rerun that follows shows the new state
    instead of waiting for the live view's next tick."""
    try:
        run_service().wait(run_id, state.viewer(), until=until, timeout=timeout)
    except TimeoutError:
        pass  # the live view shows it when it happens


def show_notice() -> None:
    """The message Start left for this rerun, once."""
    notice = st.session_state.pop(state.TRAIN_NOTICE, None)
    if not notice:
        return
    kind, body = notice
    if kind == "invalid":  # _start_row has said why (settings fixed since: nothing to say)
        return
    if kind == "refused":
        st.error(f"**Not started.** {body}", icon=":material/block:")
    elif kind == "queued":
        st.info(body, icon=":material/schedule:")
    else:
        st.success(body, icon=":material/rocket_launch:")
