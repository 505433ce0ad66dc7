"""core.runs.curves and ui.common.format: smoothing, thinning, durations."""
from __future__ import annotations

import numpy as np
import pytest

from core.runs.curves import auto_weight, smooth, thin, training_curves
from ui.common.format import format_duration


def test_smooth_is_debiased_and_flat_on_constant_input():
    assert np.allclose(smooth([2.0] * 50), 2.0)  # no drag toward 0 at the start
    out = smooth([0.0, 10.0], weight=0.5)
    assert out[0] == 0.0 and out[1] == pytest.approx(10 * 0.5 / 0.75)
    assert smooth([]).shape == (0,)
    with pytest.raises(ValueError):
        smooth([1.0], weight=1.0)


def test_thin_keeps_ends_and_bounds_size():
    assert thin(5, 10).tolist() == [0, 1, 2, 3, 4]
    idx = thin(10_000, 400)
    assert len(idx) <= 400 and idx[0] == 0 and idx[-1] == 9_999
    assert (np.diff(idx) > 0).all()


def test_training_curves_from_snapshot_events():
    steps = [{"epoch": 1, "step": i + 1, "loss": 2.0 / (i + 1)} for i in range(1000)]
    epochs = [{"epoch": 1, "step": 500, "train_loss": 0.5, "val_loss": 0.4,
               "train_accuracy": 0.8, "val_accuracy": 0.85},
              {"epoch": 2, "step": 1000, "train_loss": 0.3, "val_loss": 0.35,
               "train_accuracy": 0.9, "val_accuracy": 0.88}]
    c = training_curves(steps, epochs, max_points=100)
    assert len(c.step) <= 100 and c.step[-1] == 1000
    assert len(c.loss) == len(c.loss_smooth) == len(c.step)
    assert c.epoch == [1, 2] and c.epoch_step == [500, 1000]
    assert c.val_accuracy == [0.85, 0.88]
    empty = training_curves([], [])
    assert empty.step == [] and empty.epoch == []


def test_format_duration():
    assert format_duration(7) == "0:07"
    assert format_duration(245) == "4:05"
    assert format_duration(3723) == "1:02:03"
    assert format_duration(None) == "—"
    assert format_duration(float("inf")) == "—"


def test_auto_weight_smooths_long_runs_more():
    assert auto_weight(10) == 0.0
    assert 0.3 < auto_weight(32) < 0.5
    assert auto_weight(10_000) == 0.95


def _smooth_loop(values, weight):
    """The plain loop smooth() replaced: the definition it must keep matching."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc = weight * acc + (1.0 - weight) * v
        out.append(acc / (1.0 - weight ** (i + 1)))
    return np.array(out)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000, 300_000])
def test_smooth_equals_the_loop(weight, n):
    rng = np.random.default_rng(n)
    losses = rng.lognormal(0.0, 1.0, n) * np.linspace(3.0, 0.1, n)  # positive, falling, noisy
    assert np.allclose(smooth(losses, weight), _smooth_loop(losses, weight), rtol=1e-9, atol=0)
    signed = rng.normal(0.0, 1.0, n)  # mixed signs: near-zero averages need an absolute bound
    assert np.allclose(smooth(signed, weight), _smooth_loop(signed, weight), rtol=1e-9,
                       atol=1e-12)
