"""The static step (the CUDA graph's step, run without the graph) against the eager step,
on the CPU: same model, same batches, same schedule, the same losses."""
import pytest
import torch
from torch import nn

from core.networks.models import build_model
from core.train.config import TrainConfig
from core.train.optim import make_optimizer, make_scheduler, shadow_scheduler
from core.train.step import EagerStep, StaticStep, StepInputs, schedule_table


def _run(kind: str, optimizer: str, steps: int = 20, start_step: int = 0):
    cfg = TrainConfig(dataset="mnist", model="fastcnn", batch_size=16, lr=1e-2,
                      optimizer=optimizer, schedule="onecycle", device="cpu")
    torch.manual_seed(0)
    model = build_model(cfg.model)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    opt = make_optimizer(cfg, model, torch.device("cpu"), capturable=True)
    sched = make_scheduler(cfg, opt, steps, cycle_momentum=False)  # as a graph run's
    inputs = StepInputs(x, y, 16, 0.1, False, None)
    if kind == "static":
        step = StaticStep(model, opt, sched, inputs, shadow_scheduler(cfg, steps), start_step, steps)
    else:
        step = EagerStep(model, opt, sched, inputs)
    losses, lrs = [], []
    for i in range(steps):
        torch.manual_seed(i)
        step(torch.randint(0, 64, (16,)))
        lrs.append(step.lr)
        losses.append(step.watch.read()[0])
    return losses, lrs, step


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_the_static_step_trains_like_the_eager_step(optimizer):
    static, static_lrs, s = _run("static", optimizer)
    eager, eager_lrs, e = _run("eager", optimizer)
    assert torch.allclose(torch.tensor(static_lrs), torch.tensor(eager_lrs), rtol=1e-6)
    assert torch.allclose(torch.tensor(static), torch.tensor(eager), rtol=1e-4, atol=1e-5)
    s.sync_scheduler()  # a checkpoint then holds the eager run's scheduler state
    assert s.sched.state_dict()["last_epoch"] == e.sched.state_dict()["last_epoch"] == 20
    assert s.opt.param_groups[0]["lr"] is s.lr_t  # the optimizer still reads the tensors


def test_the_schedule_table_is_the_schedulers_own():
    cfg = TrainConfig(dataset="mnist", model="fastcnn", lr=1e-2)
    opt = make_optimizer(cfg, nn.Linear(1, 1), torch.device("cpu"))
    sched = make_scheduler(cfg, opt, 50)
    table = schedule_table(shadow_scheduler(cfg, 50), 50, torch.device("cpu"))
    for k in range(50):
        assert table[k].item() == pytest.approx(opt.param_groups[0]["lr"], rel=1e-6)
        opt.step()
        sched.step()
    assert table[0] < table[12] and table[49] < table[0]  # warm-up, then anneal


def test_a_loss_watch_keeps_the_peak_between_reads():
    from core.train.step import LossWatch
    watch = LossWatch(torch.device("cpu"))
    logits, y = torch.zeros(4, 10), torch.zeros(4, dtype=torch.int64)
    for loss in [2.3, 700.0, 2.3, 2.3, 2.3]:
        watch.update(torch.tensor(loss), logits, y)
    last, peak, nonfinite = watch.read()
    assert last == pytest.approx(2.3) and peak == pytest.approx((2.3 + 700) / 2)  # at step 2
    assert not nonfinite
    watch.update(torch.tensor(float("nan")), logits, y)
    assert watch.read()[2] is True and watch.read()[2] is False  # a read resets it
