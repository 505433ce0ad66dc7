"""The Train page's sweeps: the form that starts one (1-2 settings, their values, seeds,
a preview of trials and time) and the view of the visitor's sweep (a live table of
trials, val accuracy against the varied settings, the best marked, "Use the best").
The sweep itself is core/runs/sweeps.py; every trial is a normal run of the Train page."""
from __future__ import annotations

import math
from dataclasses import asdict

import plotly.graph_objects as go
import streamlit as st

from core.runs.api import LimitReached
from core.networks.models import CUSTOM
from core.runs.sweeps import (LAYER, Axis, SweepError, SweepSpec, SweepView, layer_position,
                               parse_values)
from core.networks.spec import SpecError, widths
from core.train.config import ConfigError, TrainConfig
from ui.common import charts, state
from ui.common.errors import guarded, safe_callback
from ui.common.format import format_duration, percent_column, percent_text, rounded_percent
from ui.common.loaders import run_service
from ui.train.form import form_config

LABELS = {"lr": "learning rate", "batch_size": "batch size", "epochs": "epochs",
          "weight_decay": "weight decay", "label_smoothing": "label smoothing",
          "erase": "cutout (px)"}
EXAMPLES = {"lr": "0.0003, 0.001, 0.003", "batch_size": "32, 64, 128", "epochs": "1, 2, 4",
            "weight_decay": "0, 0.0001, 0.001", "label_smoothing": "0, 0.05, 0.1",
            "erase": "0, 4, 8"}
SHOWN = "train_sweep"  # the sweep on show (its select box)
NOTICE = "train_sweep_notice"
KINDS = ("list", "log range")
POLL_SECONDS = 1.0


def _axes() -> list[Axis]:
    """The varied settings as entered; SweepError says what is wrong with one."""
    ss, axes = st.session_state, []
    for name in ss.get("sweep_names") or []:
        if ss.get(f"sweep_kind_{name}") == "log range":
            count = ss.get(f"sweep_count_{name}") or 0
            axes.append(Axis.log_range(name, ss.get(f"sweep_low_{name}") or 0.0,
                                       ss.get(f"sweep_high_{name}") or 0.0, int(count)))
        else:
            axes.append(Axis(name, parse_values(ss.get(f"sweep_values_{name}") or "")))
    return axes


def _spec() -> SweepSpec:
    """The sweep the form describes: the Train form's settings as the base."""
    ss = st.session_state
    return SweepSpec(base=asdict(form_config()), axes=_axes(), seeds=int(ss.get("sweep_seeds", 1)),
                     parallel=int(ss.get("sweep_parallel", 1)))


def _label(name: str) -> str:
    position = layer_position(name)
    return LABELS[name] if position is None else f"width of layer {position}"


def _choices() -> dict[str, str]:
    """What the sweep can vary, with its label: the settings, and a custom model's layer
    widths (as the form's layers are now)."""
    choices = dict(LABELS)
    ss = st.session_state
    if ss.get("train_model") == CUSTOM:
        try:
            choices |= {f"{LAYER}{i}": f"width of layer {i} ({token})"
                        for i, token in widths(ss.get("train_layers") or "")}
        except SpecError:  # the editor says what is wrong
            pass
    return choices


