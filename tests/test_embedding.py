"""core.evaluate.embedding: penultimate features, their 2-D PCA, and the disk cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.data import Split
from core.evaluate import embedding as emb_mod
from core.evaluate.embedding import (embedding_cached, embedding_path, pca_2d,
                                     penultimate_features)
from core.networks.models import build_model


def _split(n: int = 60, seed: int = 0) -> Split:
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g),
                 torch.arange(n) % 10)


def test_pca_finds_the_directions_of_largest_variance():
    rng = np.random.default_rng(0)
    n = 500
    # Variance 100 along feature 3, 9 along feature 0, 1 elsewhere (5 features).
    x = rng.normal(size=(n, 5))
    x[:, 3] *= 10
    x[:, 0] *= 3
    coords, explained = pca_2d(x + 7.0)
    assert coords.shape == (n, 2) and coords.dtype == np.float32
    centred = x - x.mean(0)
    # Up to sign, PC1 is feature 3 and PC2 is feature 0 (nearly: the sample is finite).
    assert abs(np.corrcoef(coords[:, 0], centred[:, 3])[0, 1]) > 0.99
    assert abs(np.corrcoef(coords[:, 1], centred[:, 0])[0, 1]) > 0.99
    total = centred.var(0, ddof=1).sum()
    np.testing.assert_allclose(explained, [coords[:, 0].var(ddof=1) / total,
                                           coords[:, 1].var(ddof=1) / total], rtol=1e-4)
    assert explained[0] > explained[1] > 0 and explained.sum() < 1


def test_pca_is_deterministic_including_the_axes_signs():
    x = np.random.default_rng(1).normal(size=(200, 16))
    a, _ = pca_2d(x)
    b, _ = pca_2d(x.copy())
    c, _ = pca_2d(-x)  # the same cloud mirrored: the sign rule gives the same picture mirrored
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.abs(a), np.abs(c), atol=1e-5)


def test_pca_refuses_too_few_points():
    with pytest.raises(ValueError):
        pca_2d(np.zeros((1, 4)))


@pytest.mark.parametrize("arch, width", [("ffnn-small", 64), ("cnn", 256), ("resnet", 128)])
def test_penultimate_features_are_the_last_linear_input(arch, width):
    torch.manual_seed(0)
    model, split = build_model(arch), _split(30)
    feats = penultimate_features(model, split, 0.13, 0.31, batch_size=7)
    assert feats.shape == (30, width)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    from core.data import normalize
    model.eval()
    with torch.no_grad():
        logits = model(normalize(split.images, 0.13, 0.31))
    np.testing.assert_allclose(last(torch.from_numpy(feats)).detach().numpy(), logits.numpy(),
                               rtol=1e-4, atol=1e-4)
    assert not last._forward_pre_hooks


def test_the_map_is_computed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model, split = build_model("ffnn-small"), _split()
    ckpt = tmp_path / "m.pt"
    torch.save(model.state_dict(), ckpt)
    calls = []
    real = emb_mod.penultimate_features
    monkeypatch.setattr(emb_mod, "penultimate_features",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    first = embedding_cached(model, ckpt, split, 0.13, 0.31, folder=tmp_path / "cache")
    assert first.coords.shape == (len(split), 2)
    np.testing.assert_array_equal(first.labels, split.labels.numpy())
    assert embedding_path(ckpt, split, 0.13, 0.31, tmp_path / "cache").is_file()
    second = embedding_cached(model, ckpt, split, 0.13, 0.31, folder=tmp_path / "cache")
    assert len(calls) == 1  # the second came from disk
    np.testing.assert_array_equal(first.coords, second.coords)
    np.testing.assert_array_equal(first.explained, second.explained)
    # Other data or a changed checkpoint is another key: computed again.
    embedding_cached(model, ckpt, _split(seed=1), 0.13, 0.31, folder=tmp_path / "cache")
    assert len(calls) == 2
    # A damaged file is computed again, not an error.
    embedding_path(ckpt, split, 0.13, 0.31, tmp_path / "cache").write_bytes(b"garbage")
    again = embedding_cached(model, ckpt, split, 0.13, 0.31, folder=tmp_path / "cache")
    assert len(calls) == 3
    np.testing.assert_allclose(again.coords, first.coords, atol=1e-5)


def test_a_map_shipped_beside_the_checkpoint_is_used_without_the_model(tmp_path, monkeypatch):
    from core.evaluate.embedding import embed, embedding_if_known, shipped_path, write_shipped
    torch.manual_seed(0)
    model, split = build_model("ffnn-small"), _split()
    ckpt = tmp_path / "weights" / "m.pt"
    ckpt.parent.mkdir()
    torch.save(model.state_dict(), ckpt)
    made = embed(model, split, 0.13, 0.31)
    path = write_shipped(ckpt, made, split, 0.13, 0.31)
    assert path == tmp_path / "weights" / "embeddings" / "m.npz" == shipped_path(ckpt)
    monkeypatch.setattr(emb_mod, "penultimate_features",
                        lambda *a, **k: pytest.fail("the model ran despite the shipped map"))
    shipped = embedding_cached(model, ckpt, split, 0.13, 0.31, folder=tmp_path / "cache")
    np.testing.assert_allclose(shipped.coords, made.coords, rtol=1e-3, atol=1e-3)  # float16
    assert not embedding_path(ckpt, split, 0.13, 0.31, tmp_path / "cache").exists()
    # Made from other data, or for another checkpoint: not this map.
    assert embedding_if_known(ckpt, _split(seed=1), 0.13, 0.31, tmp_path / "cache") is None
    ckpt.write_bytes(ckpt.read_bytes() + b"retrained")
    assert embedding_if_known(ckpt, split, 0.13, 0.31, tmp_path / "cache") is None
