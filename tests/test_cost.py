"""The estimate shown before Start, and checked against the per-run limit."""
import math

from core.data import TRAIN_SIZE, VAL_SIZE
from core.server.settings import RunSettings
from core.train.config import TrainConfig
from core.train.cost import estimate_minutes, training_flops_per_sample


def test_flops_are_counted_by_torch():
    # cnn: 1.95 M multiply-adds per sample forward, about 11.7 MFLOP per training sample.
    assert 11e6 < training_flops_per_sample("cnn") < 12e6
    assert training_flops_per_sample("resnet") > 10 * training_flops_per_sample("cnn")


def test_small_batches_pay_for_their_steps():
    """FLOPs alone made 200 epochs of ffnn-small at batch 32 look like 2 minutes."""
    s = RunSettings(cpu_gflops=40.0, cpu_step_ms=1.0)
    cfg = TrainConfig(model="ffnn-small", epochs=200, batch_size=32, device="cpu")
    flops = 200 * (TRAIN_SIZE + VAL_SIZE / 3) * training_flops_per_sample("ffnn-small")
    steps = 200 * math.ceil(TRAIN_SIZE / 32)
    expected = (flops / 40e9 + steps * 1e-3) / 60
    assert math.isclose(estimate_minutes(cfg, s), expected)
    assert estimate_minutes(cfg, s) > 5  # the per-step term dominates here
    larger = TrainConfig(model="ffnn-small", epochs=200, batch_size=512, device="cpu")
    assert estimate_minutes(larger, s) < estimate_minutes(cfg, s) / 2  # same FLOPs, 1/16 the steps
