import pytest
import torch

from core.train.augment import random_erase, random_hflip, random_shift
from core.data import load_bundle
from core.train.config import ConfigError, TrainConfig
from core.train.events import StepEvent
from core.train.loop import train
from core.train.resume import resume_point


@pytest.fixture(scope="module")
def bundle(fake_data_root):
    return load_bundle("mnist", fake_data_root)


def cfg(**kw):
    base = dict(dataset="mnist", model="ffnn-small", epochs=3, batch_size=32, lr=3e-3,
                device="cpu", seed=0)
    return TrainConfig(**{**base, **kw})


def test_short_training_lowers_the_loss(bundle):
    events = []
    result = train(cfg(), bundle, events.append)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if e.kind == "epoch"]
    assert len(steps) == result.steps == 3 * 13 and len(epochs) == 3
    first, last = sum(s.loss for s in steps[:5]) / 5, sum(s.loss for s in steps[-5:]) / 5
    assert last < first * 0.5
    assert epochs[-1].val_loss < epochs[0].val_loss
    assert result.best_val_accuracy > 0.6  # chance is 0.1; the fake classes are easy
    assert result.samples_per_second > 0 and result.train_seconds > 0
    assert all(s.lr > 0 and s.samples_per_second > 0 for s in steps)


def test_same_seed_same_weights(bundle):
    a = train(cfg(epochs=1), bundle).model.state_dict()
    b = train(cfg(epochs=1), bundle).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stop_request_ends_within_one_step(bundle):
    steps = []
    result = train(cfg(epochs=50), bundle, lambda e: steps.append(e) if e.kind == "step" else None,
                   should_stop=lambda: len(steps) >= 7)
    assert result.stopped and result.steps == 7 and len(steps) == 7
    # Stopped before the first epoch ended: the weights were still validated and kept.
    assert 0 < result.best_epoch < 1 and result.best_val_loss < float("inf")


def test_resume_continues_from_the_saved_step(bundle, tmp_path):
    last = tmp_path / "last.pt"
    steps = []
    stopped = train(cfg(augment=True), bundle, steps.append,
                    lambda: sum(e.kind == "step" for e in steps) >= 20, last_path=last)
    assert stopped.stopped and stopped.steps == 20
    assert resume_point(last).config == cfg(augment=True)
    resumed_steps = []
    resumed = train(cfg(augment=True), bundle, resumed_steps.append, resume_from=last)
    first = [e for e in resumed_steps if e.kind == "step"][0]
    assert first.step == 21 and not resumed.stopped and resumed.steps == 39
    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    # Exactly the run that was never interrupted: same batches, same dropout, same shifts.
    whole = train(cfg(augment=True), bundle)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert whole.best_val_loss == pytest.approx(resumed.best_val_loss, rel=1e-5)


def test_best_checkpoint_is_chosen_on_validation(bundle, tmp_path):
    from core.networks.checkpoints import load_checkpoint
    result = train(cfg(epochs=2), bundle, best_path=tmp_path / "best.pt")
    best = min(result.history, key=lambda h: h.val_loss)
    ck = load_checkpoint(tmp_path / "best.pt")
    assert ck.meta.metrics["val_loss"] == pytest.approx(best.val_loss)
    assert ck.meta.metrics["best_epoch"] == best.epoch


@pytest.mark.parametrize("model", ["cnn", "bn-cnn", "fastcnn", "resnet"])
def test_conv_models_train_with_augmentation(fake_data_root, model):
    b = load_bundle("fashion", fake_data_root)
    r = train(cfg(dataset="fashion", model=model, epochs=1, batch_size=64, augment=True, erase=6,
                  optimizer="sgd", lr=0.05), b)
    assert r.steps == 7 and r.best_val_loss < float("inf")


@pytest.mark.parametrize("batch_size", [400, 200, 100, 50])
def test_onecycle_copes_with_runs_of_a_few_steps(bundle, batch_size):
    # Regression: OneCycleLR raised ZeroDivisionError for runs of about 4 steps.
    result = train(cfg(epochs=1, batch_size=batch_size), bundle)
    assert result.steps == 400 // batch_size and result.best_val_loss < float("inf")


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError):
        TrainConfig(model="nope")
    with pytest.raises(ValueError):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError):
        TrainConfig(epochs=0)


