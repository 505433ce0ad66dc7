"""Nearest training images (core/predict/neighbours.py): exact over the stored features,
kept per checkpoint and never used for another, for every kind of model the app serves."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data import load_bundle
from core.evaluate.embedding import last_linear, penultimate_features
from core.networks.calibration import apply_temperature
from core.networks.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint
from core.networks.models import ARCHITECTURES, CUSTOM, build_model
from core.predict import neighbours as nb
from core.predict.neighbours import (FeatureIndex, NoFeatures, Neighbour, Neighbours,
                                     cached_path, compute_features, feature_problem,
                                     features_path, load_features, neighbours, save_features,
                                     stored_index, training_index)
from core.server.uploads import accept_upload
from core.train.config import TrainConfig
from core.train.loop import train
from tests.conftest import needs_real_data

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"
TOLERANCE = 1e-6  # float32 rounding: two ways of summing the same dot product


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)


def _brute_force(stored: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Every cosine with the stored vectors, in float64: the reference."""
    a = stored.astype(np.float64)
    q = query.astype(np.float64)
    lengths = np.linalg.norm(a, axis=1)
    return (a @ q) / (np.where(lengths > 0, lengths, np.inf) * np.linalg.norm(q))


def _assert_top_k(found: list[tuple[int, float]], cosines: np.ndarray, k: int) -> None:
    """`found` is a top k of `cosines`: each its own cosine, nearest first, and none left
    out that is nearer than the k-th (up to float32 rounding of equal-looking cosines)."""
    assert len(found) == k and len({i for i, _ in found}) == k
    for i, similarity in found:
        assert similarity == pytest.approx(cosines[i], abs=TOLERANCE)
    values = [s for _, s in found]
    assert all(a >= b for a, b in zip(values, values[1:]))
    best = np.sort(cosines)[::-1][:k]
    assert np.allclose(np.sort(cosines[[i for i, _ in found]])[::-1], best, atol=TOLERANCE)


# ------------------------------------------------------------------ the search

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_query_is_a_brute_force_search_in_float32(seed):
    rng = np.random.default_rng(seed)
    stored = _unit(rng, 20_000, 64)  # several chunks of the search
    stored[5] = 0  # a dead unit: similar to nothing, and no division by zero
    index = FeatureIndex(stored, torch.from_numpy(rng.integers(0, 10, 20_000)))
    same = 0
    for _ in range(20):
        query = rng.standard_normal(64).astype(np.float32)
        cosines = _brute_force(stored, query)
        found = index.nearest(torch.from_numpy(query), 8)
        _assert_top_k(found, cosines, 8)
        same += [i for i, _ in found] == list(np.argsort(-cosines, kind="stable")[:8])
    assert same >= 18  # the very same list, but for a swap of two cosines equal in float32
    sims = index.similarities(torch.from_numpy(query)).numpy()
    assert sims[5] == 0 and np.allclose(sims, cosines, atol=TOLERANCE)


def test_equal_cosines_come_in_index_order():
    stored = np.zeros((6, 3), np.float16)
    stored[[4, 1, 3]] = [1, 0, 0]
    stored[[0, 2, 5]] = [0, 1, 0]
    index = FeatureIndex(stored, torch.arange(6))
    assert [i for i, _ in index.nearest(torch.tensor([1.0, 0.0, 0.0]), 4)] == [1, 3, 4, 0]
    assert [i for i, _ in index.nearest(torch.tensor([0.0, 2.0, 0.0]), 10)] == [0, 2, 5, 1, 3, 4]


def test_counting_the_answer_among_them():
    found = Neighbours([Neighbour(0, 4, 0.9), Neighbour(1, 9, 0.8), Neighbour(2, 4, 0.7),
                        Neighbour(3, 7, 0.6), Neighbour(4, 9, 0.5)], predicted=4)
    assert found.agreeing == 2
    assert found.label_counts() == [(4, 2), (9, 2), (7, 1)]  # a tie: the nearer label first


def test_a_query_of_another_width_is_refused():
    index = FeatureIndex(_unit(np.random.default_rng(0), 10, 4), torch.arange(10))
    with pytest.raises(ValueError, match="a query of 5 features for an index of 4"):
        index.nearest(torch.ones(5))


# ------------------------------------------------------------------ a model's features

