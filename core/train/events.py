"""What the trainer tells as it goes (events) and what it returns (TrainResult).

A module of its own so that readers of results (core.train.summary, the run system)
need not import the trainer's loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from torch import nn

from core.train.config import TrainConfig


@dataclass
class StepEvent:
    epoch: int  # 1-based
    step: int  # global, 1-based
    total_steps: int
    loss: float
    lr: float
    samples_per_second: float
    elapsed: float
    kind: str = "step"


@dataclass
class EpochEvent:
    epoch: int
    epochs: int
    step: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    elapsed: float
    best: bool  # this epoch's weights are the best so far
    kind: str = "epoch"


@dataclass
class StopEvent:
    """Sent once, the moment a stop is seen: before the validation and checkpointing that
    still follow, so a page can say Stopped at once."""
    step: int
    kind: str = "stop"


Event = Union[StepEvent, EpochEvent, StopEvent]


@dataclass
class TrainResult:
    config: TrainConfig
    model: nn.Module  # best weights by validation loss, on the CPU, eval mode
    best_epoch: float  # epochs completed when the best weights were taken
    best_val_loss: float
    best_val_accuracy: float
    history: list[EpochEvent]
    steps: int
    train_seconds: float  # wall time of the training loop, validation included
    samples_per_second: float  # training samples / time spent in training steps
    stopped: bool
    device: str
    threads: int
    diverged: bool = False  # the loss blew up: the run ended early, not resumable
    divergence: str | None = None  # what happened, and the likely cause
    step_mode: str = "eager"  # "cuda graph" or "eager"
    step_note: str = ""  # why eager, where a graph was not possible
    precision: str = "fp32"  # "bf16 autocast", "fp32" or "fp32 (TF32 matmuls)"
    setup_seconds: float = 0.0  # graph warm-up and capture, not in train_seconds