def _axis_inputs(name: str, label: str) -> None:
    c1, c2, c3, c4 = st.columns([1.2, 1, 1, 1], vertical_alignment="bottom")
    kind = c1.segmented_control(f"{label[0].upper() + label[1:]}: values", KINDS, default="list",
                                key=f"sweep_kind_{name}")
    if kind == "log range" and layer_position(name) is not None:
        c2.number_input("low", value=8.0, format="%g", key=f"sweep_low_{name}")
        c3.number_input("high", value=64.0, format="%g", key=f"sweep_high_{name}")
        c4.number_input("count", value=4, step=1, key=f"sweep_count_{name}")
    elif kind == "log range":
        low, high = TrainConfig.settings()[name].low, TrainConfig.settings()[name].high
        c2.number_input("low", value=max(low, 1e-4) if name == "lr" else max(low, 1.0),
                        format="%g", key=f"sweep_low_{name}")
        c3.number_input("high", value=min(high, 1e-2) if name == "lr" else min(high, 8.0),
                        format="%g", key=f"sweep_high_{name}")
        c4.number_input("count", value=3, step=1, key=f"sweep_count_{name}")
    else:
        c2.text_input("values, separated by commas", key=f"sweep_values_{name}",
                      placeholder=EXAMPLES.get(name, "16, 32, 64"), label_visibility="collapsed")


def sweep_form() -> None:
    """Choose 1-2 settings and their values, seeds; the trial count and the estimated
    time; Start sweep."""
    service = run_service()
    st.caption("Train the settings above several times, varying one or two of them; each "
               "trial is an ordinary run. Optuna's median rule stops a trial early when it "
               "is below the median of the finished trials at the same epoch (**pruned**).")
    choices = _choices()
    if any(n not in choices for n in st.session_state.get("sweep_names") or []):
        st.session_state["sweep_names"] = [n for n in st.session_state["sweep_names"] if n in choices]
    st.multiselect("Settings to vary", list(choices), max_selections=2, key="sweep_names",
                   format_func=choices.__getitem__, placeholder="Choose 1 or 2 settings")
    names = st.session_state.get("sweep_names") or []
    for name in names:
        _axis_inputs(name, choices[name])
    c1, c2 = st.columns(2)
    c1.number_input("Seeds", min_value=1, max_value=10, value=1, step=1, key="sweep_seeds",
                    help="Each setting's value is trained with this many seeds (the form's "
                         "seed, +1, ...)")
    cap = service.settings.max_sweep_parallel
    if cap > 1:
        c2.number_input("Trials at once", min_value=1, max_value=cap, value=1, step=1,
                        key="sweep_parallel")
    problem = None
    try:
        form_config()
    except ConfigError:  # the form above says what is wrong (once)
        st.caption("Fix the settings above to start a sweep.")
        return
    try:
        spec = _spec()
        configs = spec.check(service.settings) if names else []
    except (SweepError, ConfigError) as err:
        problem, configs = str(err), []
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("Start sweep", icon=":material/stacked_line_chart:", on_click=_start,
                  key="sweep_start", disabled=not names)
        if configs:
            minutes = service.sweeps.minutes(configs, spec.parallel)
            st.caption(f"**{trials(len(configs))}** · estimated **{_minutes(minutes)}** in all "
                       f"(limit {trials(service.settings.max_sweep_trials)} per sweep)")
    if problem:
        st.warning(f"**The sweep cannot start:** {problem}.", icon=":material/warning:")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.error(f"**Sweep not started.** {notice}", icon=":material/block:")


def trials(n: int) -> str:
    """'1 trial', '4 trials'."""
    return f"{n} trial{'' if n == 1 else 's'}"


def _minutes(minutes: float) -> str:
    return f"{minutes * 60:.0f} s" if minutes < 1 else f"{minutes:.1f} min"


@safe_callback
def _start() -> None:
    try:
        sweep = run_service().sweeps.start(_spec(), state.viewer())
    except (SweepError, ConfigError, LimitReached) as err:  # said in the form; nothing started
        st.session_state[NOTICE] = str(err)
        return
    st.session_state[SHOWN] = sweep.id


@safe_callback
def _stop(sweep_id: str) -> None:
    run_service().sweeps.stop(sweep_id, state.viewer())


# ------------------------------------------------------------------ the view

