"""Training runs as a person reads them: one summary row per run, one progress line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.train.curves import format_duration

STATE_LABELS = {"queued": "queued", "running": "training", "stopping": "stopping",
                "finished": "finished", "cancelled": "stopped", "failed": "failed"}


@dataclass
class RunRow:
    id: str
    state: str  # as shown: training, stopped, finished...
    dataset: str
    model: str
    epochs: str  # "3/5" (epochs done of planned)
    test_accuracy: float | None
    val_accuracy: float | None
    train_seconds: float | None
    samples_per_second: float | None
    device: str
    created: str


@dataclass
class RunProgress:
    fraction: float  # 0..1
    epoch: int  # 1-based epoch in progress (or last)
    epochs: int
    step: int
    total_steps: int
    eta: str  # "1:23" or an em dash
    samples_per_second: float
    device: str

    @property
    def text(self) -> str:
        return (f"Epoch {self.epoch}/{self.epochs} · step {self.step:,}/{self.total_steps:,} · "
                f"ETA {self.eta} · {self.samples_per_second:,.0f} samples/s · {self.device}")


def run_row(snap: Any) -> RunRow:
    """From a core.jobs.JobSnapshot."""
    config, test, result = snap.config or {}, snap.test or {}, snap.result or {}
    planned = int(config.get("epochs") or 0)
    done = len(snap.epochs)
    best_val = result.get("val_accuracy")
    if best_val is None and snap.epochs:
        best_val = max(e["val_accuracy"] for e in snap.epochs)
    return RunRow(
        id=snap.id, state=STATE_LABELS.get(snap.state, snap.state),
        dataset=str(config.get("dataset", "")), model=str(config.get("model", "")),
        epochs=f"{done}/{planned}", test_accuracy=test.get("accuracy"), val_accuracy=best_val,
        train_seconds=result.get("train_seconds"),
        samples_per_second=result.get("samples_per_second") or (snap.samples_per_second or None),
        device=snap.device or "", created=snap.created)


def run_progress(snap: Any) -> RunProgress:
    config = snap.config or {}
    epochs = int(config.get("epochs") or 1)
    last = snap.steps[-1] if snap.steps else None
    return RunProgress(
        fraction=min(1.0, max(0.0, snap.fraction_done)),
        epoch=int(last["epoch"]) if last else 1, epochs=epochs, step=snap.step,
        total_steps=int(snap.total_steps or 0), eta=format_duration(snap.eta_seconds),
        samples_per_second=float(snap.samples_per_second), device=snap.device or "…")


def config_summary(config: dict) -> str:
    """E.g. 'mnist · cnn · 5 epochs · batch 128 · adam lr 0.001 onecycle · augment · seed 0 ·
    device auto'."""
    parts = [str(config.get("dataset")), str(config.get("model")),
             f"{config.get('epochs')} epochs", f"batch {config.get('batch_size')}",
             f"{config.get('optimizer')} lr {config.get('lr'):g} {config.get('schedule')}"]
    if config.get("weight_decay"):
        parts.append(f"wd {config['weight_decay']:g}")
    if config.get("label_smoothing"):
        parts.append(f"smoothing {config['label_smoothing']:g}")
    if config.get("augment"):
        parts.append("augment" + (f" + erase {config['erase']}px" if config.get("erase") else ""))
    parts += [f"seed {config.get('seed')}", f"device {config.get('device')}"]
    return " · ".join(parts)