def test_invalid_setting_message_names_the_field_and_its_range():
    with pytest.raises(ConfigError, match=r"^epochs must be between 1 and 200, got 500$"):
        TrainConfig(epochs=500)
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_values({"lr": 5, "optimizer": "lbfgs", "seed": "abc"})
    assert err.value.problems == {
        "lr": "lr must be between 1e-05 and 2, got 5",
        "optimizer": "unknown optimizer 'lbfgs': optimizer must be one of adam, adamw, sgd",
        "seed": "seed must be a whole number between 0 and 2147483647, got 'abc'",
    }
    with pytest.raises(ConfigError, match="unknown optimizer 'lbfgs': optimizer must be one "
                                          "of adam, adamw, sgd"):
        TrainConfig.from_values({"optimizer": "lbfgs"})
    # Values a person entered are converted to each field's type, not rounded.
    assert TrainConfig.from_values({"epochs": 3.0, "lr": 1, "augment": 1}) == \
        TrainConfig(epochs=3, lr=1.0, augment=True)
    with pytest.raises(ConfigError, match="epochs must be a whole number"):
        TrainConfig.from_values({"epochs": 2.5})


def test_shift_moves_content_without_changing_it():
    torch.manual_seed(0)
    x = torch.full((64, 1, 28, 28), -1.0)
    x[:, :, 13, 13] = 5.0
    y = random_shift(x, 2, fill=-1.0)
    pos = (y[:, 0] == 5.0).flatten(1).float().argmax(1)
    rows, cols = pos // 28, pos % 28
    assert ((rows - 13).abs() <= 2).all() and ((cols - 13).abs() <= 2).all()
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10
    assert ((y == 5.0).sum((1, 2, 3)) == 1).all()


def test_flip_and_erase():
    torch.manual_seed(0)
    x = torch.arange(28.0).repeat(200, 1, 28, 1)
    f = random_hflip(x)
    flipped = (f[:, 0, 0, 0] == 27).float().mean()
    assert 0.3 < flipped < 0.7 and torch.equal(f.sort(-1).values, x)
    e = random_erase(x + 1, 6, fill=0.0, p=1.0)
    erased = (e == 0).sum((1, 2, 3))
    assert (erased > 0).all() and (erased <= 49).all()


def test_a_diverging_run_ends_early_and_names_the_learning_rate(bundle):
    """lr 2.0 sent the loss to 8,926 while the page said Finished: it must end as diverged."""
    from core.train.summary import RunSummary
    steps = []
    result = train(cfg(lr=2.0), bundle, lambda e: steps.append(e) if e.kind == "step" else None)
    assert result.diverged and not result.stopped
    assert result.steps < 13 and len(steps) == result.steps  # ended early, in the first epoch
    assert result.divergence.startswith(f"the loss rose to ")
    assert f"at step {result.steps}" in result.divergence
    assert "learning rate 2 is too high for adam; try <= 0.01" in result.divergence
    summary = RunSummary.of(result)
    assert summary.diverged and summary.divergence == result.divergence
    healthy = train(cfg(epochs=1), bundle)
    assert not healthy.diverged and healthy.divergence is None and healthy.steps == 13


def test_a_nan_loss_is_a_divergence():
    from core.train.health import DivergenceWatch
    watch = DivergenceWatch(cfg(lr=0.5, optimizer="sgd", weight_decay=0.5), start_loss=2.3)
    assert watch.check(36, 2.5) is None and watch.check(37, 3.0) is None  # noise is not
    assert watch.check(38, float("nan")) == (
        "the loss became nan at step 38: learning rate 0.5 is too high for sgd; try <= 0.1; "
        "weight decay 0.5 is large; try <= 0.01")


def test_huge_weight_decay_is_flagged_near_chance(bundle):
    """Weight decay 1.0 does not blow the loss up, it pins it at chance: the summary says so."""
    from core.train.health import likely_cause
    from core.train.summary import RunSummary
    result = train(cfg(weight_decay=1.0, lr=1e-2), bundle)
    summary = RunSummary.of(result)
    assert not result.diverged and summary.near_chance  # best val accuracy under 20%
    assert likely_cause(result.config) == "weight decay 1 is large; try <= 0.01"
    assert not RunSummary.of(train(cfg(epochs=1), bundle)).near_chance


