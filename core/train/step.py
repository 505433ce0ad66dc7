"""One training step, run eagerly or replayed from a CUDA graph.

A step is a fixed sequence of tensor ops over static buffers: gather the batch
named by `idx`, augment, forward, loss, backward, optimizer, and fold the loss
into on-device running metrics. Nothing in it reads a value back to the host,
so on a GPU the whole step can be captured once in a CUDA graph and replayed:
one launch instead of a few hundred, which is most of a small model's step.

- The learning rate comes from a table precomputed from the run's own torch
  scheduler and indexed by a step counter on the device: the graph reads the
  schedule, it is not baked in. Adam's betas stay numbers: torch's capturable
  multi-tensor Adam reads a tensor beta1 on the host (a sync, which a capture
  refuses), so a graph run's OneCycle leaves beta1 at 0.9 instead of cycling it
  between 0.95 and 0.85 (as the anchor's recipe does too).
- Dropout and augmentation draw from CUDA's generator inside the graph; the
  trainer re-seeds it from (seed, step) before every replay, as it does before
  every eager step, so a resumed run draws what the uninterrupted one drew.
- The graph needs one batch shape, so a graph run drops each epoch's last short
  batch (48,000 = 187 x 256 + 128: 128 images an epoch, in a new order each epoch).

The eager step is the fallback: CPU, MPS, or an optimizer that cannot be captured
(SGD's momentum is cycled on the host). StaticStep is the graph's step without the
graph: it runs on the CPU too, so tests there check it against the eager step.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from core.train.health import RECENT_LOSSES  # the divergence watch's window of losses
from core.train.outliers import uniform_cross_entropy

WARMUP_STEPS = 3  # eager steps on a side stream before capture (allocator, cuDNN, lazy init)
MAX_GRAPH_STEPS = 1_000_000  # a schedule table longer than this is not worth precomputing
# Off by default until the graph step has passed tests/test_cuda.py on a GPU (docs/speed.md
# says what has been measured there). bench/gpu_session.sh turns it on; so can a deployment.
GRAPHS_DEFAULT = "off"


class LossWatch:
    """Every step's loss, kept on the device: the sum and correct count of the epoch in
    progress, and, since the last read, the peak of the mean of the last RECENT_LOSSES
    losses and whether any loss was not finite. A read costs one device sync."""

    def __init__(self, device: torch.device) -> None:
        z = lambda dtype=torch.float32: torch.zeros((), device=device, dtype=dtype)  # noqa: E731
        self.loss_sum, self.correct = z(), z(torch.int64)
        self.last, self.peak, self.nonfinite = z(), z(), z(torch.bool)
        self.recent = torch.zeros(RECENT_LOSSES, device=device)
        self.count = z(torch.int64)

    def update(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        loss = loss.detach()
        self.loss_sum += loss * len(y)
        self.correct += (logits.argmax(1) == y).sum()
        self.last.copy_(loss)
        self.recent.copy_(torch.cat([loss.view(1), self.recent[:-1]]))
        self.count += 1
        mean = self.recent.sum() / self.count.clamp(max=RECENT_LOSSES)
        self.peak.copy_(torch.maximum(self.peak, mean))
        self.nonfinite |= ~torch.isfinite(loss)

    def read(self) -> tuple[float, float, bool]:
        """(last loss, peak recent mean since the last read, any non-finite since then)."""
        last, peak, nonfinite = torch.stack(
            [self.last, self.peak, self.nonfinite.float()]).tolist()
        self.peak.zero_()
        self.nonfinite.zero_()
        return last, peak, bool(nonfinite)

    def take_epoch_sums(self) -> tuple[float, int]:
        """The epoch's loss sum and correct count so far, and zero them."""
        loss_sum, correct = self.loss_sum.item(), int(self.correct.item())
        self.loss_sum.zero_()
        self.correct.zero_()
        return loss_sum, correct


@dataclass
class StepInputs:
    """What a step reads besides model and optimizer."""
    train_x: torch.Tensor  # the whole split, normalised, on the device
    train_y: torch.Tensor
    batch_size: int
    label_smoothing: float
    autocast: bool  # bf16 autocast
    augment: Callable[[torch.Tensor], torch.Tensor] | None
    # adversarial training: (model, x, y) -> the batch perturbed (core.predict.attacks.training_attack)
    attack: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    exposure: "Exposure | None" = None  # outliers and canvas redraws (core.train.outliers)


