"""core.networks.catalog: shipped weights and finished runs as selectable models."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.networks.catalog import (ENV_WEIGHTS, RUN, SHIPPED, architecture_infos, default_model,
                          find_model, list_models, read_manifest, run_models, run_stamp,
                          shipped_models, weights_dir)
from core.networks.models import ARCHITECTURES
from core.runs.snapshot import RunSnapshot


def _touch(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(b"not loaded by the catalog")
    return path


def FakeRun(id: str, state: str, config: dict, run_dir: str, **kw) -> RunSnapshot:
    """A run as the run service describes it (dict values are read as status.json would be)."""
    return RunSnapshot(id=id, state=state, config=config, created="2026-01-01T00:00:00",
                       run_dir=run_dir, device="CPU (2 threads)", **kw)


def test_missing_or_empty_weights_folder_gives_no_models(tmp_path):
    assert shipped_models(tmp_path / "nowhere") == []
    assert shipped_models(tmp_path) == []
    assert read_manifest(tmp_path) == {}
    assert default_model([], "mnist") is None


def test_manifest_describes_models_and_sets_default(tmp_path):
    _touch(tmp_path, "mnist-cnn.pt")
    _touch(tmp_path, "mnist-resnet.pt")
    _touch(tmp_path, "fashion-cnn.pt")
    (tmp_path / "manifest.json").write_text(json.dumps({
        "default": {"mnist": "mnist-cnn.pt"},
        "checkpoints": [
            {"file": "mnist-cnn.pt", "dataset": "mnist", "architecture": "cnn",
             "test_accuracy": 0.991, "epochs": 5},
            {"file": "mnist-resnet.pt", "dataset": "mnist", "architecture": "resnet",
             "test_accuracy": 0.996},
            {"file": "gone.pt", "dataset": "mnist", "architecture": "cnn"},  # missing file
        ]}))
    models = shipped_models(tmp_path)
    assert [m.key for m in models] == ["shipped:fashion-cnn.pt", "shipped:mnist-resnet.pt",
                                       "shipped:mnist-cnn.pt"]
    cnn = find_model(models, "shipped:mnist-cnn.pt")
    assert cnn.test_accuracy == pytest.approx(0.991) and cnn.details["epochs"] == 5
    assert cnn.source == SHIPPED and "99.10%" in cnn.label
    # The manifest's default wins over the more accurate model.
    assert default_model(list_models("mnist", tmp_path), "mnist", tmp_path).key == cnn.key
    # A file the manifest does not list is still offered, from its name.
    assert find_model(models, "shipped:fashion-cnn.pt").test_accuracy is None


def test_unlisted_files_with_unknown_names_are_ignored(tmp_path):
    _touch(tmp_path, "mystery.pt")
    _touch(tmp_path, "mnist-nosuchnet.pt")
    (tmp_path / "manifest.json").write_text("{not json")
    assert shipped_models(tmp_path) == []


def test_env_var_points_at_another_weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path))
    _touch(tmp_path, "fashion-ffnn.pt")
    assert weights_dir() == tmp_path.resolve()
    assert [m.key for m in list_models("fashion")] == ["shipped:fashion-ffnn.pt"]
    assert list_models("mnist") == []


def test_finished_and_stopped_runs_are_models_live_ones_are_not(tmp_path):
    runs = []
    for i, state in enumerate(["finished", "cancelled", "running", "failed", "finished"]):
        run_dir = tmp_path / f"run{i}"
        run_dir.mkdir()
        if i != 3:  # the failed run never wrote best.pt
            _touch(run_dir, "best.pt")
        runs.append(FakeRun(f"20260101-00000{i}-mnist-cnn-ab{i}", state,
                            {"dataset": "mnist" if i < 4 else "fashion", "model": "cnn",
                             "epochs": 3},
                            str(run_dir), test={"accuracy": 0.9 + i / 100},
                            result={"val_accuracy": 0.8, "train_seconds": 12.0}))
    models = run_models(runs)
    assert [m.key.split(":")[1][-3:] for m in models] == ["ab0", "ab1", "ab4"]
    assert all(m.source == RUN for m in models)
    assert models[0].test_accuracy == pytest.approx(0.9)
    assert "stopped" in models[1].label and "stopped" not in models[0].label
    mnist = list_models("mnist", tmp_path / "no-weights", runs)
    assert [m.key for m in mnist] == [models[0].key, models[1].key]
    # Without shipped weights the newest run is the default.
    assert default_model(mnist, "mnist", tmp_path / "no-weights").key == models[0].key


def test_diverged_and_near_chance_runs_say_so_in_their_label(tmp_path):
    runs = []
    for i, (state, val) in enumerate([("finished", 0.12), ("diverged", 0.34), ("finished", 0.8)]):
        run_dir = tmp_path / f"run{i}"
        run_dir.mkdir()
        _touch(run_dir, "best.pt")
        runs.append(FakeRun(f"20260101-00000{i}-mnist-cnn-ab{i}", state,
                            {"dataset": "mnist", "model": "cnn", "epochs": 3}, str(run_dir),
                            test={"accuracy": 0.1}, result={"val_accuracy": val}))
    near, diverged, fine = run_models(runs)
    assert near.label.endswith(" · 10.00% · near chance")
    assert diverged.label.endswith(" · diverged") and "stopped" not in diverged.label
    assert not fine.label.endswith(("chance", "diverged", "stopped"))


def test_run_stamp_is_short_and_unique():
    assert run_stamp("20261122-081155-mnist-cnn-c571") == "11-22 08:11:55 c571"
    assert run_stamp("odd-name") == "odd-name"


def test_architecture_infos_count_parameters():
    infos = {a.name: a for a in architecture_infos()}
    assert set(infos) == set(ARCHITECTURES)
    assert infos["ffnn"].parameters == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    assert all(a.description for a in infos.values())
