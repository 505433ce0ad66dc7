"""The trainer: in-memory batches, a callback per step and per epoch, stop, resume.

    python -m core.train --dataset fashion --model cnn --epochs 8 --out weights/fashion-cnn.pt

Design notes:
- Each split lives on the training device as one normalised float tensor;
  a batch is an index_select, not a DataLoader (the reference notebooks'
  per-sample PIL + ToTensor pipeline costs more than the model itself).
- Randomness is re-seeded from (seed, global step) before every step, so a run
  resumed from step k draws exactly the batches, dropout masks and
  augmentations the uninterrupted run would have drawn. Dropout draws from
  torch's global generator, which threads share: a run is bit-reproducible
  only while no other thread draws from it at the same time.
- The best weights are chosen on the validation split (by loss); the test set
  is never looked at here.
- A run whose loss diverges ends early (core/train/health.py says when and why).
- Resumable state is saved at every epoch end, on stop, and mid-epoch at most
  every `save_every_seconds`, so a killed run loses at most that much.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from core.predict.attacks import training_attack
from core.train.augment import augment
from core.networks.checkpoints import CheckpointMeta, save_checkpoint
from core.data import DataBundle, Split, load_bundle, normalize
from core.machine.device import (configure_cuda, configure_threads, describe_device, pick_device,
                         use_bf16_autocast)
from core.networks.models import build_model
from core.train.config import TrainConfig
from core.train.events import EpochEvent, Event, StepEvent, StopEvent, TrainResult  # noqa: F401
from core.train.health import DivergenceWatch
from core.train.optim import make_optimizer, make_scheduler, shadow_scheduler
from core.train.outliers import OUTLIER_SHARE, exposure_pools
from core.train.resume import restore_training
from core.train.step import EagerStep, Exposure, GraphStep, StepInputs, graph_refusal

SAVE_EVERY_SECONDS = 30.0  # mid-epoch resumable saves: a kill loses at most this much
# Steps between reads of the loss: a read syncs a GPU, so there not every step. The
# divergence watch still sees every step (core/train/step.py's LossWatch keeps its
# figures on the device); only the live chart's points are this far apart.
READ_EVERY = {"cpu": 1, "mps": 20, "cuda": 20}


@dataclass
class _Progress:
    """Everything besides model and optimizer that resuming needs."""
    epoch: int = 0  # 0-based epoch in progress
    step_in_epoch: int = 0  # batches of that epoch already done
    global_step: int = 0
    loss_sum: float = 0.0  # running sums of the epoch in progress
    correct: int = 0
    seen: int = 0
    samples: int = 0  # training samples processed, all epochs
    step_seconds: float = 0.0
    loop_seconds: float = 0.0
    best_val_loss: float = math.inf
    best_val_accuracy: float = 0.0
    best_epoch: float = 0.0
    start_loss: float | None = None  # the first step's loss: divergence is measured from it
    history: list[dict] = field(default_factory=list)


def _seed_step(device: torch.device, seed: int, step: int) -> None:
    # Only the generator this device draws from: torch.manual_seed also seeds
    # every CUDA device, which costs 0.3 ms a step, 5% of a small model's step.
    s = (seed * 1_000_003 + step) % (2**63)
    if device.type == "cuda":
        torch.cuda.manual_seed(s)
    torch.default_generator.manual_seed(s)


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))


def uses_conv(model: nn.Module) -> bool:
    """Convolutional models train in channels_last (NHWC), the layout oneDNN's convs want."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


@torch.inference_mode()
def validate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, autocast: bool,
              batch_size: int | None = None, between: Callable[[], object] | None = None
              ) -> tuple[float, float]:
    """Mean loss and accuracy of the model over (x, y), in batches; `between` runs between
    batches (the stop check)."""
    # On a CPU, batches of 256 keep a small CNN's activations in cache: validating
    # 12,000 images took 0.37 s for fastcnn-wide against 1.12 s in batches of 2,000.
    batch_size = batch_size or (256 if x.device.type == "cpu" else 2000)
    model.eval()
    loss, correct = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for i in range(0, len(y), batch_size):
        if between is not None:
            between()  # a stop asked for meanwhile is announced now, not after validation
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(x[i:i + batch_size]).float()
        loss += F.cross_entropy(logits, y[i:i + batch_size], reduction="sum")
        correct += (logits.argmax(1) == y[i:i + batch_size]).sum()
    n = max(1, len(y))
    return loss.item() / n, correct.item() / n


