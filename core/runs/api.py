"""The run system's one door for the web app: runs, sweeps, quotas and the scheduler.

ui/ and pages/ reach the run system through this module (and the plain views it
returns: snapshot, curves, compare, sweeps), never through the database.

Every call says who asks (a Viewer), and every answer respects ownership:
a visitor controls only their own runs, sees others' read-only (or not at
all, by setting), and gets "not found" for what they may not see. Limits are
checked in the same transaction that queues a run, so concurrent clicks
cannot slip past them.

    service = get_service()      one per runs folder per process
    service.submit/stop/get/...  runs (RunService)
    service.sweeps               sweeps (core/runs/sweep_desk.py)
    service.quotas               storage and fair-use limits (core/runs/quotas.py)
    service.scheduler            the scheduler process (started on first use)

Nothing trains here: runs are rows in the database, and the scheduler process
trains them elsewhere (core/runs/scheduler.py).
"""
from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from core.machine.files import atomic_write
from core.machine.paths import runs_dir as configured_runs_dir
from core.runs.database import (WEB_BUSY_SECONDS, RunDatabase, RunNotFound, RunRecord, StepSeries,
                                StoreBusy, SweepNotFound, TransitionRefused, new_run_id)
from core.runs.quotas import LimitReached, Quotas
from core.runs.recovery import Recovery, last_recovery, open_database
from core.runs.scheduler import SchedulerProcess
from core.runs.snapshot import RunSnapshot
from core.runs.state import RunState
from core.runs.sweep_desk import SweepDesk
from core.runs.sweeps import SweepError, SweepSpec, SweepView
from core.server.settings import RunSettings, load_settings
from core.server.visitors import Viewer, can_control, can_see
from core.train.config import TrainConfig
from core.train.resume import resume_point

__all__ = ["LimitReached", "NotAllowed", "RunNotFound", "RunService", "StoreBusy", "SweepError",
           "SweepNotFound", "SweepSpec", "SweepView", "TransitionRefused", "get_service",
           "shutdown_services"]


class NotAllowed(PermissionError):
    """The viewer may look at this run but not control it."""