@pytest.fixture(scope="module")
def trained(tmp_path_factory, fake_data_root) -> Path:
    """A fastcnn trained one epoch on the fake data, saved as a checkpoint."""
    cfg = TrainConfig(dataset="mnist", model="fastcnn", epochs=1, batch_size=32,
                      device="cpu", data_dir=str(fake_data_root), schedule="constant")
    result = train(cfg, load_bundle("mnist", fake_data_root))
    path = tmp_path_factory.mktemp("model") / "mnist-fastcnn.pt"
    save_checkpoint(path, result.model, CheckpointMeta.new("mnist", "fastcnn"))
    return path


@pytest.fixture
def split(fake_data_root):
    return load_bundle("mnist", fake_data_root).train


def test_stored_features_are_the_models_within_float16_rounding(trained, split):
    ck = load_checkpoint(trained)
    stored = compute_features(ck.model, split, ck.meta.mean, ck.meta.std)
    exact = penultimate_features(ck.model, split, ck.meta.mean, ck.meta.std)
    exact = exact / np.linalg.norm(exact, axis=1, keepdims=True)
    assert stored.dtype == np.float16 and stored.shape == exact.shape == (len(split), 128)
    assert np.abs(stored.astype(np.float32) - exact).max() <= 2 ** -11


def test_an_image_of_the_training_set_finds_itself_first(trained, split):
    ck = load_checkpoint(trained)
    index = FeatureIndex(compute_features(ck.model, split, ck.meta.mean, ck.meta.std),
                         split.labels)
    for i in (0, 17, len(split) - 1):
        x = ((split.images[i].float() / 255 - ck.meta.mean) / ck.meta.std)[None, None]
        found = neighbours(ck.model, index, x, k=8)
        assert found.items[0].index == i and found.items[0].similarity == pytest.approx(1, abs=1e-3)
        assert found.items[0].label == int(split.labels[i])
        assert found.predicted == int(ck.model(x).argmax())
        assert found.agreeing == sum(n.label == found.predicted for n in found.items)


def test_kept_once_and_never_used_for_another_checkpoint(trained, split, tmp_path, monkeypatch):
    ck = load_checkpoint(trained)
    mean, std = ck.meta.mean, ck.meta.std
    assert stored_index(trained, split, mean, std, tmp_path) is None
    seen = []
    first = training_index(ck.model, trained, split, mean, std, tmp_path,
                           on_progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(split), len(split)) and len(seen) == math.ceil(len(split) / nb.BATCH)
    assert cached_path(trained, split, mean, std, tmp_path).is_file()
    monkeypatch.setattr(nb, "compute_features", lambda *a, **k: pytest.fail("computed again"))
    again = training_index(ck.model, trained, split, mean, std, tmp_path)
    assert torch.equal(again.vectors, first.vectors)
    # The same weights, saved again: other bytes, so another model as far as the file knows.
    other = tmp_path / "retrained.pt"
    save_checkpoint(other, ck.model, CheckpointMeta.new("mnist", "fastcnn", {"epochs": 2}))
    assert stored_index(other, split, mean, std, tmp_path) is None
    assert load_features(cached_path(trained, split, mean, std, tmp_path), other, split,
                         mean, std) is None
    assert load_features(cached_path(trained, split, mean, std, tmp_path), trained,
                         split.subset(torch.arange(10)), mean, std) is None  # other images


def test_shipped_beside_the_checkpoint_is_read_first_and_a_stale_one_ignored(trained, split,
                                                                             tmp_path):
    ck = load_checkpoint(trained)
    mean, std = ck.meta.mean, ck.meta.std
    folder = tmp_path / "weights"
    folder.mkdir()
    ckpt = folder / trained.name
    ckpt.write_bytes(trained.read_bytes())
    features = compute_features(ck.model, split, mean, std)
    save_features(features_path(ckpt), features, ckpt, split, mean, std)
    assert features_path(ckpt) == folder / "neighbours" / "mnist-fastcnn.npz"
    assert stored_index(ckpt, split, mean, std, tmp_path / "cache") is not None
    # Retrained in place: the shipped file no longer matches, so it is computed afresh.
    save_checkpoint(ckpt, ck.model, CheckpointMeta.new("mnist", "fastcnn", {"retrained": 1}))
    assert stored_index(ckpt, split, mean, std, tmp_path / "cache") is None
    index = training_index(ck.model, ckpt, split, mean, std, tmp_path / "cache")
    assert len(index) == len(split)
    features_path(ckpt).write_bytes(b"damaged")
    assert load_features(features_path(ckpt), ckpt, split, mean, std) is None


# ------------------------------------------------------------------ every kind of model

