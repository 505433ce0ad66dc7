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
from typing import Callable, Union

import torch
import torch.nn.functional as F
from torch import nn

from core.augment import augment
from core.checkpoints import CheckpointMeta, read_payload, save_checkpoint
from core.data import DataBundle, Split, load_bundle, normalize
from core.device import configure_threads, describe_device, pick_device, supports_bf16_autocast
from core.evaluate.metrics import EvalResult, predict_split, summarize
from core.evaluate.predictions import predictions_path, save_predictions
from core.models import build_model
from core.train.config import TrainConfig
from core.train.health import DivergenceWatch
from core.train.summary import RunSummary

SAVE_EVERY_SECONDS = 30.0  # mid-epoch resumable saves: a kill loses at most this much


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


def _fused(device: torch.device) -> bool:
    # One fused kernel per step instead of ~10 small ops per parameter tensor: on
    # the CPU that made `cnn` steps 6% and `ffnn` steps 17% faster (bench.levers).
    return device.type in ("cpu", "cuda")


def _make_optimizer(cfg: TrainConfig, model: nn.Module, device: torch.device
                    ) -> torch.optim.Optimizer:
    params, fused = model.parameters(), _fused(device)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay, fused=fused)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def _make_scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer, total_steps: int):
    # OneCycleLR divides by its warm-up length (pct_start * total_steps - 1 steps),
    # so a run of a handful of steps needs a longer warm-up share, and a run of
    # one or two steps cannot cycle at all. From 8 steps on this is pct_start=0.25.
    if cfg.schedule == "onecycle" and total_steps >= 3:
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=total_steps,
            pct_start=min(0.5, max(0.25, 2 / total_steps)),
            div_factor=10.0, final_div_factor=100.0)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def uses_conv(model: nn.Module) -> bool:
    """Convolutional models train in channels_last (NHWC), the layout oneDNN's convs want."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


@torch.inference_mode()
def _validate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, autocast: bool,
              batch_size: int | None = None, between: Callable[[], object] | None = None
              ) -> tuple[float, float]:
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
          before_save: Callable[[], None] | None = None) -> TrainResult:
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
    """
    device = pick_device(cfg.device)
    threads = configure_threads(device)
    data = data or load_bundle(cfg.dataset, cfg.data_dir)
    spec = data.spec
    autocast = supports_bf16_autocast(device)

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model)
    memory_format = torch.channels_last if uses_conv(model) else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    opt = _make_optimizer(cfg, model, device)
    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    sched = _make_scheduler(cfg, opt, total_steps)

    prog, best_state = _Progress(), None
    if resume_from is not None:
        prog, best_state = _restore(resume_from, model, opt, sched)

    train_x, train_y = _to_device(data.train, spec.mean, spec.std, device, memory_format)
    val_x, val_y = _to_device(data.val, spec.mean, spec.std, device, memory_format)
    fill = (0.0 - spec.mean) / spec.std  # a black pixel, normalised
    log_every = 1 if device.type == "cpu" else 20  # .item() syncs a GPU: not every step
    history = [EpochEvent(**h) for h in prog.history]
    hyper = asdict(cfg)
    best_file = None if best_path is None else str(Path(best_path).resolve())  # for a resume

    def emit(event: Event) -> None:
        if on_event is not None:
            on_event(event)

    def save_last() -> None:
        nonlocal last_saved
        if last_path is not None:
            if before_save is not None:
                before_save()
            prog.history = [asdict(h) for h in history]
            meta = CheckpointMeta.new(cfg.dataset, cfg.model, hyper)
            save_checkpoint(last_path, model, meta, opt.state_dict(),
                            {**asdict(prog), "scheduler": sched.state_dict(),
                             "best_state_dict": best_state, "best_path": best_file})
        last_saved = time.monotonic()

    def take_best(val_loss: float, val_acc: float, epochs_done: float) -> None:
        nonlocal best_state
        best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        prog.best_val_loss, prog.best_val_accuracy, prog.best_epoch = val_loss, val_acc, epochs_done
        if best_path is not None:
            metrics = {"val_loss": val_loss, "val_accuracy": val_acc, "best_epoch": epochs_done,
                       "steps": prog.global_step}  # RunSummary's names, so far
            save_checkpoint(best_path, model, CheckpointMeta.new(cfg.dataset, cfg.model, hyper, metrics))

    stopped, divergence = False, None
    announced = []  # the step a stop was announced at (StopEvent), once

    def stop_wanted() -> bool:
        """should_stop, and a StopEvent the first time it says yes."""
        if not announced and should_stop is not None and should_stop():
            announced.append(prog.global_step)
            emit(StopEvent(prog.global_step))
        return bool(announced)

    watch = DivergenceWatch(cfg, prog.start_loss)
    last_saved = time.monotonic()
    loop_start = time.perf_counter() - prog.loop_seconds
    while prog.epoch < cfg.epochs and not stopped and divergence is None:
        order = _epoch_order(len(data.train), cfg.seed, prog.epoch).to(device)
        model.train()
        loss_acc = torch.zeros((), device=device)
        correct_acc = torch.zeros((), device=device, dtype=torch.int64)
        window_start, window_samples = time.perf_counter(), 0
        for i in range(prog.step_in_epoch, steps_per_epoch):
            if stop_wanted():
                stopped = True
                break
            t0 = time.perf_counter()
            _seed_step(device, cfg.seed, prog.global_step)
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            x, y = train_x.index_select(0, idx), train_y.index_select(0, idx)
            if cfg.augment:
                x = augment(x, fill, hflip=spec.hflip_ok, erase=cfg.erase)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_acc += loss.detach() * len(y)
            correct_acc += (logits.argmax(1) == y).sum()
            prog.seen += len(y)
            prog.samples += len(y)
            prog.step_in_epoch, prog.global_step = i + 1, prog.global_step + 1
            window_samples += len(y)
            if watch.start is None:  # one sync, on the run's first step only
                watch.start = prog.start_loss = loss.item()
            if prog.global_step % log_every == 0 or i + 1 == steps_per_epoch:
                step_loss = loss.item()  # syncs the device, so the timing below is honest
                now = time.perf_counter()
                emit(StepEvent(prog.epoch + 1, prog.global_step, total_steps, step_loss,
                               sched.get_last_lr()[0],
                               window_samples / max(now - window_start, 1e-9), now - loop_start))
                window_start, window_samples = now, 0
                divergence = watch.check(prog.global_step, step_loss)
            prog.step_seconds += time.perf_counter() - t0
            if divergence is not None:
                break
            if (last_path is not None and i + 1 < steps_per_epoch
                    and time.monotonic() - last_saved >= save_every_seconds):
                # Mid-epoch: fold the epoch's running sums in, so the saved state has them.
                prog.loss_sum += loss_acc.item()
                prog.correct += int(correct_acc.item())
                loss_acc.zero_()
                correct_acc.zero_()
                prog.loop_seconds = time.perf_counter() - loop_start
                save_last()
        prog.loss_sum += loss_acc.item()
        prog.correct += int(correct_acc.item())

        epoch_done = prog.step_in_epoch == steps_per_epoch
        ended_early = stopped or divergence is not None
        if epoch_done or (ended_early and best_state is None and prog.global_step > 0):
            # A stop before the first epoch ends still leaves a usable, validated model.
            val_loss, val_acc = _validate(model, val_x, val_y, autocast, between=stop_wanted)
            stopped = stopped or bool(announced)  # asked for during validation: end after it
            is_best = val_loss < prog.best_val_loss
            epochs_done = prog.epoch + prog.step_in_epoch / steps_per_epoch
            if is_best:
                take_best(val_loss, val_acc, round(epochs_done, 3))
            if epoch_done:
                seen = max(1, prog.seen)
                history.append(EpochEvent(
                    prog.epoch + 1, cfg.epochs, prog.global_step, prog.loss_sum / seen,
                    prog.correct / seen, val_loss, val_acc, sched.get_last_lr()[0],
                    time.perf_counter() - loop_start, is_best))
                emit(history[-1])
                prog.epoch, prog.step_in_epoch = prog.epoch + 1, 0
                prog.loss_sum, prog.correct, prog.seen = 0.0, 0, 0
        prog.loop_seconds = time.perf_counter() - loop_start
        save_last()

    if device.type == "cuda":
        torch.cuda.synchronize()
    prog.loop_seconds = time.perf_counter() - loop_start
    best = build_model(cfg.model)
    best.load_state_dict(best_state if best_state is not None else model.state_dict())
    return TrainResult(
        config=cfg, model=best.eval(), best_epoch=prog.best_epoch,
        best_val_loss=prog.best_val_loss, best_val_accuracy=prog.best_val_accuracy,
        history=history, steps=prog.global_step, train_seconds=prog.loop_seconds,
        samples_per_second=prog.samples / max(prog.step_seconds, 1e-9), stopped=stopped,
        device=describe_device(device), threads=threads, diverged=divergence is not None,
        divergence=divergence)


