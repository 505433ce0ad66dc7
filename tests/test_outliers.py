"""Outlier exposure and canvas redraws (core.train.outliers, the step, the CLI), and the
threshold a run records when it ends."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import core.train.outliers as outliers
from core.data import load_bundle
from core.networks.checkpoints import load_checkpoint
from core.networks.models import logits_of
from core.predict.ood import OWN_KEY, own_calibration, unfamiliarity
from core.predict.ood_sets import kinds_for, redraws
from core.predict.photos import garment_photo
from core.train import cli as train_cli
from core.train.config import ConfigError, TrainConfig
from core.train.loop import train
from core.train.outliers import exposure_pools, make_pools, uniform_cross_entropy
from core.train.resume import resume_point
from core.train.step import Exposure


@pytest.fixture
def small_pools(monkeypatch, tmp_path):
    """Pools of a few images per family, in a cache folder of the test's own."""
    monkeypatch.setattr(outliers, "PER_KIND", 12)
    monkeypatch.setattr(outliers, "REDRAWS", 40)
    monkeypatch.setenv("MNIST_STUDIO_CACHE", str(tmp_path / "cache"))


def cfg(**kw):
    base = dict(dataset="mnist", model="ffnn-small", epochs=2, batch_size=32, lr=3e-3,
                device="cpu", seed=0)
    return TrainConfig(**{**base, **kw})


def test_the_outlier_loss_is_least_for_a_uniform_answer():
    shrug = torch.zeros(4, 10)
    sure = torch.tensor([[10.0] + [0.0] * 9] * 4)
    assert uniform_cross_entropy(shrug).item() == pytest.approx(math.log(10))
    assert uniform_cross_entropy(sure).item() > uniform_cross_entropy(shrug).item() + 3


def test_redraws_replace_a_share_of_the_batch_with_their_own_labels():
    torch.manual_seed(0)
    x, y = torch.zeros(8, 1, 28, 28), torch.zeros(8, dtype=torch.long)
    pool = torch.ones(5, 1, 28, 28)
    exposure = Exposure(torch.zeros(3, 1, 28, 28), 0.5, 4, pool, torch.full((5,), 7), 0.25)
    x2, y2 = exposure.swap_in_redraws(x, y)
    assert (x2[:2] == 1).all() and (x2[2:] == 0).all()
    assert y2.tolist() == [7, 7] + [0] * 6
    assert exposure.outlier_batch_of(x.device).shape == (4, 1, 28, 28)
    off = Exposure(torch.zeros(3, 1, 28, 28), 0.0, 0, pool, torch.full((5,), 7), 0.0)
    assert off.outlier_batch_of(x.device) is None
    assert off.swap_in_redraws(x, y)[0] is x


def test_pools_hold_every_training_family_and_labelled_redraws(fake_data_root, tmp_path):
    train_split = load_bundle("fashion", fake_data_root).train
    pools = make_pools("fashion", train_split, fake_data_root, per_kind=3, redraws=10)
    # every training family, digits drawn on the canvas for garments, "other" twice as many
    families = len(kinds_for("fashion", "train"))
    assert "drawn_digit" in kinds_for("fashion", "train")
    assert pools.outliers.shape == (3 * (families + 1), 28, 28)
    assert pools.outliers.dtype == torch.uint8
    assert 0 < len(pools.redrawn) <= 10 and len(pools.redrawn_labels) == len(pools.redrawn)
    again = exposure_pools("fashion", train_split, fake_data_root, tmp_path, 3, 10)
    assert torch.equal(again.outliers, pools.outliers)  # made, then read from the cache
    assert list((tmp_path / "exposure").glob("fashion-*.npz"))
    assert torch.equal(exposure_pools("fashion", train_split, fake_data_root, tmp_path, 3,
                                      10).redrawn, pools.redrawn)