def sweep_view() -> None:
    """The visitor's sweeps: one on show, live while it runs."""
    sweeps = run_service().sweeps.list(state.viewer())
    if not sweeps:
        return
    st.subheader("Sweeps")
    ids = [s.id for s in sweeps]
    if st.session_state.get(SHOWN) not in ids:
        st.session_state[SHOWN] = ids[0]
    st.selectbox("Sweep", ids, key=SHOWN)
    shown = next(s for s in sweeps if s.id == st.session_state[SHOWN])
    live = shown.state == "running"
    st.fragment(guarded(_view), run_every=POLL_SECONDS if live else None)(shown.id, live)


def _view(sweep_id: str, was_live: bool) -> None:
    sweep = run_service().sweeps.get(sweep_id, state.viewer())
    if was_live and sweep.state != "running":
        st.rerun(scope="app")  # over: the page (its run list, the sidebar's models) catches up
    done = sum(t.state not in ("waiting", "queued", "training", "stopping") for t in sweep.trials)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.badge(sweep.state.capitalize(), color="blue" if sweep.state == "running" else "green")
        st.caption(f"{done} of {trials(len(sweep.trials))} over · "
                   + " × ".join(_label(a.name) for a in sweep.spec.axes)
                   + f" · {sweep.spec.seeds} seed{'s' if sweep.spec.seeds > 1 else ''}")
        if sweep.state == "running":
            st.button("Stop sweep", icon=":material/stop:", on_click=_stop, args=(sweep.id,),
                      key="sweep_stop", help="No more trials; the running one stops and keeps "
                                             "its best checkpoint")
    trials_table(sweep)
    if any(t.val_accuracy is not None for t in sweep.trials):
        st.plotly_chart(sweep_figure(sweep), config=charts.STATIC, key="sweep_chart")
    _best(sweep)


def trials_table(sweep: SweepView) -> None:
    """One row per trial; a trial not yet run (or scored) has empty cells, not "None"."""
    best = sweep.best
    names = [a.name for a in sweep.spec.axes]
    st.dataframe(
        [{"#": t.number + 1, **{_label(n): t.params[n] for n in names}, "seed": t.params["seed"],
          "State": t.state, "Best val accuracy": rounded_percent(t.val_accuracy),
          "Epochs": t.epochs_done if t.run_id else None, "Time": format_duration(t.seconds),
          "Best": "★" if best is t else "",
          "Run": f"/train?run={t.run_id}" if t.run_id else None} for t in sweep.trials],
        hide_index=True, key="sweep_table", placeholder="—",
        column_config={
            "Best val accuracy": percent_column(),
            "Run": st.column_config.LinkColumn(display_text="open run",
                                               help="The trial's run: its curves, stop, use"),
        })


def _best(sweep: SweepView) -> None:
    best = sweep.best
    if best is None:
        return
    params = ", ".join(f"{LABELS.get(k, k)} {v:g}" for k, v in best.params.items())
    in_use = st.session_state.get(state.MODEL) == f"run:{best.run_id}"
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"★ Best: trial {best.number + 1} ({params}), "
                   f"{percent_text(best.val_accuracy)} validation accuracy")
        st.button("In use on every page" if in_use else "Use the best",
                  icon=":material/check_circle:", key="sweep_use", disabled=in_use
                  or not best.usable, on_click=state.use_model,
                  args=(sweep.spec.base["dataset"], f"run:{best.run_id}"),
                  help=None if best.usable else "Usable when its run is over")