def finish(result: TrainResult, data: DataBundle, path: str | Path,
           run: str | None = None) -> tuple[EvalResult, RunSummary]:
    """Evaluate the best weights once on the test set and save them with the run's summary.

    The test set is looked at here only, after training chose its weights.
    """
    cfg = result.config
    pred = predict_split(result.model, data.test, data.spec.mean, data.spec.std)
    test = summarize(pred)
    summary = RunSummary.of(result, test, path, run)
    save_checkpoint(path, result.model,
                    CheckpointMeta.new(cfg.dataset, cfg.model, asdict(cfg), summary.to_json()))
    # Kept beside the checkpoint, so Evaluate and Mistakes open it without a model pass.
    save_predictions(predictions_path(path), pred, path, data.test, data.spec.mean, data.spec.std)
    return test, summary


def _resumable(path: str | Path) -> dict:
    payload = read_payload(path)
    if not payload.get("progress") or payload.get("optimizer") is None:
        raise ValueError(f"{path} holds no training state to resume (it is a best-weights "
                         "checkpoint; resume from the run's last.pt)")
    return payload


def _restore(path: str | Path, model: nn.Module, opt: torch.optim.Optimizer, sched
             ) -> tuple[_Progress, dict | None]:
    payload = _resumable(path)
    progress = payload["progress"]
    model.load_state_dict(payload["state_dict"])
    fused = [group["fused"] for group in opt.param_groups]
    opt.load_state_dict(payload["optimizer"])  # also restores the saving run's "fused"
    for group, flag in zip(opt.param_groups, fused):  # which depends on its device
        group["fused"] = flag
    sched.load_state_dict(progress.pop("scheduler"))
    best_state = progress.pop("best_state_dict", None)
    names = {f.name for f in fields(_Progress)}
    return _Progress(**{k: v for k, v in progress.items() if k in names}), best_state


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
    payload = _resumable(path)
    progress = payload["progress"]
    best = progress.get("best_path")
    return ResumePoint(TrainConfig.from_dict(payload["meta"]["hyperparameters"]),
                       int(progress.get("global_step", 0)), Path(best) if best else None,
                       int(progress.get("epoch", 0)))
