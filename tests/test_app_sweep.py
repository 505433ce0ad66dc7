"""A sweep started from the Train page (AppTest, the fake data): the form's preview, a
refusal over the server's cap, then the live table of trials, the chart and the best."""
from __future__ import annotations

import time

from core.runs.api import get_service
from tests.apptest import ADMIN, new_session, fill_train_form, no_exception
from ui.common.state import MODEL


def _sweep_table(at):
    return next(d.value for d in at.dataframe if "seed" in d.value.columns)


def test_a_sweep_starts_from_the_train_page_and_its_trials_are_listed(env, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_MAX_SWEEP_TRIALS", "3")
    at = new_session("train")
    fill_train_form(at, epochs=1)
    at.multiselect(key="sweep_names").set_value(["lr"]).run()
    at.text_input(key="sweep_values_lr").set_value("0.001, 0.003, 0.01, 0.03").run()
    no_exception(at)
    assert any("this sweep has 4 trials (4 values x 1 seed); the limit on this server is 3"
               in w.value for w in at.warning)
    at.text_input(key="sweep_values_lr").set_value("0.003, 0.01").run()
    assert any("**2 trials** · estimated" in c.value for c in at.caption)
    at.button(key="sweep_start").click().run()
    no_exception(at)
    svc = get_service()
    (sweep,) = svc.sweeps.list(ADMIN)
    table = _sweep_table(at)
    assert table["learning rate"].tolist() == [0.003, 0.01]
    assert set(table["State"]) <= {"waiting", "queued", "training", "finished"}
    deadline = time.monotonic() + 180
    while svc.sweeps.get(sweep.id, ADMIN).state == "running":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    for trial in svc.sweeps.get(sweep.id, ADMIN).trials:
        svc.wait(trial.run_id, ADMIN, timeout=60)
    at.run()
    no_exception(at)
    table = _sweep_table(at)
    assert table["State"].tolist() == ["finished", "finished"]
    assert table["Best"].tolist().count("★") == 1
    assert all(str(link).startswith("/train?run=") for link in table["Run"])
    assert at.get("plotly_chart")
    # The trials are ordinary runs in the page's table, and the best is one click away.
    assert len(at.dataframe[-1].value) == 2 and "Owner" in at.dataframe[-1].value.columns
    best = svc.sweeps.get(sweep.id, ADMIN).best
    at.button(key="sweep_use").click().run()
    assert at.sidebar.selectbox(key=MODEL).value == f"run:{best.run_id}"
    # A second sweep while... none runs now: allowed; the cap is on running sweeps.
    assert not any(e.value.startswith("**Sweep not started") for e in at.error)


def test_the_sweep_chart_marks_pruned_and_best_and_uses_parallel_coordinates_for_two():
    from core.runs.sweeps import Axis, SweepSpec, SweepView, Trial
    from ui.train.sweep import sweep_figure
    one = SweepView("s", "v:a", "finished", SweepSpec({"dataset": "mnist"}, [
        Axis.log_range("lr", 1e-4, 1e-2, 3)]), "now", trials=[
        Trial(0, {"lr": 1e-4, "seed": 0}, "finished", "r0", 0.8),
        Trial(1, {"lr": 1e-3, "seed": 0}, "finished", "r1", 0.9),
        Trial(2, {"lr": 1e-2, "seed": 0}, "pruned", "r2", 0.95)])
    fig = sweep_figure(one)
    assert [t.name for t in fig.data] == ["trial", "pruned", "best"]
    assert fig.data[2].x == (1e-3,) and fig.layout.xaxis.type == "log"  # pruned is never best
    two = SweepView("s", "v:a", "running", SweepSpec({"dataset": "mnist"}, [
        Axis("lr", [1e-3]), Axis("batch_size", [32, 64])]), "now", trials=[
        Trial(0, {"lr": 1e-3, "batch_size": 32, "seed": 0}, "finished", "r0", 0.8),
        Trial(1, {"lr": 1e-3, "batch_size": 64, "seed": 0}, "waiting")])
    (coords,) = sweep_figure(two).data
    assert coords.type == "parcoords" and [d.label for d in coords.dimensions] == [
        "learning rate", "batch size", "best val accuracy"]


def test_a_custom_models_layer_widths_are_offered_to_the_sweep(env):
    at = new_session("train")
    fill_train_form(at, epochs=1)
    at.selectbox(key="train_model").set_value("custom").run()
    at.text_input(key="train_layers").set_value("conv8k3,pool2,relu,fc32,fc10").run()
    no_exception(at)
    assert at.multiselect(key="sweep_names").options[-2:] == [
        "width of layer 1 (conv8k3)", "width of layer 4 (fc32)"]  # conv8k3 and fc32 have widths
    at.multiselect(key="sweep_names").set_value(["layer:4"]).run()
    at.text_input(key="sweep_values_layer:4").set_value("16, 64").run()
    no_exception(at)
    assert any("**2 trials** · estimated" in c.value for c in at.caption)


def one_done(axis, accuracy=0.97):
    """A sweep over `axis` with its first trial scored and the others waiting."""
    from core.runs.sweeps import SweepSpec, SweepView, Trial
    trials = [Trial(i, {axis.name: v, "seed": 0}, "waiting") for i, v in enumerate(axis.values)]
    trials[0] = Trial(0, {axis.name: axis.values[0], "seed": 0}, "finished", "r0", accuracy, 1, 3.0)
    return SweepView("s", "v:a", "running", SweepSpec({"dataset": "mnist"}, [axis]), "now",
                     trials=trials)


def test_the_sweep_chart_has_sensible_axes_with_one_trial_done():
    """One trial scored: the accuracy axis stays within 0..100% around it (it ran 0-150%),
    the setting's axis spans the planned values (it ran -0.5..1), on a log scale for
    rates that span decades even when typed as a list (they bunched at 0)."""
    from core.runs.sweeps import Axis
    from ui.train.sweep import sweep_figure
    fig = sweep_figure(one_done(Axis("lr", [0.00001, 0.0001, 0.001, 0.003])))
    low, high = fig.layout.yaxis.range
    assert 0.0 <= low < 0.97 < high <= 1.0 and fig.layout.yaxis.tickformat.endswith("%")
    assert fig.layout.xaxis.type == "log"
    left, right = fig.layout.xaxis.range  # log10 units
    assert left < -5 and -2.6 < right < -2
    assert list(fig.layout.xaxis.ticktext) == ["1e-05", "0.0001", "0.001", "0.003"]  # not "10µ"
    perfect = sweep_figure(one_done(Axis("lr", [0.001, 0.01]), accuracy=1.0))
    assert perfect.layout.yaxis.range[1] == 1.0  # never past 100%
    # A list with 0 among decades (weight decay): one category per value, in order.
    wd = sweep_figure(one_done(Axis("weight_decay", [0, 0.0001, 0.001])))
    assert wd.layout.xaxis.type == "category"
    assert list(wd.layout.xaxis.categoryarray) == ["0", "0.0001", "0.001"]
    assert list(wd.layout.xaxis.range) == [-0.5, 2.5]  # every value, not only those done
    assert wd.data[0].x == ("0",)
    # Batch sizes 32..128 stay linear, padded so that no point sits on the edge.
    bs = sweep_figure(one_done(Axis("batch_size", [32, 64, 128])))
    assert bs.layout.xaxis.type == "linear" and bs.layout.xaxis.range[0] < 32 < 128 < \
        bs.layout.xaxis.range[1]


def test_waiting_trials_read_as_waiting_and_counts_are_singular():
    from streamlit.testing.v1 import AppTest

    def script():
        from core.runs.sweeps import Axis
        from tests.test_app_sweep import one_done
        from ui.train.sweep import trials, trials_table
        import streamlit as st
        trials_table(one_done(Axis("lr", [0.001, 0.003])))
        st.caption(trials(1) + " · " + trials(2))

    at = AppTest.from_function(script).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0]
    assert table.proto.placeholder == "—"  # empty cells read "—", never "None"
    rows = table.value
    assert rows["State"].tolist() == ["finished", "waiting"]
    assert rows["Best val accuracy"].isna().tolist() == [False, True]
    assert rows["Epochs"].isna().tolist() == [False, True]
    assert at.caption[0].value == "1 trial · 2 trials"


def test_a_one_trial_sweep_says_1_trial(env):
    at = new_session("train")
    fill_train_form(at, epochs=1)
    at.multiselect(key="sweep_names").set_value(["lr"]).run()
    at.text_input(key="sweep_values_lr").set_value("0.003").run()
    no_exception(at)
    assert any(c.value.startswith("**1 trial** · estimated") for c in at.caption), \
        [c.value for c in at.caption]