def sweep_figure(sweep: SweepView) -> go.Figure:
    """Val accuracy against the varied setting, pruned trials as crosses and the best as a
    star; parallel coordinates for two settings. Each setting's axis spans its planned
    values (not only the trials done), on a log scale where they span a factor of 10 or
    more; the accuracy axis spans the accuracies (within 0..100%)."""
    trials = [t for t in sweep.trials if t.val_accuracy is not None]
    axes = sweep.spec.axes
    accuracy = charts.percent_axis([t.val_accuracy for t in trials])
    if len(axes) == 2:
        dims = [dict(label=_label(a.name), **_coordinate(a, [t.params[a.name] for t in trials]))
                for a in axes]
        low, high = accuracy.get("range", [0.0, 1.0])
        dims.append(dict(label="best val accuracy", values=[t.val_accuracy for t in trials],
                         range=[low, high], tickformat=accuracy["tickformat"]))
        fig = go.Figure(go.Parcoords(dimensions=dims, line=dict(
            color=[t.val_accuracy for t in trials], colorscale="Viridis", cmin=low, cmax=high)))
        return charts.apply_layout(fig, 320, "Best validation accuracy per trial",
                                   margin=dict(l=60, r=60, t=70, b=20))
    axis, best = axes[0], sweep.best
    scale = setting_axis(axis.values, axis.log)
    fig = go.Figure()
    for label, keep, symbol, colour in (
            ("trial", lambda t: t.state != "pruned" and t is not best, "circle", charts.BLUE),
            ("pruned", lambda t: t.state == "pruned", "x", charts.RED),
            ("best", lambda t: t is best, "star", charts.GREEN)):
        shown = [t for t in trials if keep(t)]
        if shown:
            x = [t.params[axis.name] for t in shown]
            fig.add_scatter(x=[f"{v:g}" for v in x] if scale["type"] == "category" else x,
                            y=[t.val_accuracy for t in shown], mode="markers", name=label,
                            cliponaxis=False,  # a trial at 100% sits on the axis's top
                            marker=dict(symbol=symbol, size=14 if label == "best" else 10,
                                        color=colour),
                            text=[f"trial {t.number + 1}, seed {t.params['seed']}: {t.state}"
                                  for t in shown])
    fig.update_xaxes(title=_label(axis.name), **scale)
    fig.update_yaxes(title="best val accuracy", **accuracy)
    return charts.apply_layout(fig, 300, "Best validation accuracy per trial")


def setting_axis(values: list[float], log: bool = False) -> dict:
    """A Plotly x axis over a setting's planned values, ticked at those values: log when
    they were made as a log range or span a factor of 10 or more (learning rates), one
    category per value when there is one value or a 0 among widely spread ones (weight
    decays: a log axis has no 0), else linear; padded so that no trial sits on the edge,
    and spanning every planned value, not only the trials done."""
    values = sorted(float(v) for v in values)
    low, high = values[0], values[-1]
    ticks = dict(tickvals=values, ticktext=[f"{v:g}" for v in values])
    positive = low > 0
    if positive and (log or high / low >= 10):
        span = math.log10(high / low)
        pad = span * 0.08 if span else 0.25
        return dict(type="log", range=[math.log10(low) - pad, math.log10(high) + pad], **ticks)
    spread = [v for v in values if v > 0]
    if len(values) == 1 or (not positive and len(spread) > 1 and spread[-1] / spread[0] >= 10):
        names = [f"{v:g}" for v in values]
        return dict(type="category", categoryorder="array", categoryarray=names,
                    range=[-0.5, len(names) - 0.5])
    pad = (high - low) * 0.08
    return dict(type="linear", range=[low - pad, high + pad], **ticks)


def _coordinate(axis: Axis, values: list[float]) -> dict:
    """One parallel-coordinates dimension over the planned values, ticked at them: a log
    axis as log10, a category axis as the values' positions."""
    scale = setting_axis(axis.values, axis.log)
    planned = sorted(float(v) for v in axis.values)
    text = [f"{v:g}" for v in planned]
    if scale["type"] == "log":
        return dict(values=[math.log10(v) for v in values], range=scale["range"],
                    tickvals=[math.log10(v) for v in planned], ticktext=text)
    if scale["type"] == "category":
        return dict(values=[planned.index(float(v)) for v in values],
                    range=[-0.5, len(planned) - 0.5], tickvals=list(range(len(planned))),
                    ticktext=text)
    return dict(values=values, range=[planned[0], planned[-1]], tickvals=planned, ticktext=text)
