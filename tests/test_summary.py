"""One run summary and one run state, read back from what older code stored."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.runs.state import RunState
from ui.common.run_badges import BADGES
from core.train.summary import RunSummary

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def test_legacy_epoch_is_read_as_best_epoch():
    s = RunSummary.from_json({"epoch": 7.0, "val_accuracy": 0.9, "test_accuracy": 0.91,
                              "something_new": 1})
    assert (s.best_epoch, s.val_accuracy, s.test_accuracy) == (7.0, 0.9, 0.91)
    assert RunSummary.from_json(s.to_json()) == s


@pytest.mark.skipif(not (WEIGHTS / "manifest.json").exists(), reason="no shipped weights")
def test_rebuild_reads_the_shipped_checkpoints():
    from scripts.train_weights import entry_from_checkpoint
    manifest = {c["file"]: c for c in json.loads((WEIGHTS / "manifest.json").read_text())
                ["checkpoints"]}
    entry = entry_from_checkpoint("mnist-cnn")
    recorded = dict(manifest["mnist-cnn.pt"])
    recorded.pop("calibration")  # measured on the test set by scripts/calibrate_weights.py
    assert entry == recorded


def test_run_states_are_the_stored_strings():
    assert [s.value for s in RunState] == ["queued", "running", "stopping", "finished",
                                           "cancelled", "failed", "diverged"]
    assert RunState("cancelled").label == "stopped" and RunState.RUNNING.label == "training"
    assert BADGES[RunState.CANCELLED].text == "Stopped" and f"{RunState.RUNNING}" == "running"
    assert [s for s in RunState if s.active] == [RunState.QUEUED, RunState.RUNNING,
                                                 RunState.STOPPING]
    assert all(s.usable != s.active for s in RunState)
    # Diverged is over and its best.pt usable, but not resumable: it would diverge again.
    assert RunState.DIVERGED.usable and not RunState.DIVERGED.ended_early
    assert BADGES[RunState.DIVERGED] == ("Diverged", ":material/warning:", "red")
    assert set(BADGES) == set(RunState)  # every state has its badge


def test_a_summary_flags_near_chance_and_divergence():
    assert RunSummary(dataset="mnist", val_accuracy=0.19).near_chance  # under 2x chance
    assert not RunSummary(dataset="mnist", val_accuracy=0.2).near_chance
    assert not RunSummary(dataset="mnist").near_chance  # not measured: not flagged
    s = RunSummary(diverged=True, divergence="the loss became nan at step 3: ...")
    assert RunSummary.from_json(s.to_json()) == s
    assert RunSummary.from_json({}).diverged is False  # older summaries


def test_a_summary_says_how_the_run_trained():
    s = RunSummary(device="NVIDIA H200", step_mode="cuda graph", precision="fp32 (TF32 matmuls)",
                   setup_seconds=0.04)
    assert s.how == "NVIDIA H200 · cuda graph · fp32 (TF32 matmuls) · 0.04 s graph warm-up and capture"
    assert RunSummary(device="CPU (1 threads)").how == "CPU (1 threads)"  # older summaries
