import pytest
import torch

from core import data
from core.data import DataMissingError, load_bundle, load_split, train_val_indices
from tests.conftest import needs_real_data
from bench.fakedata import write_fake_dataset


def test_tiny_idx_files_load_through_torchvision(fake_data_root):
    split = load_split("mnist", train=True, root=fake_data_root)
    assert split.images.shape == (500, 28, 28) and split.images.dtype == torch.uint8
    assert split.labels.dtype == torch.int64 and sorted(split.labels.unique().tolist()) == list(range(10))
    test = load_split("fashion", train=False, root=fake_data_root)
    assert len(test) == 100


def test_splits_are_loaded_once_per_process(fake_data_root):
    a = load_split("mnist", True, fake_data_root)
    b = load_split("mnist", True, fake_data_root)
    assert a is b


def test_train_val_split_is_deterministic_and_disjoint():
    tr1, va1 = train_val_indices()
    tr2, va2 = train_val_indices()
    assert torch.equal(tr1, tr2) and torch.equal(va1, va2)
    assert len(tr1) == 48_000 and len(va1) == 12_000
    assert len(set(tr1.tolist()) & set(va1.tolist())) == 0
    assert sorted(tr1.tolist() + va1.tolist()) == list(range(60_000))
    _, other = train_val_indices(seed=1)
    assert not torch.equal(va1, other)


def test_bundle_keeps_test_apart(fake_data_root):
    b = load_bundle("mnist", fake_data_root)
    assert (len(b.train), len(b.val), len(b.test)) == (400, 100, 100)


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_DATA_ROOT, str(tmp_path / "env"))
    assert data.data_root() == (tmp_path / "env").resolve()
    assert data.data_root(tmp_path / "arg") == (tmp_path / "arg").resolve()
    monkeypatch.delenv(data.ENV_DATA_ROOT)
    assert data.data_root() == data.DEFAULT_DATA_ROOT


def test_missing_data_names_the_folder(tmp_path, monkeypatch):
    # No network here: simulate a failed download so the test never touches the internet.
    def no_network(*args, **kwargs):
        raise OSError("network unreachable")
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", no_network)
    with pytest.raises(DataMissingError) as err:
        load_split("fashion", True, tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in msg and "MNIST_STUDIO_DATA" in msg
    assert "network unreachable" in msg
    with pytest.raises(DataMissingError):
        load_split("mnist", False, tmp_path, download=False)


@needs_real_data
def test_real_data_shapes(real_data_root):
    for name in ("mnist", "fashion"):
        b = load_bundle(name, real_data_root)
        assert (len(b.train), len(b.val), len(b.test)) == (48_000, 12_000, 10_000)
        assert torch.bincount(b.test.labels).tolist() == (
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009] if name == "mnist" else [1000] * 10)
