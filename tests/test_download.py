"""`python -m core.data download`: verify, download what is missing, fail fast offline.

Nothing here reaches the network: the connection probe and torchvision's download
are replaced wherever a download could start.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import core.data.download as dl
from core.data import DATASETS, DataMissingError, missing_message, get_spec
from core.data.cli import build_parser, main
from tests.conftest import ROOT, needs_real_data, REAL_DATA
from bench.fakedata import write_fake_dataset


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def offline(monkeypatch):
    """No network: every connection attempt fails at once, and is recorded."""
    attempts = []

    def refuse(address, timeout=None, *args, **kwargs):
        attempts.append((address, timeout))
        raise OSError("Network is unreachable")

    monkeypatch.setattr(dl.socket, "create_connection", refuse)
    import torchvision.datasets.utils as tv_utils
    monkeypatch.setattr(tv_utils, "download_and_extract_archive",
                        lambda *a, **k: pytest.fail("tried to download while offline"))
    return attempts


@pytest.fixture
def fake_checksummed(tmp_path, monkeypatch):
    """Tiny fake IDX files whose MD5s are made the expected ones (mnist)."""
    root = write_fake_dataset(tmp_path / "data", "mnist", seed=3)
    raw = root / "MNIST" / "raw"
    monkeypatch.setitem(dl.CHECKSUMS, "mnist", {f: _md5(raw / f) for f in dl.FILES})
    return root


def test_cli_choices_come_from_the_datasets():
    parser = build_parser()
    assert parser.parse_args(["download"]).dataset == "all"
    for name in DATASETS:
        assert parser.parse_args(["download", "--dataset", name]).dataset == name
    with pytest.raises(SystemExit):
        parser.parse_args(["download", "--dataset", "cifar"])
    assert dl.dataset_names("all") == list(DATASETS)


@needs_real_data
def test_real_data_verifies_and_nothing_is_downloaded(offline, capsys):
    """Read-only on the shared data: checksums only, no network, no writes."""
    for name in DATASETS:
        assert [s.state for s in dl.verify(name, REAL_DATA)] == ["ok"] * 4, name
    start = time.perf_counter()
    assert main(["download", "--data-dir", str(REAL_DATA)]) == 0
    took = time.perf_counter() - start
    out = capsys.readouterr().out
    for name in DATASETS:
        assert f"{name}: already present, all 4 files verified" in out
    assert "nothing downloaded" in out and offline == []
    print(f"verify both real datasets: {took:.2f} s")


def test_present_files_are_verified_and_kept(fake_checksummed, offline):
    before = {p: p.stat().st_mtime_ns for p in (fake_checksummed / "MNIST" / "raw").iterdir()}
    seen = []
    result = dl.download("mnist", fake_checksummed, progress=lambda f, t: seen.append(f))
    assert result.already_present and result.downloaded == ()
    assert seen[-1] == 1.0 and offline == []
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_a_corrupt_file_is_named_and_left_alone(fake_checksummed, offline, capsys):
    bad = fake_checksummed / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    data = bytearray(bad.read_bytes())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(dl.DataCorruptError) as err:
        dl.download("mnist", fake_checksummed)
    assert str(bad) in str(err.value) and "checksum" in str(err.value)
    assert "train-images" not in str(err.value)  # only the bad one is named
    assert bad.read_bytes() == bytes(data)  # not deleted, not overwritten
    assert main(["download", "--dataset", "mnist", "--data-dir", str(fake_checksummed)]) == 2
    assert "t10k-labels-idx1-ubyte" in capsys.readouterr().err


def test_fake_files_fail_the_real_checksums(tmp_path, offline):
    root = write_fake_dataset(tmp_path, "fashion", seed=1)
    states = {s.name: s.state for s in dl.verify("fashion", root)}
    assert states == {f: "corrupt" for f in dl.FILES}


def test_offline_fails_fast_with_the_missing_data_message(tmp_path, offline, capsys):
    start = time.perf_counter()
    with pytest.raises(DataMissingError) as err:
        dl.download("fashion", tmp_path / "empty")
    assert time.perf_counter() - start < 2.0
    message = str(err.value)
    assert message.startswith(missing_message(get_spec("fashion"), (tmp_path / "empty")))
    assert "no network" in message and err.value.dataset == "fashion"
    assert offline and all(timeout <= dl.CONNECT_TIMEOUT_S <= 3 for _, timeout in offline)
    assert not (tmp_path / "empty").exists()  # nothing written
    assert main(["download", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "not found under" in capsys.readouterr().err


def test_missing_files_are_fetched_through_torchvision_and_verified(tmp_path, monkeypatch):
    """torchvision's download stands in: it writes the (fake) file the archive would hold."""
    source = write_fake_dataset(tmp_path / "source", "mnist", seed=4) / "MNIST" / "raw"
    monkeypatch.setitem(dl.CHECKSUMS, "mnist", {f: _md5(source / f) for f in dl.FILES})
    monkeypatch.setattr(dl, "_reachable_mirrors", lambda mirrors: mirrors[:1])
    calls = []

    def fake_fetch(url, download_root, filename, md5, remove_finished):
        calls.append((url, filename, md5))
        name = filename[:-3]
        (Path(download_root) / name).write_bytes((source / name).read_bytes())

    import torchvision.datasets.utils as tv_utils
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_fetch)
    root = tmp_path / "data"
    write_fake_dataset(root, "mnist", seed=4)
    (root / "MNIST" / "raw" / "train-images-idx3-ubyte").unlink()  # one missing
    seen = []
    result = dl.download("mnist", root, progress=lambda f, t: seen.append((f, t)))
    assert result.downloaded == ("train-images-idx3-ubyte",)
    mirror = get_spec("mnist").torchvision_class.mirrors[0]
    assert calls == [(mirror + "train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz",
                      dict(get_spec("mnist").torchvision_class.resources)[
                          "train-images-idx3-ubyte.gz"])]
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("Downloading train-images-idx3-ubyte" in t for _, t in seen)


def test_the_module_runs_from_a_shell(tmp_path):
    """`python -m core.data download` on fake data: the corrupt files are named, exit 2
    (no network needed: nothing is missing, so nothing is fetched)."""
    root = write_fake_dataset(tmp_path, "mnist", seed=1)
    done = subprocess.run([sys.executable, "-m", "core.data", "download", "--dataset", "mnist",
                           "--data-dir", str(root)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 2, done.stderr
    assert "wrong checksum" in done.stderr and "train-images-idx3-ubyte" in done.stderr


def test_tests_read_the_documented_data_variable(tmp_path):
    """tests.conftest takes the real data from $MNIST_STUDIO_DATA (read once, at import)."""
    code = "from tests.conftest import REAL_DATA; print(REAL_DATA)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, MNIST_STUDIO_DATA=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path)