def test_a_crash_mid_epoch_resumes_from_the_last_timed_save(bundle, tmp_path):
    """last.pt was written only at epoch ends, so a kill repeated the steps since."""
    from core.networks.checkpoints import read_payload

    class Killed(Exception):
        pass

    def crash_at(step: int):
        def should_stop():  # a kill: no stop, no save of its own
            if len(steps) >= step:
                raise Killed
            return False
        return should_stop

    last, steps = tmp_path / "last.pt", []
    on_step = lambda e: steps.append(e) if e.kind == "step" else None
    with pytest.raises(Killed):
        train(cfg(augment=True), bundle, on_step, crash_at(20), last_path=last)
    assert read_payload(last)["progress"]["global_step"] == 13  # default: epoch ends only
    steps.clear()
    with pytest.raises(Killed):
        train(cfg(augment=True), bundle, on_step, crash_at(20), last_path=last,
              save_every_seconds=0.0)
    progress = read_payload(last)["progress"]
    assert (progress["global_step"], progress["step_in_epoch"]) == (20, 7)  # mid-epoch 2
    resumed_steps = []
    resumed = train(cfg(augment=True), bundle, resumed_steps.append, resume_from=last)
    assert [e.step for e in resumed_steps if e.kind == "step"] == list(range(21, 40))
    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    whole = train(cfg(augment=True), bundle)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert [h.train_loss for h in whole.history] == pytest.approx(
        [h.train_loss for h in resumed.history], rel=1e-5)


@pytest.fixture
def calls(monkeypatch):
    """What the trainer does, in order: its events' kinds, and "validate" for each pass."""
    from core.train import loop

    record = []
    real_validate = loop.validate

    def validate(*args, **kwargs):
        record.append("validate")
        return real_validate(*args, **kwargs)
    monkeypatch.setattr(loop, "validate", validate)
    return record


def test_a_stop_is_announced_before_the_validation_that_follows(bundle, calls):
    """The page says Stopped when the StopEvent arrives: it must not wait for the
    validation pass (tens of seconds for resnet on a CPU) that keeps a usable model."""
    steps = lambda: calls.count("step")  # noqa: E731
    result = train(cfg(epochs=3), bundle, lambda ev: calls.append(ev.kind),
                   should_stop=lambda: steps() >= 3)
    assert result.stopped and calls.count("stop") == 1
    assert calls.index("stop") < calls.index("validate")  # said first, validated after
    assert result.best_val_loss < float("inf")  # the stopped run still has a validated model


def test_a_stop_during_validation_is_announced_then_and_ends_the_run(bundle, calls):
    result = train(cfg(epochs=3), bundle, lambda ev: calls.append(ev.kind),
                   should_stop=lambda: "validate" in calls)  # asked for as validation starts
    assert result.stopped and calls.count("epoch") == 1  # the first epoch completes, no more
    assert calls.index("validate") < calls.index("stop") < calls.index("epoch")


def test_a_resumed_optimizer_stays_fused_even_if_the_saving_run_was_not(bundle, tmp_path):
    """load_state_dict copies the saved param_groups, "fused" included: a file saved
    before fused steps (or on a device without them) would slow every resumed step."""
    from core.networks.models import build_model
    from core.train.optim import make_optimizer, make_scheduler
    from core.train.resume import restore_training

    last = tmp_path / "last.pt"
    steps = []
    train(cfg(), bundle, steps.append, lambda: len(steps) >= 2, last_path=last)
    payload = torch.load(last, weights_only=True)
    assert [g["fused"] for g in payload["optimizer"]["param_groups"]] == [True]
    for group in payload["optimizer"]["param_groups"]:
        group["fused"] = None  # as written before fused steps
    torch.save(payload, last)

    model = build_model("ffnn-small")
    opt = make_optimizer(cfg(), model, torch.device("cpu"))
    progress, _ = restore_training(last, model, opt, make_scheduler(cfg(), opt, 3 * 13))
    assert progress["global_step"] == 2
    assert [g["fused"] for g in opt.param_groups] == [True]


def test_a_divergence_between_reads_is_caught(bundle, monkeypatch):
    """On a GPU the loss is read every 20 steps. lr 2.0 sent it into the hundreds at step 2
    and the dead network was back near 2.3 by step 20, so a watch fed only the read losses
    let the run finish. The device-side peak makes every step count, on every device."""
    from core.train import loop
    monkeypatch.setattr(loop, "READ_EVERY", {**loop.READ_EVERY, "cpu": 20})
    steps = []
    result = train(cfg(model="cnn", lr=2.0, batch_size=8, epochs=1), bundle,
                   lambda e: steps.append(e) if e.kind == "step" else None)
    assert [s.step for s in steps] == [20]  # one read: the first 20 steps were not read
    assert result.diverged and result.steps == 20
    assert "learning rate 2 is too high for adam" in result.divergence


@pytest.mark.parametrize("native", [True, False])
def test_the_step_mode_and_precision_are_reported(bundle, monkeypatch, native):
    from core.machine import device
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native)
    result = train(cfg(epochs=1), bundle)
    assert result.step_mode == "eager" and "CUDA graphs are for NVIDIA GPUs" in result.step_note
    assert result.precision == ("bf16 autocast" if native else "fp32")
    assert result.setup_seconds == 0.0