def _trained_checkpoint(path: Path, arch: str, layers: str, data) -> Path:
    cfg = TrainConfig(dataset="mnist", model=arch, layers=layers, epochs=1, batch_size=64,
                      device="cpu", schedule="constant")
    result = train(cfg, data)
    save_checkpoint(path, result.model, CheckpointMeta.new("mnist", arch, layers=layers))
    return path


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_built_in_architecture_has_features(arch):
    model = build_model(arch)
    assert feature_problem(model) is None
    assert feature_problem(apply_temperature(model, 0.5)) is None  # a calibrated one too


def test_custom_uploaded_and_finetuned_models_have_neighbours(fake_data_root, split, tmp_path):
    data = load_bundle("mnist", fake_data_root)
    custom = _trained_checkpoint(tmp_path / "custom.pt", CUSTOM, "conv8k3,pool2,relu,fc24,relu,fc10",
                                 data)
    uploaded = accept_upload(custom.read_bytes(), "mine.pt", tmp_path / "uploads").path
    base = load_checkpoint(_trained_checkpoint(tmp_path / "base.pt", "ffnn-small", "", data))
    tuned_cfg = TrainConfig(dataset="mnist", model="ffnn-small", epochs=1, batch_size=64,
                            device="cpu", lr=1e-4, schedule="constant")
    tuned = train(tuned_cfg, data, init_weights=base.model.state_dict())  # a fine-tune's start
    finetuned = tmp_path / "finetuned.pt"
    save_checkpoint(finetuned, tuned.model, CheckpointMeta.new("mnist", "ffnn-small"))
    for path, width in ((custom, 24), (uploaded, 24), (finetuned, 64)):
        ck = load_checkpoint(path)
        index = training_index(ck.model, path, split, ck.meta.mean, ck.meta.std, tmp_path / "c")
        assert index.width == width
        x = ((split.images[3].float() / 255 - ck.meta.mean) / ck.meta.std)[None, None]
        assert neighbours(ck.model, index, x).items[0].index == 3


@pytest.mark.parametrize("layers, why", [
    ("fc10", "its only learned layer is the classifier itself"),
    ("pool2,relu,flatten,bn,fc10", "its only learned layer is the classifier itself"),
    ("conv8k3,fc10", "its last hidden layer gives 5,408 numbers per image"),
])
def test_a_model_without_features_of_its_own_says_so(layers, why, split):
    model = build_model(CUSTOM, layers)
    assert why in feature_problem(model)
    with pytest.raises(NoFeatures, match="No nearest training images for this model: " + why):
        compute_features(model, split, 0.1307, 0.3081)
    with pytest.raises(NoFeatures):
        nb.input_features(model, torch.zeros(1, 1, 28, 28))


# ------------------------------------------------------------------ the shipped files

def _defaults() -> list[str]:
    manifest = json.loads((WEIGHTS / "manifest.json").read_text())
    return sorted(manifest["default"].values())


@pytest.mark.parametrize("file", _defaults())
def test_the_defaults_ship_their_features_small(file):
    path = features_path(WEIGHTS / file)
    assert path.is_file(), f"{path} is missing: run python -m scripts.ship_neighbours"
    ck = load_checkpoint(WEIGHTS / file)
    width = last_linear(ck.model).in_features
    with np.load(path) as saved:
        assert saved["features"].shape == (48_000, width)
        assert saved["features"].dtype == np.float16
    assert path.stat().st_size <= 48_000 * width * 2 + 4096  # compressed, never more than raw


@needs_real_data
@pytest.mark.parametrize("file", _defaults())
def test_the_shipped_features_are_the_checkpoints(file, real_data_root):
    """Keyed to the checkpoint as it is now (a retrained default needs the script run
    again), and equal to freshly computed features on a sample of the images."""
    path = WEIGHTS / file
    ck = load_checkpoint(path)
    split = load_bundle(ck.meta.dataset, real_data_root).train
    stored = load_features(features_path(path), path, split, ck.meta.mean, ck.meta.std)
    assert stored is not None, (f"{features_path(path)} is stale: run "
                                "python -m scripts.ship_neighbours")
    sample = torch.from_numpy(np.random.default_rng(0).choice(len(split), 300, replace=False))
    fresh = compute_features(ck.model, split.subset(sample), ck.meta.mean, ck.meta.std)
    assert np.abs(stored[sample.numpy()].astype(np.float32) - fresh.astype(np.float32)).max() \
        <= 2 ** -10