def _exposure(cfg: TrainConfig, data: DataBundle, device: torch.device,
              memory_format: torch.memory_format) -> Exposure | None:
    """Outliers and canvas redraws on the device, when the run asks for either."""
    if cfg.outlier_exposure <= 0 and cfg.canvas_redraws <= 0:
        return None
    # Only what the run uses is made (0: none of it).
    pools = exposure_pools(cfg.dataset, data.train, cfg.data_dir,
                           per_kind=None if cfg.outlier_exposure > 0 else 0,
                           redraws=None if cfg.canvas_redraws > 0 else 0)
    spec = data.spec

    def put(images: torch.Tensor) -> torch.Tensor:
        return normalize(images, spec.mean, spec.std).to(device).contiguous(
            memory_format=memory_format)
    return Exposure(put(pools.outliers), cfg.outlier_exposure,
                    round(OUTLIER_SHARE * cfg.batch_size) if cfg.outlier_exposure > 0 else 0,
                    put(pools.redrawn), pools.redrawn_labels.to(device), cfg.canvas_redraws)


def _to_device(split: Split, mean: float, std: float, device: torch.device,
               memory_format: torch.memory_format) -> tuple[torch.Tensor, torch.Tensor]:
    x = normalize(split.images, mean, std).to(device).contiguous(memory_format=memory_format)
    return x, split.labels.to(device)