@dataclass
class Exposure:
    """What outlier exposure and canvas redraws add to a step: normalised images on the
    device. Each step draws its outliers and redraws at random (the trainer seeds the
    generator from the step), so a resumed run draws what the uninterrupted one drew."""
    outliers: torch.Tensor  # (N, 1, 28, 28): trained toward a uniform answer
    weight: float  # of the outlier loss
    outlier_batch: int  # outliers per step
    redrawn: torch.Tensor  # (M, 1, 28, 28) training images redrawn as canvas strokes
    redrawn_labels: torch.Tensor
    redraw_share: float  # of each batch swapped for redraws

    def swap_in_redraws(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = round(self.redraw_share * len(y))
        if k == 0 or len(self.redrawn) == 0:
            return x, y
        j = torch.randint(len(self.redrawn), (k,), device=x.device)
        return (torch.cat([self.redrawn.index_select(0, j), x[k:]]),
                torch.cat([self.redrawn_labels.index_select(0, j), y[k:]]))

    def outlier_batch_of(self, device: torch.device) -> torch.Tensor | None:
        if self.weight <= 0 or self.outlier_batch == 0 or len(self.outliers) == 0:
            return None
        j = torch.randint(len(self.outliers), (self.outlier_batch,), device=device)
        return self.outliers.index_select(0, j)


class EagerStep:
    """The step as ordinary PyTorch calls; the scheduler steps on the host."""
    mode = "eager"

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer, sched, inputs: StepInputs,
                 reason: str = "") -> None:
        self.model, self.opt, self.sched, self.inputs = model, opt, sched, inputs
        self.watch = LossWatch(inputs.train_x.device)
        self.reason = reason  # why not a graph, shown on the run's page
        self.setup_seconds = 0.0

    def forward_backward(self, idx: torch.Tensor) -> None:
        inp = self.inputs
        x, y = inp.train_x.index_select(0, idx), inp.train_y.index_select(0, idx)
        outliers = None
        if inp.exposure is not None:
            x, y = inp.exposure.swap_in_redraws(x, y)
            outliers = inp.exposure.outlier_batch_of(x.device)
        n = len(y)
        if outliers is not None:  # one pass over both: BatchNorm sees them together
            x = torch.cat([x, outliers])
        if inp.augment is not None:
            x = inp.augment(x)
        if inp.attack is not None:
            x = torch.cat([inp.attack(self.model, x[:n], y), x[n:]])
        # No cast cache: a CUDA graph cannot capture autocast's cache, and each weight is
        # cast once per step anyway.
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=inp.autocast,
                            cache_enabled=False):
            out = self.model(x)
            logits = out[:n]
            loss = F.cross_entropy(logits.float(), y, label_smoothing=inp.label_smoothing)
            if outliers is not None:
                loss = loss + inp.exposure.weight * uniform_cross_entropy(out[n:])
        loss.backward()
        self.watch.update(loss, logits, y)

    def __call__(self, idx: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.forward_backward(idx)
        self.opt.step()
        self.sched.step()

    def sync_scheduler(self) -> None:
        """The host scheduler is the source of truth here: nothing to do."""

    @property
    def lr(self) -> float:
        return self.sched.get_last_lr()[0]


def schedule_table(shadow, steps: int, device: torch.device) -> torch.Tensor:
    """(steps + 1,): the learning rate of every step, read off `shadow`, a fresh copy of
    the run's own torch scheduler over a throwaway optimizer, stepped ahead (3.7 us a
    step on the CPU)."""
    group, rows = shadow.optimizer.param_groups[0], []
    with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": intended
        warnings.simplefilter("ignore")
        for k in range(steps + 1):
            rows.append(group["lr"])
            if k < steps:
                shadow.step()
    return torch.tensor(rows, dtype=torch.float32, device=device)


class StaticStep(EagerStep):
    """The step over static buffers, with the schedule on the device: the learning rate
    is a tensor the optimizer reads, refreshed from the schedule table by a step counter
    on the device. Runs anywhere; on CUDA GraphStep captures it."""
    mode = "static"

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer, sched, inputs: StepInputs,
                 shadow, start_step: int, total_steps: int) -> None:
        super().__init__(model, opt, sched, inputs)
        device = inputs.train_x.device
        t0 = time.perf_counter()
        self.table = schedule_table(shadow, total_steps, device)
        self.step_t = torch.full((), start_step, device=device, dtype=torch.int64)
        self.lr_t = self.table[start_step].clone()
        self._point_optimizer_at_tensors()
        self.idx = torch.zeros(inputs.batch_size, dtype=torch.int64, device=device)
        self._host_step = start_step
        self.setup_seconds = time.perf_counter() - t0

    def _point_optimizer_at_tensors(self) -> None:
        for g in self.opt.param_groups:
            g["lr"] = self.lr_t

    def _static_step(self) -> None:
        self.forward_backward(self.idx)
        self.opt.step()
        self.step_t += 1
        last = len(self.table) - 1  # a step past the schedule's end keeps its last rate
        self.lr_t.copy_(self.table.index_select(0, self.step_t.clamp(max=last).view(1)).view(()))

    def __call__(self, idx: torch.Tensor) -> None:
        self.idx.copy_(idx)
        self._host_step += 1
        self.opt.zero_grad(set_to_none=True)
        self._static_step()

    def sync_scheduler(self) -> None:
        """Bring the host scheduler to the device's step, so a checkpoint holds the same
        scheduler state an eager run would have saved."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while self.sched.last_epoch < self._host_step:
                self.sched.step()
        self._point_optimizer_at_tensors()

    @property
    def lr(self) -> float:
        return float(self.lr_t.item())


class GraphStep(StaticStep):
    """The static step captured once in a CUDA graph and replayed.

    The optimizer is Adam/AdamW with capturable=True (its step count on the device too);
    `__call__` copies the batch's indices into the static buffer and replays. The first
    WARMUP_STEPS steps run eagerly on a side stream (they are real training steps), then
    the capture; both are timed apart from training (setup_seconds).
    """
    mode = "cuda graph"

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.warm_left = WARMUP_STEPS

    def __call__(self, idx: torch.Tensor) -> None:
        if self.graph is not None:
            self.idx.copy_(idx)
            self._host_step += 1
            self.graph.replay()
            return
        if self.warm_left < 0:  # the capture failed: the static step, eagerly
            return super().__call__(idx)
        t0 = time.perf_counter()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            super().__call__(idx)  # a real step, eager
        torch.cuda.current_stream().wait_stream(side)
        self.warm_left -= 1
        if self.warm_left == 0:
            self._capture()
        torch.cuda.synchronize()
        self.setup_seconds += time.perf_counter() - t0

    def _capture(self) -> None:
        # Grads set to None before capture: the captured backward then allocates them
        # from the graph's pool and every replay overwrites them (no zeroing kernel).
        # Capture records the step without running it; the trainer re-seeds the generator
        # before every replay, so the capture's own draws leave no trace.
        self.opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self._static_step()
        except RuntimeError as err:  # a model or op that cannot be captured: stay eager
            self.mode, self.reason = "eager", f"eager: the CUDA graph capture failed ({err})"
            self.warm_left = -1
            return
        self.graph = graph


def graph_refusal(device: torch.device, optimizer: str, n_train: int, batch_size: int,
                  total_steps: int, adversarial: str = "none",
                  exposure: bool = False) -> str | None:
    """Why this run's step cannot be a CUDA graph, or None when it can."""
    if device.type != "cuda":
        return f"eager on {device.type.upper()}: CUDA graphs are for NVIDIA GPUs"
    graphs = os.environ.get("MNIST_STUDIO_CUDA_GRAPHS", GRAPHS_DEFAULT).lower()
    if graphs != "on":
        return f"eager: CUDA graphs are {graphs} (MNIST_STUDIO_CUDA_GRAPHS=on turns them on)"
    if optimizer not in ("adam", "adamw"):
        return f"eager: {optimizer}'s momentum schedule is applied on the host"
    if adversarial != "none":
        return "eager: adversarial training's attack runs eagerly"
    if exposure:
        return "eager: outlier exposure and canvas redraws run eagerly"
    if batch_size > n_train:
        return "eager: the batch is larger than the training split"
    if total_steps > MAX_GRAPH_STEPS:
        return f"eager: {total_steps:,} steps is too long a schedule to precompute"
    return None
