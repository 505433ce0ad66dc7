"""Fine-tuning on a small labelled set (core/train/finetune.py): the command line, the app's
fine-tune run through the run system, and every refusal's message. Tiny data: the fake
IDX datasets (tests/fakedata.py), a 1-epoch ffnn-small, and a synthetic writer whose
digits the base model never saw."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.networks.checkpoints import CheckpointMeta, save_checkpoint
from core.data import load_bundle
from core.data.handwriting import HandwritingSet
from core.data.imageset import npz_bytes, read_npz
from core.runs.finetune import finetune_runs, submit_finetune
from core.runs.api import RunService
from core.runs.state import RunState
from core.runs.job import RunRecorder, execute
from core.server.settings import load_settings
from core.train import cli
from core.train.config import TrainConfig
from core.train.finetune import (FinetuneError, FinetuneOptions, check_set, read_measure,
                                 split_holdout)
from core.train.loop import train
from core.server.visitors import Viewer

FAST = ["--lr", "3e-3", "--epochs", "2", "--repeats", "20", "--device", "cpu"]


def writer(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic writer with a stroke style of its own: each digit a diagonal stroke (the
    fake dataset's digits are upright or level bars), its place set by the class (five
    columns 4 px apart, two rows 13 px apart) and moved at most 1 px either way. Strokes
    3 px wide and places farther apart than the jitter keep the classes learnable from a
    few drawings, so the fine-tune's gain is far from any bound on every CPU (a 1 px wide
    stroke at places 2 px apart left the held-out accuracy near 50%, and one CPU's rounding
    decided whether a test passed)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_class)
    images = rng.integers(0, 30, (len(labels), 28, 28)).astype(np.int32)
    for i, c in enumerate(labels):
        row = 3 + 13 * (c // 5) + rng.integers(-1, 2)
        col = 1 + 4 * (c % 5) + rng.integers(-1, 2)
        for t in range(8):
            images[i, row + t, col + t:col + t + 3] += 220
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


@pytest.fixture(autouse=True)
def cache(monkeypatch, tmp_path):
    """The base model's test-set score is cached: in the test's folder, not the checkout's."""
    monkeypatch.setenv("MNIST_STUDIO_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def base(tmp_path_factory, fake_data_root) -> Path:
    """A tiny mnist model trained on the fake data, and a fashion one (not fine-tunable on digits)."""
    folder = tmp_path_factory.mktemp("base")
    for dataset in ("mnist", "fashion"):
        cfg = TrainConfig(dataset=dataset, model="ffnn-small", epochs=2, batch_size=64,
                          device="cpu", data_dir=str(fake_data_root))
        result = train(cfg, load_bundle(dataset, fake_data_root))
        save_checkpoint(folder / f"{dataset}.pt", result.model,
                        CheckpointMeta.new(dataset, "ffnn-small"))
    return folder


def _set(tmp_path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    path = tmp_path / "set.npz"
    path.write_bytes(npz_bytes(images, labels))
    return path


def _finetune(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(["finetune", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_finetune_improves_held_out_accuracy_on_a_new_writer(tmp_path, base, fake_data_root,
                                                             capsys, seed):
    """Three writers (seeds): on each the base model reads almost none of the held-out
    drawings and the fine-tuned one most. Measured with ATEN_CPU_CAPABILITY=avx512,
    avx2 and default, and OMP_NUM_THREADS=1: before 0-3%, after 77-93% (30 drawings each),
    so the bounds below keep a margin of 5+ drawings on any CPU's arithmetic."""
    images, labels = writer(per_class=6, seed=seed)
    out = tmp_path / "tuned.pt"
    code, stdout, stderr = _finetune(
        ["--from", str(base / "mnist.pt"), "--images", str(_set(tmp_path, images, labels)),
         "--out", str(out), "--holdout", "0.5", "--data-dir", str(fake_data_root), "--json",
         *FAST], capsys)
    assert code == 0, stderr
    got = json.loads(stdout.strip().splitlines()[-1])
    assert (got["train_count"], got["held_out_count"]) == (30, 30)
    assert got["train_counts"] == [3] * 10 and got["held_out_counts"] == [3] * 10
    assert got["held_out_before"] <= 0.3, got  # the base model cannot read this writer
    assert got["held_out_after"] >= 0.6, got
    assert got["held_out_after"] >= got["held_out_before"] + 0.4, got
    assert got["test_after"] >= got["test_before"] - 0.1, got  # replay: the old digits stay
    assert out.is_file() and "held-out drawings (30)" in stderr


def test_holdout_0_trains_on_everything_and_reports_the_test_set_only(tmp_path, base,
                                                                      fake_data_root, capsys):
    images, labels = writer(per_class=1, seed=2)  # one each: enough without a held-out part
    code, stdout, _ = _finetune(
        ["--from", str(base / "mnist.pt"), "--images", str(_set(tmp_path, images, labels)),
         "--out", str(tmp_path / "t.pt"), "--holdout", "0", "--data-dir", str(fake_data_root),
         "--epochs", "1", "--device", "cpu"], capsys)
    assert code == 0
    assert "held-out" not in stdout and "test set:" in stdout


@pytest.mark.parametrize("make, expected", [
    (lambda: (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)), "The set is empty"),
    (lambda: (np.zeros((3, 28, 28), np.uint8), np.array([3, 3, 7])),
     "each digit you teach needs at least 2 \\(one to learn from and one held out to test "
     "on\\); 7 has 1. Add more of those digits. Or hold none out: --holdout 0."),
])
def test_too_few_drawings_say_how_many_are_needed(tmp_path, base, fake_data_root, capsys,
                                                  make, expected):
    code, _, stderr = _finetune(
        ["--from", str(base / "mnist.pt"), "--images", str(_set(tmp_path, *make())),
         "--out", str(tmp_path / "t.pt"), "--data-dir", str(fake_data_root)], capsys)
    assert code == 2 and stderr.startswith("error: ")
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert re.search(expected, stderr), stderr
    assert not (tmp_path / "t.pt").exists()


def test_a_file_that_is_no_model_or_no_set_gets_a_clear_message(tmp_path, base, fake_data_root,
                                                                capsys):
    images, labels = writer(per_class=2, seed=3)
    good_set = _set(tmp_path, images, labels)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    code, _, stderr = _finetune(["--from", str(tmp_path / "junk.pt"), "--images", str(good_set),
                                 "--out", str(tmp_path / "t.pt")], capsys)
    assert code == 2 and "This model cannot be fine-tuned" in stderr
    code, _, stderr = _finetune(["--from", str(base / "mnist.pt"), "--images",
                                 str(tmp_path / "junk.pt"), "--out", str(tmp_path / "t.pt")],
                                capsys)
    assert code == 2 and "not an .npz file" in stderr
    code, _, stderr = _finetune(["--from", str(base / "mnist.pt"), "--images", str(good_set),
                                 "--out", str(tmp_path / "t.pt"), "--holdout", "1"], capsys)
    assert code == 2 and "holdout must be at least 0 and below 1" in stderr


def test_the_split_is_per_class_fixed_and_disjoint():
    labels = np.repeat(np.arange(10), 5)
    train_idx, held_idx = split_holdout(labels, 0.5, seed=0)
    again = split_holdout(labels, 0.5, seed=0)
    assert np.array_equal(train_idx, again[0]) and not set(train_idx) & set(held_idx)
    assert np.bincount(labels[held_idx]).tolist() == [2] * 10  # round(2.5) = 2: 3 train
    assert np.bincount(labels[split_holdout(labels, 0.9)[0]]).tolist() == [1] * 10
    check_set(np.array([1, 1]), FinetuneOptions(holdout=0.5))  # enough: no error
    with pytest.raises(FinetuneError, match="at least 1"):
        FinetuneOptions(epochs=0)


def test_a_fine_tune_run_is_an_ordinary_owned_run(tmp_path, base, fake_data_root, monkeypatch):
    """Queued through the run service, trained by the worker, measured, usable; another
    visitor can neither see it nor start one on someone else's set."""
    monkeypatch.setenv("MNIST_STUDIO_DATA", str(fake_data_root))
    settings = load_settings(tmp_path / "none.toml", show_others=False)
    service = RunService(tmp_path / "runs", settings, start_scheduler=False)
    alice, bob = Viewer("v:alice"), Viewer("v:bob")
    hw = HandwritingSet(service.runs_dir, alice.id)
    images, labels = writer(per_class=4, seed=4)
    for image, label in zip(images, labels):
        hw.add(image, int(label))
    opts = FinetuneOptions(lr=3e-3, epochs=2, device="cpu")

    with pytest.raises(FinetuneError, match="Choose a MNIST digits model"):
        submit_finetune(service, alice, hw.arrays(), base / "fashion.pt", "fashion", options=opts)
    with pytest.raises(FinetuneError, match="empty"):  # bob's set is his own: empty
        submit_finetune(service, bob, HandwritingSet(service.runs_dir, bob.id).arrays(),
                        base / "mnist.pt", "base", options=opts)
    assert service.list_runs(alice) == []  # refusals queue nothing

    snap = submit_finetune(service, alice, hw.arrays(), base / "mnist.pt", "base", options=opts)
    assert snap.finetune["base"] == str(base / "mnist.pt") and snap.estimate_minutes < 0.5
    assert read_npz(Path(snap.run_dir) / "finetune-set.npz").labels.tolist() == labels.tolist()
    assert [r.id for r in finetune_runs(service, alice)] == [snap.id]
    assert finetune_runs(service, bob) == [] and service.list_runs(bob) == []

    record = service.db.claim_next("test-runner", "local")
    assert record is not None and record.id == snap.id
    execute(record.id, record.config, Path(record.run_dir),
            RunRecorder(service.db, record.id, record.run_dir), lambda: False)
    done = service.get(snap.id, alice)
    assert done.state == RunState.FINISHED, done.error
    measure = read_measure(done.run_dir)
    assert measure.held_out_count == 20 and measure.train_count == 20
    assert measure.held_out_after > measure.held_out_before
    assert measure.test_after == pytest.approx(done.test.accuracy)

    from core.networks.catalog import run_models
    entry, = run_models(finetune_runs(service, alice))
    assert "your handwriting" in entry.label and entry.path.is_file()


def test_a_refused_fine_tune_leaves_no_files(tmp_path, base):
    from core.runs.api import LimitReached
    settings = load_settings(tmp_path / "none.toml", max_active_per_visitor=0)
    service = RunService(tmp_path / "runs", settings, start_scheduler=False)
    images, labels = writer(per_class=2, seed=5)
    with pytest.raises(LimitReached):
        submit_finetune(service, Viewer("v:alice"), read_npz(npz_bytes(images, labels)),
                        base / "mnist.pt", "base", options=FinetuneOptions(device="cpu"))
    assert service.list_runs(Viewer("v:alice")) == []
    assert not [p for p in service.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
