"""Temperature scaling: the fit lowers the calibration error and changes no prediction; the
temperature travels in the checkpoint (plain data) and every consumer sees it; ECE by hand."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.networks.calibration import (Temperature, apply_temperature, calibrate,
                              expected_calibration_error, fit_temperature, reliability,
                              temperature_of)
from core.networks.checkpoints import CheckpointError, CheckpointMeta, load_checkpoint, read_payload, save_checkpoint
from core.data import Split
from core.export.exporting import export_file, wrapped
from core.networks.models import build_model
from core.predict.activations import layers

ROOT = Path(__file__).resolve().parent.parent


def _overconfident(n: int = 4000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that put ~7 nats on a class that is right 70% of the time: over-confident."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    right = torch.rand(n, generator=g) < 0.7
    guess = torch.where(right, labels, torch.randint(0, 10, (n,), generator=g))
    logits = torch.randn(n, 10, generator=g) + 7 * torch.nn.functional.one_hot(guess, 10)
    return logits, labels


def test_ece_by_hand():
    # Two samples at confidence 0.9 (one right), two at 0.6 (both right): bins (0.867, 0.933]
    # and (0.533, 0.6]: |0.5 - 0.9| * 2/4 + |1.0 - 0.6| * 2/4 = 0.4.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 1, 0, 1])
    rel = reliability(probs, labels, bins=15)
    assert rel.ece == pytest.approx(0.4)
    assert sum(rel.counts) == 4 and rel.counts[13] == 2 and rel.counts[8] == 2
    assert rel.accuracy[13] == pytest.approx(0.5) and rel.confidence[8] == pytest.approx(0.6)
    assert expected_calibration_error(np.eye(3), np.arange(3)) == pytest.approx(0.0)


def test_fit_lowers_the_error_and_changes_no_class():
    val_logits, val_labels = _overconfident(seed=0)
    t = fit_temperature(val_logits, val_labels)
    assert t > 1.0  # over-confident: the logits are softened
    test_logits, test_labels = _overconfident(seed=1)  # judged on other samples
    before = expected_calibration_error(test_logits.softmax(1), test_labels)
    after = expected_calibration_error((test_logits / t).softmax(1), test_labels)
    assert after < before / 3
    assert torch.equal((test_logits / t).argmax(1), test_logits.argmax(1))


def test_an_underconfident_model_gets_a_temperature_below_one():
    logits, labels = _overconfident()
    t = fit_temperature(logits / 20, labels)  # the same scores, far too flat
    assert t < 0.2


def test_temperature_layer_set_replaced_removed():
    model = build_model("ffnn-small")
    n = len(model)
    apply_temperature(model, 2.0)
    apply_temperature(model, 0.5)  # replaces, never stacks
    assert len(model) == n + 1 and temperature_of(model) == 0.5
    x = torch.randn(3, 1, 28, 28)
    model.eval()
    raw = model[:-1](x)
    assert torch.allclose(model(x), raw / 0.5)
    assert not any(isinstance(m, Temperature) for _, m in layers(model))  # not an "Inside" layer
    apply_temperature(model, 1.0)
    assert len(model) == n and temperature_of(model) == 1.0
    with pytest.raises(ValueError, match="outside"):
        apply_temperature(model, 0.0)


def test_calibrate_on_a_split_fits_on_the_raw_logits(tmp_path):
    torch.manual_seed(0)
    model = build_model("ffnn-small").eval()
    images = torch.randint(0, 256, (300, 28, 28), dtype=torch.uint8)
    labels = model(images[:, None].float() / 255).argmax(1)  # a model that is always right...
    split = Split(images, labels)
    apply_temperature(model, 7.0)  # ...whatever temperature it had before
    fit = calibrate(model, split, 0.0, 1.0)
    assert temperature_of(model) == fit.temperature < 1.0  # right every time: sharpen
    assert fit.val_ece_after <= fit.val_ece_before and fit.val_samples == 300


def test_the_temperature_travels_in_the_checkpoint_as_plain_data(tmp_path):
    model = apply_temperature(build_model("ffnn-small"), 0.6)
    meta = CheckpointMeta.new("mnist", "ffnn-small")
    with pytest.raises(ValueError, match="temperature"):  # the metadata must say it
        save_checkpoint(tmp_path / "bad.pt", model, meta)
    meta.temperature = 0.6
    path = save_checkpoint(tmp_path / "m.pt", model, meta)
    payload = read_payload(path)  # weights_only=True
    assert payload["meta"]["temperature"] == 0.6
    assert set(payload["state_dict"]) == set(build_model("ffnn-small").state_dict())
    loaded = load_checkpoint(path)
    assert temperature_of(loaded.model) == 0.6
    x = torch.randn(2, 1, 28, 28)
    assert torch.allclose(loaded.model(x), model.eval()(x))
    # A checkpoint written before calibration existed (no key) loads uncalibrated.
    del payload["meta"]["temperature"]
    torch.save(payload, tmp_path / "old.pt")
    assert temperature_of(load_checkpoint(tmp_path / "old.pt").model) == 1.0
    payload["meta"]["temperature"] = -1.0
    torch.save(payload, tmp_path / "neg.pt")
    with pytest.raises(CheckpointError, match="temperature"):
        load_checkpoint(tmp_path / "neg.pt")


def test_the_export_carries_the_temperature(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = apply_temperature(build_model("ffnn-small"), 0.5).eval()
    meta = CheckpointMeta.new("mnist", "ffnn-small")
    meta.temperature = 0.5
    ckpt_path = save_checkpoint(tmp_path / "m.pt", model, meta)
    ckpt = load_checkpoint(ckpt_path)
    out = export_file(ckpt, "onnx", tmp_path / "m.onnx")
    pixels = torch.rand(4, 1, 28, 28)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: pixels.numpy()})[0]
    expected = wrapped(ckpt)(pixels).detach()
    raw = model[:-1]((pixels - ckpt.meta.mean) / ckpt.meta.std).detach()
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-4)
    np.testing.assert_allclose(got, (raw / 0.5).numpy(), atol=1e-4)


def _manifest() -> dict:
    return json.loads((ROOT / "weights" / "manifest.json").read_text())


@pytest.mark.parametrize("entry", _manifest()["checkpoints"], ids=lambda e: e["file"])
def test_every_shipped_model_is_calibrated_on_validation(entry):
    """The shipped checkpoints carry the temperature scripts/calibrate_weights.py fitted, and
    the manifest's figures say it lowered the validation error."""
    meta = read_payload(ROOT / "weights" / entry["file"])["meta"]
    cal = entry["calibration"]
    assert meta["temperature"] == pytest.approx(cal["temperature"], abs=1e-4)
    assert cal["val_ece_after"] <= cal["val_ece_before"]


def test_a_training_run_ends_calibrated_on_validation(fake_data_root, tmp_path, capsys):
    from core.train import cli as train_cli
    out = tmp_path / "m.pt"
    assert train_cli.main(["--dataset", "mnist", "--model", "ffnn-small", "--epochs", "1",
                           "--device", "cpu", "--data-dir", str(fake_data_root),
                           "--out", str(out)]) == 0
    meta = read_payload(out)["meta"]
    fit = meta["metrics"]["calibration"]
    assert meta["temperature"] == fit["temperature"]
    assert fit["val_ece_after"] <= fit["val_ece_before"] and fit["val_samples"] > 0
    assert temperature_of(load_checkpoint(out).model) == meta["temperature"]
