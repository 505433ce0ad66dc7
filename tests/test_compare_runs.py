"""core.runs.compare: which settings differ between runs, and one metric's curves."""
from __future__ import annotations

from dataclasses import fields

from core.runs.compare import CurveMetric, compare_configs, differing_fields, metric_series
from core.train.config import TrainConfig
from core.runs.curves import training_curves


def test_the_differing_fields_are_exactly_those_with_unequal_values():
    a = TrainConfig(model="cnn", epochs=5, lr=1e-3)
    b = TrainConfig(model="cnn", epochs=3, lr=0.001, augment=True)
    c = TrainConfig(model="resnet", epochs=5, lr=1e-3)
    assert differing_fields([a, b]) == ["epochs", "augment"]
    assert differing_fields([a, c]) == ["model"]
    assert differing_fields([a, b, c]) == ["model", "epochs", "augment"]  # field order
    assert differing_fields([a, TrainConfig(model="cnn", epochs=5)]) == []
    assert differing_fields([a]) == [] and differing_fields([]) == []


def test_the_table_has_every_field_with_each_runs_value():
    a, b = TrainConfig(seed=1), TrainConfig(seed=2, data_dir="/data")
    table = compare_configs([a, b])
    assert table.fields == [f.name for f in fields(TrainConfig)]
    assert table.values["seed"] == [1, 2]
    assert table.values["data_dir"] == [None, "/data"]
    assert table.differing == ["seed", "data_dir"]


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
