"""The optimizer and the learning-rate schedule of a run, from its TrainConfig.

`cfg.lr` ends its walk here (docs/architecture.md, "A setting's walk"): the peak
rate of the one-cycle schedule, or the constant rate.
"""
from __future__ import annotations

import torch
from torch import nn

from core.train.config import TrainConfig


def _fused(device: torch.device) -> bool:
    # One fused kernel per step instead of ~10 small ops per parameter tensor: on
    # the CPU that made `cnn` steps 6% and `ffnn` steps 17% faster (bench.levers).
    return device.type in ("cpu", "cuda")


def make_optimizer(cfg: TrainConfig, model: nn.Module, device: torch.device,
                    capturable: bool = False) -> torch.optim.Optimizer:
    """capturable: for a CUDA graph, Adam's multi-tensor path with its step count, learning
    rate on the device."""
    capturable = capturable and device.type == "cuda"
    params, fused = model.parameters(), _fused(device) and not capturable
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay, fused=fused)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    if capturable:
        return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, capturable=True,
                   foreach=True)
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def make_scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer, total_steps: int,
                    cycle_momentum: bool = True):
    # cycle_momentum=False for a CUDA graph run: see core/train/step.py.
    # OneCycleLR divides by its warm-up length (pct_start * total_steps - 1 steps),
    # so a run of a handful of steps needs a longer warm-up share, and a run of
    # one or two steps cannot cycle at all. From 8 steps on this is pct_start=0.25.
    if cfg.schedule == "onecycle" and total_steps >= 3:
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=total_steps,
            pct_start=min(0.5, max(0.25, 2 / total_steps)),
            div_factor=10.0, final_div_factor=100.0, cycle_momentum=cycle_momentum)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def shadow_scheduler(cfg: TrainConfig, total_steps: int):
    """A graph run's scheduler over a throwaway optimizer, for its schedule table
    (core.train.step.schedule_table)."""
    return make_scheduler(cfg, make_optimizer(cfg, nn.Linear(1, 1), torch.device("cpu")),
                           total_steps, cycle_momentum=False)
