"""Running one stored run, wherever it runs: a local worker process or a Ray task.

`execute` trains and scores a run and tells a recorder what happens; every
executor (core/runs/executors/) calls it. The recorder is where the two differ:
- `RunRecorder` writes straight into the run store and the run's folder
  (a local worker process, core/runs/executors/processes.py, and the scheduler
  process for Ray runs);
- a Ray task gets a recorder that turns each call into a message, streamed
  back to the scheduler, which replays it on a RunRecorder (core/runs/executors/ray.py).
So both executors record the same things in the same way.
"""
from __future__ import annotations

import errno
import socket
import sqlite3
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Protocol

from core.machine.files import atomic_write
from core.runs.database import RunDatabase
from core.runs.state import RunState

FLUSH_SECONDS = 0.25  # progress reaches the store (and the live view) 4x a second
STOP_POLL_SECONDS = 0.2  # a Stop is seen within this, then the step in flight ends


class Recorder(Protocol):
    def placed(self, node: str, device: str) -> None: ...
    def events(self, steps: list[dict], epochs: list[dict], total_steps: int | None) -> None: ...
    def stopped(self) -> None: ...
    def phase(self, name: str) -> None: ...
    def file(self, name: str, data: bytes) -> None: ...
    def done(self, summary: dict, test: dict, stopped: bool) -> None: ...
    def failed(self, message: str) -> None: ...


class RunRecorder:
    """Records a run's progress in the store, and its curves as TensorBoard scalars."""

    def __init__(self, store: RunDatabase, run_id: str, run_dir: str | Path) -> None:
        self.store, self.run_id, self.run_dir = store, run_id, Path(run_dir)
        self._tb = None

    def _board(self):
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
            self._tb = SummaryWriter(str(self.run_dir), flush_secs=5)
        return self._tb

    def placed(self, node: str, device: str) -> None:
        # The folder from the start, so that its run.json (core/runs/manifest.py) is kept
        # from the first change on: a damaged database is rebuilt from it.
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.store.update(self.run_id, node=node, device=device)

    def events(self, steps: list[dict], epochs: list[dict], total_steps: int | None) -> None:
        self.store.add_metrics(self.run_id, steps, epochs, total_steps)
        tb = self._board()
        for s in steps:
            tb.add_scalar("train/loss", s["loss"], s["step"])
            tb.add_scalar("train/lr", s["lr"], s["step"])
        for e in epochs:
            for name in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
                split, metric = name.split("_")
                tb.add_scalar(f"{split}/{metric}_epoch" if split == "train" else f"{split}/{metric}",
                              e[name], e["step"])

    def stopped(self) -> None:
        # Seen as Stopped at once; the test-set scoring that follows has its own phase.
        self.store.transition(self.run_id, RunState.CANCELLED,
                              [RunState.RUNNING, RunState.STOPPING], phase="scoring",
                              finished_at=time.time())

    def phase(self, name: str) -> None:
        self.store.update(self.run_id, phase=name)

    def file(self, name: str, data: bytes) -> None:
        atomic_write(self.run_dir / name, data)

    def done(self, summary: dict, test: dict, stopped: bool) -> None:
        if stopped:
            self.store.update(self.run_id, phase=None, test=test, result=summary)
        elif summary.get("diverged"):
            self.store.transition(self.run_id, RunState.DIVERGED,
                                  [RunState.RUNNING, RunState.STOPPING], phase=None, test=test,
                                  result=summary, error=summary.get("divergence"),
                                  finished_at=time.time())
        else:
            self.store.transition(self.run_id, RunState.FINISHED,
                                  [RunState.RUNNING, RunState.STOPPING], phase=None, test=test,
                                  result=summary, finished_at=time.time())
        self.close()

    def failed(self, message: str) -> None:
        record = self.store.get(self.run_id)
        if record.state.active:
            self.store.transition(self.run_id, RunState.FAILED, [record.state], phase=None,
                                  error=message, finished_at=time.time())
        else:  # stopped, then scoring failed: keep Stopped, say why
            self.store.update(self.run_id, phase=None, error=message)
        self.close()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


