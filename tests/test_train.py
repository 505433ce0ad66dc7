import pytest
import torch

from core.augment import random_erase, random_hflip, random_shift
from core.data import load_bundle
from core.train.config import ConfigError, TrainConfig
from core.train.loop import StepEvent, resume_config, train


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
    assert resume_config(last) == cfg(augment=True)
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
    from core.checkpoints import load_checkpoint
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
