"""core.runs.compare: which runs to open on and their labels, which settings differ
between runs, one metric's curves; and the percent axis the Compare chart draws them on."""
from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from core.runs.compare import (CurveMetric, compare_configs, default_runs,
                               metric_series, missing_note, run_labels)
from core.runs.snapshot import RunSnapshot
from core.train.config import TrainConfig
from core.train.summary import RunSummary
from core.runs.curves import training_curves
from ui.common.charts import percent_axis


def test_the_differing_fields_are_exactly_those_with_unequal_values():
    a = TrainConfig(model="cnn", epochs=5, lr=1e-3)
    b = TrainConfig(model="cnn", epochs=3, lr=0.001, augment=True)
    c = TrainConfig(model="resnet", epochs=5, lr=1e-3)
    assert compare_configs([a, b]).differing == ["epochs", "augment"]
    assert compare_configs([a, c]).differing == ["model"]
    assert compare_configs([a, b, c]).differing == ["model", "epochs", "augment"]  # field order
    assert compare_configs([a, TrainConfig(model="cnn", epochs=5)]).differing == []
    assert compare_configs([a]).differing == [] and compare_configs([]).differing == []


def test_the_table_has_every_field_with_each_runs_value():
    a, b = TrainConfig(seed=1), TrainConfig(seed=2, data_dir="/data")
    table = compare_configs([a, b])
    unused = {"layers", "erase", "adv_eps", "adv_steps"}  # do nothing for either run
    assert table.fields == [f.name for f in fields(TrainConfig) if f.name not in unused]
    assert table.values["seed"] == [1, 2]
    assert table.values["data_dir"] == [None, "/data"]
    assert table.differing == ["seed", "data_dir"]


def test_settings_that_do_nothing_for_a_run_are_left_out_or_blank():
    """Runs without adversarial training were listed with adv_eps 0.3 and adv_steps 7."""
    plain, fgsm = TrainConfig(), TrainConfig(adversarial="fgsm", adv_eps=0.1)
    assert "adv_eps" not in compare_configs([plain, plain]).fields
    table = compare_configs([plain, fgsm])
    assert table.values["adv_eps"] == [None, 0.1] and "adv_steps" not in table.fields
    assert table.differing == ["adversarial"]  # one run has a budget: nothing to differ
    assert TrainConfig(adversarial="pgd", augment=True).unused() == {"layers"}


def test_metric_series_picks_the_metric_and_its_axis():
    steps = [{"step": s, "loss": 2.0 / s} for s in range(1, 11)]
    epochs = [{"epoch": e, "step": 5 * e, "train_loss": 1.0 / e, "val_loss": 1.5 / e,
               "train_accuracy": 0.8, "val_accuracy": [0.8, 0.9][e - 1]} for e in (1, 2)]
    curves = training_curves(steps, epochs)
    assert metric_series(curves, CurveMetric.VAL_ACCURACY) == ([1, 2], [0.8, 0.9])
    assert metric_series(curves, CurveMetric.VAL_LOSS) == ([1, 2], [1.5, 0.75])
    x, y = metric_series(curves, CurveMetric.TRAIN_LOSS)
    assert x == list(range(1, 11)) and y == curves.loss_smooth
    assert CurveMetric.TRAIN_LOSS.x_title == "step" and CurveMetric.VAL_LOSS.x_title == "epoch"


# ------------------------------------------------------------------ which runs, how named

def _run(stamp: str, state: str = "finished", val: float | None = None, mine: bool = True,
         **cfg) -> RunSnapshot:
    config = TrainConfig(**{"dataset": "mnist", "model": "cnn", **cfg})
    result = None if val is None else RunSummary(dataset=config.dataset, val_accuracy=val)
    return RunSnapshot(id=f"20261205-{stamp}-{config.dataset}-{config.model}-ab12",
                       state=state, config=config, created="", result=result, mine=mine)


def test_compare_opens_on_the_viewers_best_finished_runs_not_the_newest():
    runs = [_run("120000", "diverged", val=0.098, lr=2.0),     # newest first
            _run("110000", val=0.101),                          # near chance
            _run("100000", val=0.985), _run("090000", val=0.991), _run("080000", val=0.97),
            _run("070000", val=0.999, mine=False),              # another visitor's
            _run("060000", "running")]
    assert default_runs(runs) == [runs[3].id, runs[2].id]
    assert default_runs(runs, n=1) == [runs[3].id]