class _Batcher:
    """Collects the trainer's events and hands them on at most every FLUSH_SECONDS."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder, self.steps, self.epochs = recorder, [], []
        self.total: int | None = None
        self.last_flush = time.monotonic()
        self.stopped = False  # the trainer announced a stop, and the run now says Stopped

    def __call__(self, event) -> None:
        row = asdict(event)
        kind = row.pop("kind")
        if kind == "stop":  # at once: the validation and scoring that follow take a while
            self.flush()
            self.recorder.stopped()
            self.stopped = True
            return
        if kind == "step":
            self.steps.append(row)
            self.total = row.pop("total_steps")
        else:
            self.epochs.append(row)
        if self.epochs or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.steps or self.epochs:
            self.recorder.events(self.steps, self.epochs, self.total)
            self.steps, self.epochs = [], []
        self.last_flush = time.monotonic()


def polled(check: Callable[[], bool], every: float = STOP_POLL_SECONDS) -> Callable[[], bool]:
    """`check`, asked at most every `every` seconds (the trainer asks before each step)."""
    state = {"next": 0.0, "answer": False}

    def should_stop() -> bool:
        now = time.monotonic()
        if not state["answer"] and now >= state["next"]:
            state["answer"], state["next"] = bool(check()), now + every
        return state["answer"]
    return should_stop


def execute(run_id: str, config: dict, run_dir: Path, recorder: Recorder,
            should_stop: Callable[[], bool], resume_from: str | None = None) -> None:
    """Train a run, then score its best weights on the test set; report all of it."""
    batcher = _Batcher(recorder)
    try:
        # Imported in the worker that trains (its forkserver preloads them), not in the
        # scheduler, which imports this module to start workers and never needs torch.
        from core.data import load_bundle
        from core.evaluate.final import finish
        from core.machine.device import configure_threads, describe_device, pick_device
        from core.server.settings import load_settings
        from core.train.config import TrainConfig
        from core.train.loop import train

        cfg = TrainConfig.from_dict(config)
        device = pick_device(cfg.device)
        configure_threads(device)  # before describing it: the label names the threads training uses
        recorder.placed(socket.gethostname(), describe_device(device))
        data = load_bundle(cfg.dataset, cfg.data_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        job = None
        if config.get("finetune"):  # a fine-tune: its base weights, its set mixed with replay
            from core.train.finetune import job_for_run  # as above
            job = job_for_run(config["finetune"], run_dir, data)
            data = job.data
        # Events are recorded before each resumable save: a kill after it repeats no step.
        result = train(cfg, data, batcher, should_stop, run_dir / "best.pt", run_dir / "last.pt",
                       resume_from, load_settings().save_seconds, batcher.flush,
                       init_weights=job.init_weights if job else None)
        batcher.flush()
        if result.stopped and not batcher.stopped:
            recorder.stopped()
        elif not result.stopped:
            recorder.phase("scoring")
        test, summary = finish(result, data, run_dir / "best.pt", run=run_id)
        if job is not None:  # before and after, on the held-out drawings and the test set
            from core.train.finetune import MEASURE_FILE  # as above
            from core.train.finetune import measure_bytes
            recorder.file(MEASURE_FILE, measure_bytes(job.measure(result.model, test.accuracy)))
        if not result.stopped:  # finished, or diverged (resuming would diverge again)
            (run_dir / "last.pt").unlink(missing_ok=True)
        recorder.done(summary.to_json(), test.summary().to_json(), result.stopped)
    except Exception as err:  # the page shows the message; the log keeps the trace
        traceback.print_exc()
        try:
            batcher.flush()
        except Exception:  # the store itself failing (a full disk): the message still goes
            traceback.print_exc()
        recorder.failed(failure_message(err))


def failure_message(err: BaseException) -> str:
    """What the run's page says about why it failed."""
    full = (isinstance(err, OSError) and err.errno == errno.ENOSPC
            or isinstance(err, sqlite3.OperationalError) and "full" in str(err))
    if full:
        return ("The disk is full: no space was left to save this run's files. Its last "
                "saved state is kept; resume it once space has been freed.")
    return f"{type(err).__name__}: {err}"
