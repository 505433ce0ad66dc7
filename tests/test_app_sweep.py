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
