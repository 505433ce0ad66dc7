"""What a run will cost before it starts: FLOPs, turned into minutes on the executing device."""
from __future__ import annotations

import math
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import torch
from torch.utils.flop_counter import FlopCounterMode, _FlopCounterMode

from core.data import TRAIN_SIZE, VAL_SIZE
from core.predict.attacks import attack_passes
from core.networks.models import build_model
from core.networks.spec import check
from core.server.settings import RunSettings
from core.train.config import TrainConfig
from core.train.outliers import OUTLIER_SHARE


@contextmanager
def counting_flops() -> Iterator:
    """torch's FlopCounterMode, this thread only: its dispatch mode, without the
    ModuleTracker that FlopCounterMode also enters. That tracker installs *global*
    module hooks, which put gradient hooks on every module output of every thread's
    forward pass while it is active: a visitor's Classify stroke (autograd.grad, in
    another script thread) failed with "A leaf node was passed to
    _will_engine_execute_node" whenever another visitor's Train page counted FLOPs
    (found by bench/serverload.py). The dispatch mode is thread-local, and the total
    is all the estimate needs."""
    counter = FlopCounterMode(display=False)
    mode = _FlopCounterMode(counter)
    with mode:
        yield counter


@lru_cache(maxsize=256)
def training_flops_per_sample(architecture: str, layers: str = "") -> float:
    """FLOPs of one training sample (forward and backward), counted by torch itself for a
    built-in. A custom model's are read off its spec (forward x 3: the backward pass costs
    about twice the forward), without building it: a visitor's layers may be far too
    large for this server, which the estimate must be able to say without allocating them."""
    if layers:
        return 3.0 * check(layers).flops

    batch = 4
    model = build_model(architecture, layers).train()
    with counting_flops() as counter:
        model(torch.zeros(batch, 1, 28, 28)).sum().backward()
    return counter.get_total_flops() / batch


def uses_gpu(cfg: TrainConfig) -> bool:
    if cfg.device in ("cuda", "mps"):
        return True
    if cfg.device == "auto":
        return torch.cuda.is_available()
    return False


def estimate_minutes(cfg: TrainConfig, settings: RunSettings, train_size: int = TRAIN_SIZE,
                     val_size: int = VAL_SIZE) -> float:
    """Training (3x a forward pass per sample) plus validation (1x) for every epoch at the
    sustained rate the settings give for the device kind, plus a fixed cost per step.

    The step term matters for small models with small batches: ffnn-small at batch 32
    took 1.45 ms a step on one thread of the 2-core CPU, of which its FLOPs explain
    0.36 ms; the rest is per-step overhead (Python, optimizer, kernel launches). A
    guide, not a promise: a busy machine is slower. train_size and val_size: a run on
    other splits than the dataset's (a fine-tune's).
    """
    gpu = uses_gpu(cfg)
    flops = training_flops_per_sample(cfg.model, cfg.layers)
    # An attack's pass (forward and input gradient) costs about a training pass.
    passes = 1 + attack_passes(cfg.adversarial, cfg.adv_steps)
    if cfg.outlier_exposure > 0:  # each step also trains on OUTLIER_SHARE x the batch
        passes += OUTLIER_SHARE
    total = cfg.epochs * (train_size * flops * passes + val_size * flops / 3)
    rate = (settings.gpu_gflops if gpu else settings.cpu_gflops) * 1e9
    steps = cfg.epochs * math.ceil(train_size / cfg.batch_size)
    step_seconds = (settings.gpu_step_ms if gpu else settings.cpu_step_ms) / 1000
    return (total / rate + steps * step_seconds) / 60