def test_compare_prefers_the_sidebars_dataset_then_any_then_everyones_then_the_newest():
    mnist, fashion = _run("100000", val=0.99), _run("090000", val=0.91, dataset="fashion")
    assert default_runs([mnist, fashion], "fashion") == [fashion.id]
    assert default_runs([mnist, fashion], "mnist") == [mnist.id]
    theirs = _run("080000", val=0.95, mine=False)
    assert default_runs([theirs], "mnist") == [theirs.id]
    nothing_learned = [_run("120000", "running"), _run("110000", "diverged"),
                       _run("100000", val=0.1)]
    assert default_runs(nothing_learned) == [r.id for r in nothing_learned[:2]]


def test_runs_are_labelled_by_model_dataset_settings_and_result():
    runs = [_run("100000", val=0.99123, lr=3e-3, epochs=5),
            _run("090000", "diverged", lr=2.0, epochs=1, model="ffnn"),
            _run("080000", "running", dataset="fashion")]
    assert run_labels(runs) == ["cnn · mnist · lr 0.003 · 5 epochs · val 99.12%",
                                "ffnn · mnist · lr 2 · 1 epoch · diverged",
                                "cnn · fashion · lr 0.001 · 5 epochs · training"]
    twins = [_run("100000", val=0.99), _run("090000", val=0.99)]
    assert run_labels(twins) == ["cnn · mnist · lr 0.001 · 5 epochs · val 99.00% · 12-05 10:00:00 ab12",
                                 "cnn · mnist · lr 0.001 · 5 epochs · val 99.00% · 12-05 09:00:00 ab12"]


def test_a_handwriting_fine_tune_is_named_so_and_not_opened_on():
    """Compare opened on a fine-tune (its 99.9% is on 1,000 validation images, not the
    12,000 of every other run) and labelled it like a normal run."""
    tuned = _run("120000", val=0.999, model="resnet")
    tuned.finetune = {"base_name": "resnet (shipped)", "options": {"val_size": 1000}}
    runs = [tuned, _run("100000", val=0.985), _run("090000", val=0.991)]
    assert default_runs(runs) == [runs[2].id, runs[1].id]
    assert default_runs([tuned, _run("110000", "running")]) == [runs[0].id.replace(
        "120000", "110000").replace("resnet", "cnn")]  # nothing learned: the newest ordinary
    assert run_labels([tuned]) == ["resnet · mnist · fine-tuned on handwriting · val 99.90% "
                                   "of 1,000 images"]


def test_a_run_without_points_says_why():
    val = CurveMetric.VAL_ACCURACY
    assert missing_note(_run("1", "diverged"), val) == "diverged before its first validation"
    assert missing_note(_run("1", "cancelled"), val) == "ended before its first validation"
    assert missing_note(_run("1", "failed"), CurveMetric.TRAIN_LOSS) == \
        "ended before its first step"
    assert missing_note(_run("1", "running"), val) == "no validation accuracy recorded yet"
    assert missing_note(_run("1", "queued"), CurveMetric.VAL_LOSS) == \
        "no validation loss recorded yet"


@pytest.mark.parametrize("values,fmt", [
    ([0.0950, 0.0952, 0.0955, 0.0958], ".1%"),   # near chance: 9.5% on every tick before
    ([0.981, 0.985, 0.9912], ".1%"),
    ([0.1, 0.5, 0.97], ".0%"),
    ([0.5], ".1%"),                               # one point: half a percent either side
])
def test_percent_ticks_have_the_decimals_the_range_needs(values, fmt):
    axis = percent_axis(values)
    assert axis["tickformat"] == fmt
    bottom, top = axis["range"]
    assert 0 <= bottom <= min(values) and max(values) <= top <= 1
    ticks = np.arange(np.ceil(bottom / axis["dtick"] - 1e-9), top / axis["dtick"] + 1e-9)
    labels = [f"{t * axis['dtick']:{fmt}}" for t in ticks]
    assert 4 <= len(labels) <= 12 and len(set(labels)) == len(labels), labels
