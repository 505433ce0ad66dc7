"""Training jobs that run in a background thread and survive page refreshes.

A JobManager owns one worker thread, so at most one job trains at a time in
a process; others wait in its queue. Each run lives in its own folder:

    runs/<id>/config.json     the TrainConfig
    runs/<id>/metrics.jsonl   one event per line, appended as they come
    runs/<id>/status.json     state, error, test results, timings
    runs/<id>/best.pt         best checkpoint by validation loss
    runs/<id>/last.pt         resumable state (while a run can be resumed)

The UI never talks to the training thread: it reads `snapshot()`, a copy
taken under a lock, or blocks in `wait()` on a condition the worker notifies
at every event and change of state. No Streamlit here.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import queue
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from core.data import DataBundle, load_bundle
from core.device import cpu_threads, describe_device, pick_device
from core.paths import configured_dir
from core.evaluate.metrics import EvalSummary
from core.train.config import TrainConfig
from core.train.loop import Event, StepEvent, finish, train
from core.train.state import RunState
from core.train.summary import RunSummary

ENV_RUNS = "MNIST_STUDIO_RUNS"
DEFAULT_RUNS_DIR = Path(__file__).resolve().parent.parent / "runs"  # gitignored


@dataclass
class JobSnapshot:
    """A consistent copy of a job's state, safe to read from any thread."""
    id: str
    state: RunState
    config: TrainConfig
    created: str
    total_steps: int = 0
    steps: list[dict] = field(default_factory=list)  # StepEvent dicts
    epochs: list[dict] = field(default_factory=list)  # EpochEvent dicts
    error: str | None = None
    queue_position: int | None = None  # 1 = next to start
    started_at: float | None = None  # time.time()
    finished_at: float | None = None
    device: str | None = None
    test: EvalSummary | None = None  # accuracy, per_class_accuracy, confusion_matrix
    result: RunSummary | None = None  # best_epoch, val_accuracy, train_seconds...
    run_dir: str = ""

    def __post_init__(self) -> None:
        # Runs read back from disk (status.json, config.json) arrive as plain JSON values.
        self.state = RunState(self.state)
        if isinstance(self.config, dict):
            self.config = TrainConfig.from_dict(self.config)
        if isinstance(self.test, dict):
            self.test = EvalSummary.from_json(self.test)
        if isinstance(self.result, dict):
            self.result = RunSummary.from_json(self.result)

    @property
    def best_checkpoint(self) -> Path | None:
        p = Path(self.run_dir) / "best.pt"
        return p if p.exists() else None

    @property
    def resumable(self) -> bool:
        return self.state.ended_early and (Path(self.run_dir) / "last.pt").exists()

    @property
    def step(self) -> int:
        return self.steps[-1]["step"] if self.steps else 0

    @property
    def fraction_done(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    @property
    def samples_per_second(self) -> float:
        recent = self.steps[-20:]
        return sum(s["samples_per_second"] for s in recent) / len(recent) if recent else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.steps or self.state not in (RunState.RUNNING, RunState.STOPPING):
            return None
        last = self.steps[-1]
        rate = last["step"] / max(last["elapsed"], 1e-9)  # steps/s, validation included
        return (self.total_steps - last["step"]) / rate if rate > 0 else None


class _Job:
    def __init__(self, snap: JobSnapshot, data: DataBundle | None) -> None:
        self.snap = snap
        self.data = data
        self.stop_flag = threading.Event()
        self.resume_from: Path | None = None


def _new_id(cfg: TrainConfig) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{cfg.dataset}-{cfg.model}-{os.urandom(2).hex()}"


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


class JobManager:
    """Queue, run, stop, resume and list training runs under one runs folder."""

    def __init__(self, runs_dir: str | Path = DEFAULT_RUNS_DIR,
                 load_data: Callable[[TrainConfig], DataBundle] | None = None) -> None:
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._load_data = load_data or (lambda cfg: load_bundle(cfg.dataset, cfg.data_dir))
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified by _save and on every event
        self._jobs: dict[str, _Job] = {}
        self._queue: queue.Queue[str] = queue.Queue()
        self._pending: list[str] = []  # queued ids in order, for queue_position
        self._requests: dict[str, str] = {}  # submit's request_id -> the run it queued
        with self._lock:
            self._load_existing()
        self._worker = threading.Thread(target=self._work, name="mnist-studio-trainer", daemon=True)
        self._worker.start()

    # ---- public API

    def submit(self, cfg: TrainConfig, data: DataBundle | None = None,
               request_id: str | None = None) -> str:
        """Queue a run; it starts as soon as no other run is training.

        A submit repeated with the same request_id (a double click, or a click
        Streamlit replays) returns the run the first one queued.
        """
        with self._lock:
            if request_id is not None and request_id in self._requests:
                return self._requests[request_id]
            job_id = _new_id(cfg)
            run_dir = self.runs_dir / job_id
            run_dir.mkdir(parents=True)
            snap = JobSnapshot(id=job_id, state=RunState.QUEUED, config=cfg,
                               created=dt.datetime.now().isoformat(timespec="seconds"),
                               run_dir=str(run_dir))
            _write_json(run_dir / "config.json", asdict(cfg))
            self._jobs[job_id] = _Job(snap, data)
            if request_id is not None:
                self._requests[request_id] = job_id
            self._save(snap)
            self._enqueue(job_id)
        return job_id

    def stop(self, job_id: str) -> None:
        """Cancel a queued run, or ask a running one to stop after its current step."""
        with self._lock:
            job = self._jobs[job_id]
            if job.snap.state == RunState.QUEUED:
                job.snap.state = RunState.CANCELLED
                job.snap.finished_at = time.time()
                self._pending.remove(job_id)
                self._save(job.snap)
            elif job.snap.state == RunState.RUNNING:
                job.snap.state = RunState.STOPPING
                job.stop_flag.set()
                self._save(job.snap)

    def resume(self, job_id: str) -> None:
        """Queue a stopped (or interrupted) run again; it continues from its last step."""
        with self._lock:
            job = self._jobs[job_id]
            if not job.snap.resumable:
                raise ValueError(f"run {job_id} cannot be resumed (state {job.snap.state})")
            job.resume_from = Path(job.snap.run_dir) / "last.pt"
            job.stop_flag.clear()
            job.snap.state, job.snap.error, job.snap.finished_at = RunState.QUEUED, None, None
            self._save(job.snap)
            self._enqueue(job_id)

    def snapshot(self, job_id: str) -> JobSnapshot:
        with self._lock:
            return self._copy(job_id)

    def list_runs(self) -> list[JobSnapshot]:
        """Every run, newest first."""
        with self._lock:
            ids = sorted(self._jobs, key=lambda i: self._jobs[i].snap.created, reverse=True)
            return [self._copy(i) for i in ids]

    def active_run(self) -> JobSnapshot | None:
        """The run training now, else the next queued one."""
        runs = [r for r in self.list_runs() if r.state.active]
        running = [r for r in runs if r.state != RunState.QUEUED]
        return (running or sorted(runs, key=lambda r: r.queue_position or 0) or [None])[0]

    def wait(self, job_id: str, timeout: float = 60.0, *,
             until: Callable[[JobSnapshot], bool] | None = None) -> JobSnapshot:
        """Block until until(snapshot) holds (default: the run is over); TimeoutError after
        `timeout` seconds. Wakes at every event and change of state, without polling."""
        until = until or (lambda snap: not snap.state.active)
        with self._changed:
            if not self._changed.wait_for(lambda: until(self._copy(job_id)), timeout):
                raise TimeoutError(f"run {job_id} still {self._jobs[job_id].snap.state} "
                                   f"after {timeout}s")
            return self._copy(job_id)

    # ---- internals (the caller holds self._lock)

    def _copy(self, job_id: str) -> JobSnapshot:
        snap = copy.copy(self._jobs[job_id].snap)
        snap.steps, snap.epochs = list(snap.steps), list(snap.epochs)
        snap.queue_position = (self._pending.index(job_id) + 1
                               if job_id in self._pending else None)
        return snap

    def _enqueue(self, job_id: str) -> None:
        self._pending.append(job_id)
        self._queue.put(job_id)

    def _save(self, snap: JobSnapshot) -> None:
        """Write the run's status.json and wake every wait()."""
        status = {k: getattr(snap, k) for k in ("state", "created", "total_steps", "error",
                                                 "started_at", "finished_at", "device")}
        status["test"] = snap.test.to_json() if snap.test else None
        status["result"] = snap.result.to_json() if snap.result else None
        _write_json(Path(snap.run_dir) / "status.json", status)
        self._changed.notify_all()

    def _load_existing(self) -> None:
        """Pick up runs from earlier processes; ones that were live then were interrupted."""
        for run_dir in sorted(p for p in self.runs_dir.iterdir() if p.is_dir()):
            try:
                config = json.loads((run_dir / "config.json").read_text())
                status = json.loads((run_dir / "status.json").read_text())
                snap = JobSnapshot(
                    id=run_dir.name, state=status.get("state", RunState.FAILED), config=config,
                    created=status.get("created", ""), run_dir=str(run_dir),
                    total_steps=status.get("total_steps") or 0,
                    **{k: status.get(k) for k in ("error", "started_at", "finished_at",
                                                  "device", "test", "result")})
            except (OSError, ValueError, TypeError):  # unreadable, or not a run of ours
                continue
            for event in _read_events(run_dir / "metrics.jsonl"):
                (snap.steps if event.get("kind") == "step" else snap.epochs).append(event)
            if snap.state.active:
                snap.state = RunState.CANCELLED
                snap.error = "interrupted: the app stopped while this run was queued or training"
                self._save(snap)
            self._jobs[snap.id] = _Job(snap, None)

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            with self._lock:
                job = self._jobs[job_id]
                if job_id in self._pending:
                    self._pending.remove(job_id)
                if job.snap.state != RunState.QUEUED:  # cancelled while waiting
                    continue
                job.snap.state, job.snap.started_at = RunState.RUNNING, time.time()
                self._save(job.snap)
            self._run(job)

    def _run(self, job: _Job) -> None:
        snap, run_dir = job.snap, Path(job.snap.run_dir)
        cfg = snap.config
        events = open(run_dir / "metrics.jsonl", "a", buffering=1)

        def on_event(ev: Event) -> None:
            row = asdict(ev)
            events.write(json.dumps(row) + "\n")
            with self._lock:
                (snap.steps if isinstance(ev, StepEvent) else snap.epochs).append(row)
                if isinstance(ev, StepEvent):
                    snap.total_steps = ev.total_steps
                self._changed.notify_all()

        try:
            device = pick_device(cfg.device)
            with self._lock:
                snap.device = describe_device(device) if device.type != "cpu" else \
                    f"CPU ({cpu_threads()} threads)"
            data = job.data or self._load_data(cfg)
            result = train(cfg, data, on_event, job.stop_flag.is_set,
                           run_dir / "best.pt", run_dir / "last.pt", job.resume_from)
            test, summary = finish(result, data, run_dir / "best.pt", snap.id)
            if not result.stopped:
                (run_dir / "last.pt").unlink(missing_ok=True)
            with self._lock:
                snap.device, snap.test, snap.result = result.device, test.summary(), summary
                snap.state = RunState.CANCELLED if result.stopped else RunState.FINISHED
        except Exception as err:  # the UI shows the message; the log keeps the trace
            traceback.print_exc()
            with self._lock:
                snap.state, snap.error = RunState.FAILED, f"{type(err).__name__}: {err}"
        finally:
            events.close()
            with self._lock:
                snap.finished_at = time.time()
                self._save(snap)


def _read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut short by a crash
            pass
    return out


_managers: dict[Path, JobManager] = {}
_managers_lock = threading.Lock()


def get_manager(runs_dir: str | Path | None = None) -> JobManager:
    """One manager (so one training thread) per runs folder per process."""
    key = configured_dir(runs_dir, ENV_RUNS, DEFAULT_RUNS_DIR)
    with _managers_lock:
        if key not in _managers:
            _managers[key] = JobManager(key)
        return _managers[key]
