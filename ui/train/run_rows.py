"""Training runs as a person reads them: one row per run for the runs table, one progress
line for a run training, one line of its settings."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.train.config import TrainConfig
from ui.common.format import format_duration

if TYPE_CHECKING:
    from core.runs.snapshot import RunSnapshot


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


def run_row(snap: RunSnapshot) -> RunRow:
    config, test, result = snap.config, snap.test, snap.result
    best_val = result.val_accuracy if result else None
    if best_val is None and snap.epochs:
        best_val = max(e["val_accuracy"] for e in snap.epochs)
    return RunRow(
        id=snap.id, state="pruned" if snap.pruned else snap.state.label,
        dataset=config.dataset, model=config.model,
        epochs=f"{max(snap.epochs_done, len(snap.epochs))}/{config.epochs}",
        test_accuracy=test.accuracy if test else None, val_accuracy=best_val,
        train_seconds=result.train_seconds if result else None,
        samples_per_second=(result.samples_per_second if result else None)
        or (snap.samples_per_second or None),
        device=snap.device or "", created=snap.created)


def run_progress(snap: RunSnapshot) -> RunProgress:
    last = snap.steps[-1] if snap.steps else None
    return RunProgress(
        fraction=min(1.0, max(0.0, snap.fraction_done)),
        epoch=int(last["epoch"]) if last else 1, epochs=snap.config.epochs, step=snap.step,
        total_steps=int(snap.total_steps or 0), eta=format_duration(snap.eta_seconds),
        samples_per_second=float(snap.samples_per_second), device=snap.device or "…")


def config_summary(config: TrainConfig) -> str:
    """E.g. 'mnist · cnn · 5 epochs · batch 128 · adam lr 0.001 onecycle · augment · seed 0 ·
    device auto'."""
    c = config
    model = f"custom {c.layers}" if c.layers else c.model
    parts = [c.dataset, model, f"{c.epochs} epoch{'' if c.epochs == 1 else 's'}",
             f"batch {c.batch_size}", f"{c.optimizer} lr {c.lr:g} {c.schedule}"]
    if c.weight_decay:
        parts.append(f"wd {c.weight_decay:g}")
    if c.label_smoothing:
        parts.append(f"smoothing {c.label_smoothing:g}")
    if c.augment:
        parts.append("augment" + (f" + erase {c.erase}px" if c.erase else ""))
    if c.adversarial != "none":
        steps = f"-{c.adv_steps}" if c.adversarial == "pgd" else ""
        parts.append(f"adversarial {c.adversarial}{steps} eps {c.adv_eps:g}")
    parts += [f"seed {c.seed}", f"device {c.device}"]
    return " · ".join(parts)
