"""Reading a resumable checkpoint (last.pt): its training state, and where it left its run."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core.networks.checkpoints import read_payload
from core.train.config import TrainConfig


def training_state(path: str | Path) -> dict:
    """The saved training state of a last.pt (or a mid-run save): model, optimizer, progress.
    Raises ValueError for a checkpoint that holds none."""
    payload = read_payload(path)
    if not payload.get("progress") or payload.get("optimizer") is None:
        raise ValueError(f"{path} holds no training state to resume (it is a best-weights "
                         "checkpoint; resume from the run's last.pt)")
    return payload


def restore_training(path: str | Path, model: nn.Module, opt: torch.optim.Optimizer, sched
                     ) -> tuple[dict, dict | None]:
    """Load a resumable checkpoint's weights, optimizer and schedule into a run's own
    (its optimizer keeps this device's fused/capturable/foreach flags); the saved
    progress and best weights so far."""
    payload = training_state(path)
    progress = payload["progress"]
    model.load_state_dict(payload["state_dict"])
    # load_state_dict also restores the saving run's "fused", "capturable" and "foreach",
    # which depend on its device and step: this run's own are kept.
    # Set before loading: they also decide where the loaded step counts are put.
    flags = [{k: group.get(k) for k in ("fused", "capturable", "foreach")}
             for group in opt.param_groups]
    for saved, own in zip(payload["optimizer"]["param_groups"], flags):
        saved.update(own)
    opt.load_state_dict(payload["optimizer"])
    sched.load_state_dict(progress.pop("scheduler"))
    best_state = progress.pop("best_state_dict", None)
    return progress, best_state


@dataclass
class ResumePoint:
    """Where a resumable checkpoint left its run: its settings, step, epochs completed and
    best-weights file."""
    config: TrainConfig
    step: int
    best_path: Path | None  # None in files written before it was recorded
    epochs_done: int = 0


def resume_point(path: str | Path) -> ResumePoint:
    """Raises ValueError for a checkpoint that holds no training state."""
    payload = training_state(path)
    progress = payload["progress"]
    best = progress.get("best_path")
    return ResumePoint(TrainConfig.from_dict(payload["meta"]["hyperparameters"]),
                       int(progress.get("global_step", 0)), Path(best) if best else None,
                       int(progress.get("epoch", 0)))
