"""What a run will cost before it starts: FLOPs, turned into minutes on the executing device."""
from __future__ import annotations

from functools import lru_cache

from core.data import TRAIN_SIZE, VAL_SIZE
from core.settings import RunSettings
from core.train.config import TrainConfig


@lru_cache(maxsize=None)
def training_flops_per_sample(architecture: str) -> float:
    """FLOPs of one training sample (forward and backward), counted by torch itself."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from core.models import build_model

    batch = 4
    model = build_model(architecture).train()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(batch, 1, 28, 28)).sum().backward()
    return counter.get_total_flops() / batch


def uses_gpu(cfg: TrainConfig) -> bool:
    if cfg.device in ("cuda", "mps"):
        return True
    if cfg.device == "auto":
        import torch
        return torch.cuda.is_available()
    return False


def estimate_minutes(cfg: TrainConfig, settings: RunSettings) -> float:
    """Training (3x a forward pass per sample) plus validation (1x) for every epoch, at the
    sustained rate the settings give for the device kind. A guide, not a promise: small
    models on a CPU reach less, so the defaults are measured on this project's models."""
    flops = training_flops_per_sample(cfg.model)
    total = cfg.epochs * (TRAIN_SIZE * flops + VAL_SIZE * flops / 3)
    rate = (settings.gpu_gflops if uses_gpu(cfg) else settings.cpu_gflops) * 1e9
    return total / rate / 60
