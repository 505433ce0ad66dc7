"""Predictions kept beside a checkpoint (weights/predictions/, a run's folder)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.networks.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint
from core.data import Split, load_split
from core.evaluate.metrics import Prediction, evaluate, predict_split, summarize
from core.evaluate.predictions import (evaluate_cached, load_predictions, predictions_path,
                                       save_predictions)
from core.networks.models import build_model


class Exploding:  # evaluate_cached must not run the model at all
    def eval(self):
        raise AssertionError("model used despite the stored predictions")


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "weights" / "mnist-ffnn-small.pt", build_model("ffnn-small"),
                           CheckpointMeta.new("mnist", "ffnn-small"))


def _ship(path, split):
    ckpt = load_checkpoint(path)
    pred = predict_split(ckpt.model, split, ckpt.meta.mean, ckpt.meta.std)
    return save_predictions(predictions_path(path), pred, path, split, ckpt.meta.mean,
                            ckpt.meta.std), ckpt


def test_shipped_predictions_are_used_without_the_model(model_file, fake_data_root, tmp_path):
    split = load_split("mnist", False, fake_data_root)
    saved, ckpt = _ship(model_file, split)
    assert saved == model_file.parent / "predictions" / "mnist-ffnn-small.npz"
    fresh = evaluate(ckpt.model, split, ckpt.meta.mean, ckpt.meta.std)
    res = evaluate_cached(Exploding(), model_file, split, ckpt.meta.mean, ckpt.meta.std,
                          folder=tmp_path / "empty-cache")
    assert not (tmp_path / "empty-cache").exists()  # nothing computed, nothing cached
    assert res.accuracy == fresh.accuracy and res.confusion_matrix == fresh.confusion_matrix
    assert res.mistake_indices == fresh.mistake_indices
    assert res.mistake_predicted == fresh.mistake_predicted
    assert np.allclose(res.mistake_probabilities, fresh.mistake_probabilities, atol=1e-3)
    assert res.loss == pytest.approx(fresh.loss)


def test_a_changed_checkpoint_or_split_ignores_them(model_file, fake_data_root, tmp_path):
    split = load_split("mnist", False, fake_data_root)
    _, ckpt = _ship(model_file, split)
    mean, std = ckpt.meta.mean, ckpt.meta.std
    other = Split(split.images.flip(2).contiguous(), split.labels)  # other data, same shape
    assert load_predictions(predictions_path(model_file), model_file, other, mean, std) is None
    with pytest.raises(AssertionError, match="model used"):
        evaluate_cached(Exploding(), model_file, other, mean, std, folder=tmp_path / "c1")
    torch.manual_seed(1)  # retrained: other bytes under the same name
    save_checkpoint(model_file, build_model("ffnn-small"), CheckpointMeta.new("mnist", "ffnn-small"))
    retrained = load_checkpoint(model_file)
    assert load_predictions(predictions_path(model_file), model_file, split, mean, std) is None
    res = evaluate_cached(retrained.model, model_file, split, mean, std, folder=tmp_path / "c2")
    assert res.loss == evaluate(retrained.model, split, mean, std).loss


def test_the_full_precision_class_wins_over_a_float16_tie(tmp_path, model_file):
    """0.49996 vs 0.50004 both round to 0.5 in float16: argmax of the stored values would
    say class 0, the model said class 1; the stored class keeps the summary exact."""
    labels = torch.tensor([1, 1])
    probs = torch.zeros(2, 10)
    probs[0, :2] = torch.tensor([0.49996, 0.50004])
    probs[1, 1] = 1.0
    pred = Prediction(probs, labels, 0.5)
    split = Split(torch.zeros(2, 28, 28, dtype=torch.uint8), labels)
    path = save_predictions(tmp_path / "p.npz", pred, model_file, split, 0.1, 0.3)
    loaded = load_predictions(path, model_file, split, 0.1, 0.3)
    assert loaded.probabilities[0, 0] == loaded.probabilities[0, 1]  # the tie, on disk
    assert loaded.predicted.tolist() == [1, 1]
    assert summarize(loaded).accuracy == summarize(pred).accuracy == 1.0


def test_a_run_keeps_its_predictions_in_its_folder(tmp_path, fake_data_root):
    run_dir = tmp_path / "runs" / "20260101-000000-mnist-ffnn-small-abcd"
    best = save_checkpoint(run_dir / "best.pt", build_model("ffnn-small"),
                           CheckpointMeta.new("mnist", "ffnn-small"))
    ckpt = load_checkpoint(best)
    split = load_split("mnist", False, fake_data_root)
    first = evaluate_cached(ckpt.model, best, split, ckpt.meta.mean, ckpt.meta.std,
                            folder=tmp_path / "cache1", keep_beside_checkpoint=True)
    assert (run_dir / "predictions" / "best.npz").is_file()
    again = evaluate_cached(Exploding(), best, split, ckpt.meta.mean, ckpt.meta.std,
                            folder=tmp_path / "cache2")
    assert again.accuracy == first.accuracy and again.mistake_indices == first.mistake_indices


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_evaluate_never_runs_a_shipped_default_model(dataset, real_data_root, tmp_path):
    """The first visit to Evaluate for the default (ResNet) model reads its shipped
    predictions: with an empty cache the model is not run at all."""
    from core.networks.catalog import default_model, list_models
    from tests.conftest import ROOT

    shipped = ROOT / "weights"
    entry = default_model(list_models(dataset, folder=shipped), dataset, folder=shipped)
    assert entry.architecture == "resnet"
    split = load_split(dataset, False, real_data_root)
    meta = load_checkpoint(entry.path).meta
    res = evaluate_cached(Exploding(), entry.path, split, meta.mean, meta.std,
                          folder=tmp_path / "empty-cache")
    assert res.accuracy == pytest.approx(entry.test_accuracy, abs=5e-5)
