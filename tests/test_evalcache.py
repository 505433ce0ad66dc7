"""core.evaluate.predictions' cache: cached evaluations are the same numbers as core.evaluate's."""
from __future__ import annotations

import numpy as np
import torch

from core.networks.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint
from core.data import load_split
from core.evaluate.predictions import ENV_CACHE, cache_dir, evaluate_cached
from core.evaluate.metrics import evaluate
from core.networks.models import build_model


def test_cached_equals_fresh_and_is_reused(tmp_path, fake_data_root, monkeypatch):
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    path = save_checkpoint(tmp_path / "m.pt", build_model("ffnn-small"),
                           CheckpointMeta.new("mnist", "ffnn-small"))
    ckpt = load_checkpoint(path)
    split = load_split("mnist", False, fake_data_root)
    fresh = evaluate(ckpt.model, split, ckpt.meta.mean, ckpt.meta.std)
    first = evaluate_cached(ckpt.model, path, split, ckpt.meta.mean, ckpt.meta.std)
    files = list((cache_dir() / "evaluations").glob("*.npz"))
    assert len(files) == 1

    class Exploding:  # a second call must not run the model at all
        def eval(self):
            raise AssertionError("model used despite the cache")

    second = evaluate_cached(Exploding(), path, split, ckpt.meta.mean, ckpt.meta.std)
    for res in (first, second):
        assert res.accuracy == fresh.accuracy and res.loss == fresh.loss
        assert res.confusion_matrix == fresh.confusion_matrix
        assert res.mistake_indices == fresh.mistake_indices
        assert np.array_equal(res.mistake_probabilities, fresh.mistake_probabilities)


def test_changed_checkpoint_is_evaluated_again(tmp_path, fake_data_root):
    split = load_split("mnist", False, fake_data_root)
    path = tmp_path / "m.pt"
    results = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        save_checkpoint(path, build_model("ffnn-small"), CheckpointMeta.new("mnist", "ffnn-small"))
        ckpt = load_checkpoint(path)
        results.append(evaluate_cached(ckpt.model, path, split, ckpt.meta.mean, ckpt.meta.std,
                                       folder=tmp_path / "cache"))
        assert results[-1].loss == evaluate(ckpt.model, split, ckpt.meta.mean, ckpt.meta.std).loss
    assert len(list((tmp_path / "cache" / "evaluations").glob("*.npz"))) == 2


def test_unwritable_cache_still_gives_results(tmp_path, fake_data_root):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    path = save_checkpoint(tmp_path / "m.pt", build_model("ffnn-small"),
                           CheckpointMeta.new("mnist", "ffnn-small"))
    ckpt = load_checkpoint(path)
    split = load_split("mnist", False, fake_data_root)
    res = evaluate_cached(ckpt.model, path, split, ckpt.meta.mean, ckpt.meta.std, folder=blocker)
    assert 0 <= res.accuracy <= 1