def train(cfg: TrainConfig, data: DataBundle | None = None,
          on_event: Callable[[Event], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          best_path: str | Path | None = None, last_path: str | Path | None = None,
          resume_from: str | Path | None = None,
          save_every_seconds: float = SAVE_EVERY_SECONDS,
          before_save: Callable[[], None] | None = None,
          init_weights: Mapping[str, torch.Tensor] | None = None) -> TrainResult:
    """Train, validating every epoch; keep the weights with the lowest validation loss.

    on_event gets a StepEvent per logged step and an EpochEvent per epoch.
    should_stop is polled before every step: when it turns true the run ends
    after at most the step in flight, keeping the best weights so far.
    best_path receives the best checkpoint whenever it improves; last_path the
    resumable state (model, optimizer, schedule, progress, best_path) at every
    epoch end, on stop, and mid-epoch at most every save_every_seconds;
    before_save is called just before, so a caller can first record the events
    it holds (then what it recorded covers the saved step). resume_from is such
    a last-state file. A diverged loss ends the run: see TrainResult.divergence.
    init_weights start the model from a state dict instead of random weights (a
    fine-tune, core/train/finetune.py); a resumed run's own weights replace them.
    """
    run = _Run(cfg, data or load_bundle(cfg.dataset, cfg.data_dir), _Hooks(
        on_event, should_stop, before_save), best_path, last_path, save_every_seconds,
        init_weights)
    if resume_from is not None:
        run.restore(resume_from)
    run.choose_step()
    while run.epochs_left():
        run.train_epoch()
        run.end_epoch()
        run.save_last()
    return run.result()


@dataclass
class _Hooks:
    on_event: Callable[[Event], None] | None
    should_stop: Callable[[], bool] | None
    before_save: Callable[[], None] | None


class _Run:
    """One training run's state, and its named steps: train an epoch, end it, save."""

    def __init__(self, cfg: TrainConfig, data: DataBundle, hooks: _Hooks,
                 best_path: str | Path | None, last_path: str | Path | None,
                 save_every_seconds: float,
                 init_weights: Mapping[str, torch.Tensor] | None = None) -> None:
        self.cfg, self.data, self.hooks = cfg, data, hooks
        self.best_path, self.last_path = best_path, last_path
        self.save_every_seconds = save_every_seconds
        self.device = device = pick_device(cfg.device)
        self.threads = configure_threads(device)
        if device.type == "cuda":
            configure_cuda()
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model, cfg.layers)
        if init_weights is not None:
            model.load_state_dict(init_weights)
        self.autocast = use_bf16_autocast(device, cfg.model)
        self.memory_format = torch.channels_last if uses_conv(model) else torch.contiguous_format
        self.model = model.to(device, memory_format=self.memory_format)
        spec = data.spec
        self.train_x, self.train_y = _to_device(data.train, spec.mean, spec.std, device,
                                                self.memory_format)
        self.val_x, self.val_y = _to_device(data.val, spec.mean, spec.std, device,
                                            self.memory_format)
        # A CUDA graph needs one batch shape: it drops each epoch's last short batch.
        n = len(data.train)
        self.exposure = _exposure(cfg, data, device, self.memory_format)
        self.refusal = graph_refusal(device, cfg.optimizer, n, cfg.batch_size,
                                     math.ceil(n / cfg.batch_size) * cfg.epochs, cfg.adversarial,
                                     self.exposure is not None)
        graph = self.refusal is None
        self.steps_per_epoch = n // cfg.batch_size if graph else math.ceil(n / cfg.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.opt = make_optimizer(cfg, self.model, device, capturable=graph)
        self.sched = make_scheduler(cfg, self.opt, self.total_steps, cycle_momentum=not graph)
        self.prog, self.best_state = _Progress(), None
        self.history: list[EpochEvent] = []
        self.stopped, self.divergence = False, None
        self.announced: list[int] = []  # the step a stop was announced at (StopEvent), once
        self.read_every = READ_EVERY.get(device.type, READ_EVERY["cuda"])
        self.hyper = asdict(cfg)
        self.best_file = None if best_path is None else str(Path(best_path).resolve())

    # --- setting up ---------------------------------------------------------------------
    def restore(self, path: str | Path) -> None:
        self.prog, self.best_state = _restore(path, self.model, self.opt, self.sched)
        self.history = [EpochEvent(**h) for h in self.prog.history]

    def choose_step(self) -> None:
        """The graph step where the device and settings allow it, else the eager step."""
        spec, cfg = self.data.spec, self.cfg
        fill = (0.0 - spec.mean) / spec.std  # a black pixel, normalised
        aug = (lambda x: augment(x, fill, hflip=spec.hflip_ok, erase=cfg.erase)) if cfg.augment else None
        # Adversarial training: each batch is attacked (after augmentation) and trained on
        # as perturbed; validation stays clean, so the best epoch is the clean best.
        attack = training_attack(cfg.adversarial, cfg.adv_eps, cfg.adv_steps, spec.mean, spec.std)
        inputs = StepInputs(self.train_x, self.train_y, cfg.batch_size, cfg.label_smoothing,
                            self.autocast, aug, attack, self.exposure)
        if self.refusal is None:
            self.step = GraphStep(self.model, self.opt, self.sched, inputs,
                                  shadow_scheduler(cfg, self.total_steps),
                                  self.prog.global_step, self.total_steps)
        else:
            self.step = EagerStep(self.model, self.opt, self.sched, inputs, self.refusal)
        self.watch = DivergenceWatch(cfg, self.prog.start_loss)
        self.last_saved = time.monotonic()
        self.loop_start = time.perf_counter() - self.prog.loop_seconds

    def epochs_left(self) -> bool:
        return self.prog.epoch < self.cfg.epochs and not self.stopped and self.divergence is None

    # --- one epoch ----------------------------------------------------------------------
    def train_epoch(self) -> None:
        """Steps until the epoch ends, a stop is asked for, or the loss diverges."""
        cfg, prog = self.cfg, self.prog
        order = _epoch_order(len(self.data.train), cfg.seed, prog.epoch).to(self.device)
        self.model.train()
        self.window = (time.perf_counter(), 0)
        for i in range(prog.step_in_epoch, self.steps_per_epoch):
            if self.stop_wanted():
                self.stopped = True
                break
            t0 = time.perf_counter()
            _seed_step(self.device, cfg.seed, prog.global_step)
            self.step(order[i * cfg.batch_size:(i + 1) * cfg.batch_size])
            n = min(cfg.batch_size, len(order) - i * cfg.batch_size)
            prog.seen, prog.samples = prog.seen + n, prog.samples + n
            prog.step_in_epoch, prog.global_step = i + 1, prog.global_step + 1
            self.window = (self.window[0], self.window[1] + n)
            if self.watch.start is None:  # one sync, on the run's first step only
                self.watch.start = prog.start_loss = self.step.watch.last.item()
            if prog.global_step % self.read_every == 0 or i + 1 == self.steps_per_epoch:
                self.read_and_emit()
            prog.step_seconds += time.perf_counter() - t0
            if self.divergence is not None:
                break
            if (self.last_path is not None and i + 1 < self.steps_per_epoch
                    and time.monotonic() - self.last_saved >= self.save_every_seconds):
                self.fold_epoch_sums()  # mid-epoch: the saved state has the running sums
                self.save_last()
        self.fold_epoch_sums()

    def read_and_emit(self) -> None:
        """One device sync: the loss, and what the divergence watch needs of every step
        since the last read (the GPU reads every 20 steps, the CPU every step)."""
        loss, peak, nonfinite = self.step.watch.read()
        now = time.perf_counter()
        start, samples = self.window
        prog = self.prog
        self.emit(StepEvent(prog.epoch + 1, prog.global_step, self.total_steps, loss,
                            self.step.lr, samples / max(now - start, 1e-9), now - self.loop_start))
        self.window = (now, 0)
        self.divergence = self.watch.check(prog.global_step, loss, peak, nonfinite)

    def fold_epoch_sums(self) -> None:
        loss_sum, correct = self.step.watch.take_epoch_sums()
        self.prog.loss_sum += loss_sum
        self.prog.correct += correct

    def end_epoch(self) -> None:
        """Validate, keep the best weights, record the epoch: at its end, or when a run
        stopped before its first epoch ended (it still leaves a usable, validated model)."""
        prog, cfg = self.prog, self.cfg
        epoch_done = prog.step_in_epoch == self.steps_per_epoch
        ended_early = self.stopped or self.divergence is not None
        if not (epoch_done or (ended_early and self.best_state is None and prog.global_step > 0)):
            return
        val_loss, val_acc = validate(self.model, self.val_x, self.val_y, self.autocast,
                                      between=self.stop_wanted)
        self.stopped = self.stopped or bool(self.announced)  # asked for during validation
        is_best = val_loss < prog.best_val_loss
        epochs_done = prog.epoch + prog.step_in_epoch / self.steps_per_epoch
        if is_best:
            self.take_best(val_loss, val_acc, round(epochs_done, 3))
        if epoch_done:
            seen = max(1, prog.seen)
            self.history.append(EpochEvent(
                prog.epoch + 1, cfg.epochs, prog.global_step, prog.loss_sum / seen,
                prog.correct / seen, val_loss, val_acc, self.step.lr,
                time.perf_counter() - self.loop_start, is_best))
            self.emit(self.history[-1])
            prog.epoch, prog.step_in_epoch = prog.epoch + 1, 0
            prog.loss_sum, prog.correct, prog.seen = 0.0, 0, 0

    # --- saving -------------------------------------------------------------------------
    def take_best(self, val_loss: float, val_acc: float, epochs_done: float) -> None:
        prog, cfg = self.prog, self.cfg
        self.best_state = {k: v.detach().to("cpu", copy=True)
                           for k, v in self.model.state_dict().items()}
        prog.best_val_loss, prog.best_val_accuracy, prog.best_epoch = val_loss, val_acc, epochs_done
        if self.best_path is not None:
            metrics = {"val_loss": val_loss, "val_accuracy": val_acc, "best_epoch": epochs_done,
                       "steps": prog.global_step}  # RunSummary's names, so far
            save_checkpoint(self.best_path, self.model,
                            CheckpointMeta.new(cfg.dataset, cfg.model, self.hyper, metrics, cfg.layers))

    def save_last(self) -> None:
        """The resumable state: model, optimizer, schedule, progress, best weights."""
        self.prog.loop_seconds = time.perf_counter() - self.loop_start
        if self.last_path is not None:
            if self.hooks.before_save is not None:
                self.hooks.before_save()
            self.step.sync_scheduler()
            self.prog.history = [asdict(h) for h in self.history]
            meta = CheckpointMeta.new(self.cfg.dataset, self.cfg.model, self.hyper,
                                      layers=self.cfg.layers)
            save_checkpoint(self.last_path, self.model, meta, _portable(self.opt.state_dict()),
                            {**asdict(self.prog), "scheduler": self.sched.state_dict(),
                             "best_state_dict": self.best_state, "best_path": self.best_file})
        self.last_saved = time.monotonic()

    # --- events -------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        if self.hooks.on_event is not None:
            self.hooks.on_event(event)

    def stop_wanted(self) -> bool:
        """should_stop, and a StopEvent the first time it says yes."""
        should_stop = self.hooks.should_stop
        if not self.announced and should_stop is not None and should_stop():
            self.announced.append(self.prog.global_step)
            self.emit(StopEvent(self.prog.global_step))
        return bool(self.announced)

    def result(self) -> TrainResult:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        prog = self.prog
        setup = self.step.setup_seconds
        prog.loop_seconds = time.perf_counter() - self.loop_start
        best = build_model(self.cfg.model, self.cfg.layers)
        best.load_state_dict(self.best_state if self.best_state is not None
                             else self.model.state_dict())
        return TrainResult(
            config=self.cfg, model=best.eval(), best_epoch=prog.best_epoch,
            best_val_loss=prog.best_val_loss, best_val_accuracy=prog.best_val_accuracy,
            history=self.history, steps=prog.global_step,
            train_seconds=prog.loop_seconds - setup,
            samples_per_second=prog.samples / max(prog.step_seconds - setup, 1e-9),
            stopped=self.stopped, device=describe_device(self.device), threads=self.threads,
            diverged=self.divergence is not None, divergence=self.divergence,
            step_mode=self.step.mode, step_note=self.step.reason,
            precision="bf16 autocast" if self.autocast else _fp32_name(self.device),
            setup_seconds=setup)


def _fp32_name(device: torch.device) -> str:
    if device.type == "cuda" and torch.get_float32_matmul_precision() != "highest":
        return "fp32 (TF32 matmuls)"
    return "fp32"


def _portable(state: dict) -> dict:
    """An optimizer state dict any device can load: a graph run's tensor learning rate
    saved as a plain number."""
    return {**state, "param_groups": [{**group, "lr": float(group["lr"])}
                                      for group in state["param_groups"]]}


def _restore(path: str | Path, model: nn.Module, opt: torch.optim.Optimizer, sched
             ) -> tuple[_Progress, dict | None]:
    progress, best_state = restore_training(path, model, opt, sched)
    names = {f.name for f in fields(_Progress)}
    return _Progress(**{k: v for k, v in progress.items() if k in names}), best_state