def test_outlier_exposure_teaches_a_shrug_on_outliers(fake_data_root, small_pools):
    bundle = load_bundle("mnist", fake_data_root)
    pools = exposure_pools("mnist", bundle.train, str(fake_data_root))
    held = torch.from_numpy(np.ascontiguousarray(pools.outliers.numpy()))

    def mean_msp(model) -> float:
        return float(-unfamiliarity(logits_of(model, held, 0.1307, 0.3081), "msp").mean())

    plain = train(cfg(data_dir=str(fake_data_root)), bundle)
    exposed = train(cfg(data_dir=str(fake_data_root), outlier_exposure=1.0), bundle)
    assert mean_msp(exposed.model) < mean_msp(plain.model) - 0.1
    assert exposed.best_val_accuracy > 0.6  # and it still learns its classes
    assert exposed.step_mode == "eager"


def test_a_run_with_exposure_resumes_exactly(fake_data_root, small_pools, tmp_path):
    bundle = load_bundle("mnist", fake_data_root)
    settings = cfg(data_dir=str(fake_data_root), outlier_exposure=0.5, canvas_redraws=0.25,
                   augment=True)
    last, steps = tmp_path / "last.pt", []
    stopped = train(settings, bundle, steps.append,
                    lambda: sum(e.kind == "step" for e in steps) >= 17, last_path=last)
    assert stopped.stopped and resume_point(last).config == settings
    resumed = train(settings, bundle, resume_from=last)
    whole = train(settings, bundle)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_the_settings_are_checked_and_become_flags():
    with pytest.raises(ConfigError, match="outlier_exposure must be between 0 and 5"):
        cfg(outlier_exposure=9)
    with pytest.raises(ConfigError, match="canvas_redraws must be between 0 and 1"):
        cfg(canvas_redraws=1.5)
    help_text = train_cli.parser().format_help()
    for flag in ("--outlier-exposure", "--canvas-redraws", "--init-from"):
        assert flag in help_text


def test_init_from_starts_at_a_checkpoints_weights_and_refuses_another_kind(
        fake_data_root, tmp_path, capsys, small_pools):
    base = tmp_path / "base.pt"
    common = ["--dataset", "mnist", "--epochs", "1", "--batch-size", "64", "--device", "cpu",
              "--data-dir", str(fake_data_root)]
    assert train_cli.main([*common, "--model", "ffnn-small", "--out", str(base)]) == 0
    tuned = tmp_path / "tuned.pt"
    assert train_cli.main([*common, "--model", "ffnn-small", "--init-from", str(base), "--lr",
                           "1e-5", "--schedule", "constant", "--outlier-exposure", "0.5",
                           "--out", str(tuned)]) == 0
    a, b = load_checkpoint(base).model.state_dict(), load_checkpoint(tuned).model.state_dict()
    # A tiny rate from the base's weights stays near them; from scratch it would not.
    assert all(torch.allclose(a[k], b[k], atol=0.05) for k in a if a[k].is_floating_point())
    capsys.readouterr()
    assert train_cli.main([*common, "--model", "bn-cnn", "--init-from", str(base),
                           "--out", str(tmp_path / "x.pt")]) == 2
    assert "is a mnist ffnn-small model" in capsys.readouterr().err


def test_a_finished_run_records_its_own_threshold(fake_data_root, tmp_path):
    out = tmp_path / "run.pt"
    assert train_cli.main(["--dataset", "mnist", "--model", "ffnn-small", "--epochs", "1",
                           "--device", "cpu", "--data-dir", str(fake_data_root),
                           "--out", str(out)]) == 0
    meta = load_checkpoint(out).meta
    cal = own_calibration(meta.metrics)
    assert cal is not None and OWN_KEY in meta.metrics
    assert cal.score == "energy" and cal.val_false_alarm <= 0.05 + 1e-9
    assert cal.val_quantiles[0][0] == 0 and cal.val_quantiles[-1][0] == 100
    assert own_calibration({}) is None and own_calibration({OWN_KEY: "junk"}) is None


def test_garment_redraws_are_photographed(fake_data_root):
    garments = load_bundle("fashion", fake_data_root).train.images[:3].numpy()
    photos = redraws(garments, "fashion", seed=5)
    rng = np.random.default_rng(5)
    again = np.stack([garment_photo(garment, rng) for garment in garments])
    assert photos.shape == (3, 28, 28) and photos.dtype == np.uint8
    assert np.array_equal(photos, again)  # the same photos as scripts/real_inputs.py takes
    assert not np.array_equal(photos, garments)  # lit, blurred, noisy: not the clean image
