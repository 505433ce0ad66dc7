"""ui.train.run_rows: run rows and progress lines from job snapshots."""
from __future__ import annotations

from core.train.config import TrainConfig
from core.runs.snapshot import RunSnapshot
from ui.train.run_rows import config_summary, run_progress, run_row

CONFIG = {"dataset": "mnist", "model": "cnn", "epochs": 4, "batch_size": 128, "lr": 0.001,
          "optimizer": "adam", "schedule": "onecycle", "weight_decay": 0.0,
          "label_smoothing": 0.0, "augment": True, "erase": 6, "seed": 3, "device": "auto"}


def _snap(state: str, **kw) -> RunSnapshot:
    return RunSnapshot(id="20260101-000000-mnist-cnn-abcd", state=state, config=CONFIG,
                       created="2026-01-01T00:00:00", run_dir="/nonexistent", **kw)


def test_running_progress_line():
    steps = [{"epoch": 2, "step": s, "total_steps": 100, "loss": 0.1, "lr": 1e-3,
              "samples_per_second": 1000.0, "elapsed": s * 0.1} for s in range(1, 51)]
    snap = _snap("running", total_steps=100, steps=steps, device="CPU (2 threads)")
    prog = run_progress(snap)
    assert prog.fraction == 0.5 and prog.epoch == 2 and prog.epochs == 4
    assert prog.eta == "0:05"
    assert prog.text == ("Epoch 2/4 · step 50/100 · ETA 0:05 · 1,000 samples/s · "
                         "CPU (2 threads)")
    row = run_row(snap)
    assert row.state == "training" and row.epochs == "0/4" and row.test_accuracy is None


def test_finished_row_has_final_metrics():
    snap = _snap("finished", test={"accuracy": 0.99}, device="CPU (2 threads)",
                 result={"val_accuracy": 0.985, "train_seconds": 60.0,
                         "samples_per_second": 4000.0},
                 epochs=[{"val_accuracy": 0.98}] * 4)
    row = run_row(snap)
    assert (row.state, row.epochs, row.test_accuracy, row.val_accuracy) == \
        ("finished", "4/4", 0.99, 0.985)
    assert row.samples_per_second == 4000.0
    assert run_row(_snap("cancelled")).state == "stopped"


def test_config_summary_names_the_settings():
    text = config_summary(TrainConfig.from_dict(CONFIG))
    assert text.startswith("mnist · cnn · 4 epochs · batch 128 · adam lr 0.001 onecycle")
    assert "augment + erase 6px" in text and "seed 3" in text
    assert "adversarial" not in text
    robust = config_summary(TrainConfig.from_dict({**CONFIG, "adversarial": "fgsm"}))
    assert "augment + erase 6px · adversarial fgsm eps 0.3 · seed 3" in robust
