"""TrainConfig: the one schema of a training run's settings."""
from __future__ import annotations

from dataclasses import dataclass, fields

from core.models import get_architecture

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "onecycle")


@dataclass
class TrainConfig:
    dataset: str = "mnist"
    model: str = "cnn"
    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3  # the peak learning rate under onecycle
    optimizer: str = "adam"
    schedule: str = "onecycle"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = False  # random shifts of up to 2 px; plus mirror for garments
    erase: int = 0  # with augment: cutout square side in px (0 = off)
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        get_architecture(self.model)  # raises on an unknown name
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
