"""Classify's "I don't know" (AppTest): a flag says why in words, a model without a
threshold says the check is not available, and a run's own threshold is used."""
from __future__ import annotations

import re
import shutil

import numpy as np
import torch

import core.train.outliers as outliers
from core.data import load_bundle
from core.networks.checkpoints import load_checkpoint, read_payload, save_checkpoint
from core.predict.ood import (OWN_KEY, Calibration, file_sha1, quantiles_of, unfamiliarity,
                              write_calibrations)
from core.predict.preprocess import from_canvas
from core.runs.api import get_service
from core.train.outliers import make_pools, pool_path
from tests.apptest import (ADMIN, digit_canvas, fill_train_form, metric_value, new_session,
                           no_exception, upload_model)
from tests.test_app_model_files import FLAG
from ui.common.state import CANVAS_RGBA

NOT_AVAILABLE = "“I don't know” is not available for this model"


def _canvas_score(path) -> float:
    ckpt = load_checkpoint(path)
    with torch.no_grad():
        logits = ckpt.model(from_canvas(digit_canvas(), "mnist").tensor)
    return float(unfamiliarity(logits, "energy")[0])


def _calibration(value: float, offset: float, sha1: str = "") -> Calibration:
    """A threshold `offset` above `value`; the validation scores spread below it, so the
    input is more unusual than nearly all of them when it is past the threshold."""
    threshold = value + offset
    val = np.concatenate([np.linspace(threshold - 5, threshold, 95),
                          np.linspace(threshold, threshold + 0.5, 6)[1:]])
    return Calibration("energy", threshold, 0.05, 0.05, checkpoint_sha1=sha1,
                       val_quantiles=quantiles_of(val))


def _classify(at):
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    no_exception(at)
    assert metric_value(at, "Prediction")  # answered, flagged or not
    return at


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_a_flag_says_why_in_words(env, tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    shutil.copytree(env["weights"], folder)
    path = folder / "mnist-ffnn-small.pt"
    value = _canvas_score(path)
    write_calibrations(folder / "ood.json", {path.name: _calibration(
        value, -0.05, file_sha1(path))})
    monkeypatch.setenv("MNIST_STUDIO_WEIGHTS", str(folder))
    at = _classify(new_session())
    assert any(FLAG in w.value for w in at.warning)
    why = [c for c in _captions(at) if c.startswith("**Why:**")]
    assert why, _captions(at)
    # How unusual, against the real images, in percent; and how often real ones are flagged.
    assert re.search(r"more unusual than \d+(\.\d)?% of the real digits", why[0]), why[0]
    assert "1 real digit in 20" in why[0], why[0]
    # No raw score in what a person reads (the numbers are in the caption's help).
    assert "Unfamiliarity" not in why[0] and f"{value:.3f}" not in why[0]
    assert NOT_AVAILABLE not in " ".join(_captions(at))


def test_an_input_within_the_threshold_shows_no_reason(env, tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    shutil.copytree(env["weights"], folder)
    path = folder / "mnist-ffnn-small.pt"
    write_calibrations(folder / "ood.json", {path.name: _calibration(
        _canvas_score(path), +0.05, file_sha1(path))})
    monkeypatch.setenv("MNIST_STUDIO_WEIGHTS", str(folder))
    at = _classify(new_session())
    assert not any(FLAG in w.value for w in at.warning)
    assert not any(c.startswith("**Why:**") or NOT_AVAILABLE in c for c in _captions(at))


def test_a_model_without_a_threshold_says_the_check_is_not_available(env):
    at = _classify(new_session())  # the test weights have no ood.json
    said = [c for c in _captions(at) if NOT_AVAILABLE in c]
    assert said and "threshold" in said[0], _captions(at)
    assert not any(FLAG in w.value for w in at.warning)


def test_an_uploaded_run_checkpoint_uses_the_threshold_its_run_recorded(env, tmp_path):
    """A run records its own threshold when it ends (core.evaluate.final.finish); such a
    checkpoint, uploaded, is checked against it."""
    source = env["weights"] / "mnist-ffnn-small.pt"
    ckpt = load_checkpoint(source)
    value = _canvas_score(source)
    ckpt.meta.metrics = {**ckpt.meta.metrics,
                         OWN_KEY: _calibration(value, -0.05).__dict__}
    path = tmp_path / "run.pt"
    save_checkpoint(path, ckpt.model, ckpt.meta)
    assert OWN_KEY in read_payload(path)["meta"]["metrics"]
    at = upload_model(new_session(), "run.pt", path.read_bytes())
    at = _classify(at)
    assert any(FLAG in w.value for w in at.warning)
    assert any(c.startswith("**Why:**") for c in _captions(at))


def test_the_train_form_runs_outlier_exposure_and_the_run_knows(env):
    """Outlier exposure and canvas redraws from the Train form: the run trains with them
    (its pools read from the cache, made small here) and records its own threshold."""
    train_split = load_bundle("mnist", env["data"]).train
    pools = make_pools("mnist", train_split, env["data"], per_kind=4, redraws=20)
    path = pool_path(env["cache"], "mnist", train_split, outliers.PER_KIND, outliers.REDRAWS, 0)
    path.parent.mkdir(parents=True)
    np.savez_compressed(path, outliers=pools.outliers.numpy(), redrawn=pools.redrawn.numpy(),
                        redrawn_labels=pools.redrawn_labels.numpy())
    at = new_session("train")
    fill_train_form(at, epochs=1)
    at.number_input(key="train_outlier_exposure").set_value(0.5)
    at.number_input(key="train_canvas_redraws").set_value(0.25)
    at.button(key="train_start").click().run()
    no_exception(at)
    svc = get_service()
    (run,) = svc.list_runs(ADMIN)
    snap = svc.wait(run.id, ADMIN, timeout=180)
    assert snap.state == "finished", snap.error
    assert (snap.config.outlier_exposure, snap.config.canvas_redraws) == (0.5, 0.25)
    meta = load_checkpoint(snap.best_checkpoint).meta
    assert meta.hyperparameters["outlier_exposure"] == 0.5
    assert OWN_KEY in meta.metrics