class RunService:
    """Runs, as the web asks for them; `sweeps`, `quotas` and `scheduler` beside."""

    def __init__(self, runs_dir: str | Path | None = None, settings: RunSettings | None = None,
                 start_scheduler: bool = True) -> None:
        self.runs_dir = configured_runs_dir(runs_dir)
        self.settings = settings or load_settings()
        # Checked at start: a damaged database is kept aside and rebuilt (core/runs/recovery.py).
        self.db: RunDatabase = open_database(self.runs_dir, busy_seconds=WEB_BUSY_SECONDS)
        self.scheduler = SchedulerProcess(self.runs_dir, enabled=start_scheduler)
        self.quotas = Quotas(self.db, self.settings)
        self.sweeps = SweepDesk(self.db, self.settings, self.quotas, self.scheduler)
        # At once, not at the first Start: runs queued before a restart start again, and
        # runs a killed server left "training" are marked interrupted (resumable).
        self.scheduler.ensure()

    @property
    def recovery(self) -> Recovery | None:
        """The rebuild this process made of a damaged database at its start, if any."""
        return last_recovery(self.runs_dir)

    def shutdown(self) -> None:
        self.scheduler.shutdown()

    def estimate(self, cfg: TrainConfig) -> float:
        """Estimated minutes of training on the executing device."""
        return self.quotas.estimate(cfg)

    # --------------------------------------------------------------- writes

    def submit(self, cfg: TrainConfig, viewer: Viewer, request_id: str | None = None,
               extra: dict | None = None, files: dict[str, bytes] | None = None,
               estimate_minutes: float | None = None) -> RunSnapshot:
        """Queue a run for the viewer. A repeated request_id returns the run it made.

        `extra` goes into the run's config beside TrainConfig's fields (a fine-tune's
        `finetune` entry, core/train/finetune.py), `files` into its folder before it is
        queued, and `estimate_minutes` replaces the estimate of a full-size run.
        Raises LimitReached (nothing queued) when a limit says no."""
        run_id = new_run_id(cfg)
        run_dir = self.runs_dir / run_id
        record = RunRecord(id=run_id, owner=viewer.id, created=time.time(),
                           config={**asdict(cfg), **(extra or {})},
                           state=RunState.QUEUED, run_dir=str(run_dir), request_id=request_id,
                           estimate_minutes=estimate_minutes if estimate_minutes is not None
                           else self.estimate(cfg), address=viewer.address)
        for name, data in (files or {}).items():
            atomic_write(run_dir / name, data)
        checks = None if viewer.admin else self.quotas.check_run
        try:
            stored = self.db.insert(record, check=checks)
        except BaseException:
            if files:
                shutil.rmtree(run_dir, ignore_errors=True)  # nothing queued: nothing kept
            raise
        if stored.id != run_id and files:  # a replayed request: its run has its own files
            shutil.rmtree(run_dir, ignore_errors=True)
        self.scheduler.ensure()
        return self._view(stored, viewer)

    def _controlled(self, run_id: str, viewer: Viewer) -> RunRecord:
        record = self._record(run_id, viewer)
        if not can_control(viewer, record.owner):
            raise NotAllowed("This run belongs to another visitor: you can look, not change it.")
        return record

    def stop(self, run_id: str, viewer: Viewer) -> RunSnapshot:
        """Cancel a queued run, or ask a training one to stop after its current step."""
        self._controlled(run_id, viewer)
        return self._view(self.db.request_stop(run_id), viewer)

    def resume(self, run_id: str, viewer: Viewer) -> RunSnapshot:
        """Queue a stopped or interrupted run again, to continue from its saved step."""
        record = self._controlled(run_id, viewer)
        if not record.resumable:
            raise TransitionRefused(f"run {run_id} cannot be resumed (it is {record.state.value})")
        saved = resume_point(record.last_checkpoint)
        requeued = self.db.requeue(run_id, str(record.last_checkpoint), step=saved.step,
                                      epochs_done=saved.epochs_done)
        self.scheduler.ensure()
        return self._view(requeued, viewer)

    def pin(self, run_id: str, viewer: Viewer, pinned: bool = True) -> RunSnapshot:
        """An admin keeps a run from retention (or lets it go again)."""
        record = self._record(run_id, viewer)
        if not viewer.admin:
            raise NotAllowed("Only an admin pins runs.")
        return self._view(self.db.set_pinned(record.id, pinned), viewer)

    def delete(self, run_id: str, viewer: Viewer) -> None:
        record = self._controlled(run_id, viewer)
        self.db.delete(run_id)
        shutil.rmtree(record.run_dir, ignore_errors=True)

    # ---------------------------------------------------------------- reads

    def _view(self, record: RunRecord, viewer: Viewer, metrics: bool = False,
              max_points: int = 400, queue: dict[str, int] | None = None) -> RunSnapshot:
        if queue is None:
            queue = self._queue_positions() if record.state == RunState.QUEUED else {}
        steps, epochs = [], []
        if metrics:
            steps = self.db.steps(record.id, max_points).rows()
            epochs = self.db.epochs(record.id)
        created = dt.datetime.fromtimestamp(record.created).isoformat(timespec="seconds")
        return RunSnapshot(
            id=record.id, state=record.state, config=record.config, created=created,
            total_steps=record.total_steps, steps=steps, epochs=epochs, error=record.error,
            queue_position=queue.get(record.id), started_at=record.started_at,
            finished_at=record.finished_at, device=record.device, test=record.test,
            result=record.result, run_dir=record.run_dir, owner=record.owner,
            mine=can_control(viewer, record.owner), phase=record.phase,
            executor=record.executor, node=record.node,
            estimate_minutes=record.estimate_minutes, last_step=record.step, pinned=record.pinned,
            epochs_done=len(epochs) if metrics else record.epochs_done,
            finetune=record.config.get("finetune"), pruned=record.pruned,
            sweep=record.config.get("sweep"))

    def _queue_positions(self) -> dict[str, int]:
        return {r.id: i + 1 for i, r in enumerate(self.db.queue())}

    def _record(self, run_id: str, viewer: Viewer) -> RunRecord:
        record = self.db.get(run_id)
        if not can_see(viewer, record.owner, self.settings.show_others):
            raise RunNotFound(run_id)
        return record

    def get(self, run_id: str, viewer: Viewer, metrics: bool = True,
            max_points: int = 400) -> RunSnapshot:
        """The run with its metrics (steps thinned to max_points), if the viewer may see
        it; else RunNotFound, exactly as for a run that never existed."""
        return self._view(self._record(run_id, viewer), viewer, metrics, max_points)

    def steps(self, run_id: str, viewer: Viewer, max_points: int = 400) -> StepSeries:
        """The run's per-step metrics, thinned, if the viewer may see the run."""
        self._record(run_id, viewer)
        return self.db.steps(run_id, max_points)

    def epochs(self, run_id: str, viewer: Viewer) -> list[dict]:
        self._record(run_id, viewer)
        return self.db.epochs(run_id)

    def list_runs(self, viewer: Viewer, limit: int = 1000,
                  controlled: bool = False) -> list[RunSnapshot]:
        """Runs the viewer may see (with `controlled`, only those it may control: its own,
        or all for an admin), newest first, without their metrics."""
        everyone = viewer.admin or (self.settings.show_others and not controlled)
        owner = None if everyone else viewer.id
        queue = self._queue_positions()
        return [self._view(r, viewer, queue=queue) for r in self.db.list(owner=owner, limit=limit)]

    def active_run(self, viewer: Viewer) -> RunSnapshot | None:
        """The viewer's own run training now, else their next queued one."""
        mine = self.db.list(owner=viewer.id, states=[s for s in RunState if s.active])
        if not mine:
            return None
        mine.sort(key=lambda r: (r.state == RunState.QUEUED, r.queued_at or 0))
        return self._view(mine[0], viewer)

    def busy(self) -> tuple[int, int]:
        """(runs training, runs queued) on the whole server."""
        queued = len(self.db.queue())
        return self.db.active_count() - queued, queued

    def wait(self, run_id: str, viewer: Viewer,
             until: Callable[[RunSnapshot], bool] | None = None, timeout: float = 60.0,
             poll: float = 0.05) -> RunSnapshot:
        """Block until `until(run)` holds (default: the run is over and scored)."""
        until = until or (lambda r: not r.state.active and r.phase is None)
        deadline = time.monotonic() + timeout
        while True:
            view = self.get(run_id, viewer, metrics=False)
            if until(view):
                return view
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {view.state.value} after {timeout}s")
            time.sleep(poll)


_services: dict[Path, RunService] = {}
_services_lock = threading.Lock()


def get_service(runs_dir: str | Path | None = None) -> RunService:
    """One service (so one scheduler) per runs folder per process."""
    key = configured_runs_dir(runs_dir)
    with _services_lock:
        if key not in _services:
            _services[key] = RunService(key)
        return _services[key]


def shutdown_services() -> None:
    """Stop every scheduler this process started (tests, and a clean exit)."""
    with _services_lock:
        for service in _services.values():
            service.shutdown()
        _services.clear()
