"""The run system as the web app sees it: submit, stop, resume, delete, list, watch.

Every call says who asks (a Viewer), and every answer respects ownership:
a visitor controls only their own runs, sees others' read-only (or not at
all, by setting), and gets "not found" for what they may not see. Limits are
checked in the same transaction that queues a run, so concurrent clicks
cannot slip past them.

Nothing trains here: runs are rows in the store, and the runner process
(started on first use in the embedded mode) trains them elsewhere.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from core.paths import ROOT, runs_dir as configured_runs_dir
from core.runs import storage
from core.runs.legacy import import_legacy
from core.runs.recovery import open_store
from core.runs.retention import Prunable, prune_plan
from core.runs.snapshot import RunSnapshot
from core.runs.state import RunState
from core.runs.storage import LimitReached, Usage
from core.runs.store import (WEB_BUSY_SECONDS, new_run_id, RunNotFound, RunRecord, RunStore, StepSeries,
                             TransitionRefused)
from core.spec import SpecError, check as check_spec
from core.settings import RunSettings, load_settings
from core.train.config import TrainConfig
from core.train.cost import estimate_minutes
from core.visitors import Viewer, can_control, can_see


if TYPE_CHECKING:
    from core.runs.sweeps import SweepSpec, SweepView


class NotAllowed(PermissionError):
    """The viewer may look at this run but not control it."""


class RunService:
    def __init__(self, runs_dir: str | Path | None = None, settings: RunSettings | None = None,
                 start_runner: bool = True) -> None:
        self.runs_dir = configured_runs_dir(runs_dir)
        self.settings = settings or load_settings()
        # Checked at start: a damaged database is kept aside and rebuilt (core/runs/recovery.py).
        self.store = open_store(self.runs_dir, busy_seconds=WEB_BUSY_SECONDS)
        import_legacy(self.store)  # runs folders of the JobManager days, once
        self._start_runner = start_runner
        self._runner: subprocess.Popen | None = None
        self._runner_lock = threading.Lock()
        # At once, not at the first Start: runs queued before a restart start again, and
        # runs a killed server left "training" are marked interrupted (resumable).
        self.ensure_runner()

    # ---------------------------------------------------------------- runner

    def ensure_runner(self) -> None:
        """Start the runner process if this app has none alive (embedded mode)."""
        if not self._start_runner:
            return
        with self._runner_lock:
            if self._runner is not None and self._runner.poll() is None:
                return
            log = open(self.runs_dir / "runner.log", "ab")
            self._runner = subprocess.Popen(
                [sys.executable, "-m", "core.runs.runner", "--runs", str(self.runs_dir),
                 "--parent", str(os.getpid())],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def shutdown(self) -> None:
        """Stop the runner this service started (tests; the app's runner ends with the app)."""
        with self._runner_lock:
            if self._runner is not None and self._runner.poll() is None:
                self._runner.terminate()
                try:
                    self._runner.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._runner.kill()
            self._runner = None

    # --------------------------------------------------------------- limits

    def estimate(self, cfg: TrainConfig) -> float:
        """Estimated minutes of training on the executing device."""
        return estimate_minutes(cfg, self.settings)

    def _check_limits(self, store: RunStore, record: RunRecord) -> None:
        s = self.settings
        layers = record.config.get("layers") if isinstance(record.config, dict) else ""
        if layers:
            try:
                s.model_bounds.check(check_spec(layers))
            except SpecError as err:
                raise LimitReached(f"This model is too large for this server: {err}.") from None
        if record.estimate_minutes is not None and record.estimate_minutes > s.max_run_minutes:
            raise LimitReached(
                f"This run is estimated at {record.estimate_minutes:.1f} minutes of training; "
                f"the limit on this server is {s.max_run_minutes:g} minutes per run. "
                "Use fewer epochs or a smaller model.")
        mine = store.active_count(record.owner)
        if mine >= s.max_active_per_visitor:
            raise LimitReached(
                f"You already have {mine} runs queued or training; the limit is "
                f"{s.max_active_per_visitor} per visitor. Wait for one to finish, or stop one.")
        if s.max_active_per_address and record.address:
            here = store.active_at(record.address)
            if here >= s.max_active_per_address:
                raise LimitReached(
                    f"{here} runs from your network address are queued or training; the limit "
                    f"is {s.max_active_per_address} per address. Wait for one to finish.")
        queued = len(store.queue())
        if queued >= s.max_queue:
            raise LimitReached(f"The server's queue is full ({queued} runs waiting, the limit is "
                               f"{s.max_queue}). Please try again in a few minutes.")
        storage.check_disk(self.runs_dir, s, "runs")
        storage.check_stored(storage.visitor_usage(store, record.owner, s), 0, "run")

    def check_upload(self, viewer: Viewer, size: int) -> None:
        """Raises LimitReached if the viewer may not keep an upload of `size` bytes."""
        storage.check_disk(self.runs_dir, self.settings, "uploads")
        if viewer.admin:
            return
        usage = self.usage(viewer)
        storage.check_upload_count(usage)
        storage.check_stored(usage, size, "upload")
        storage.check_address_uploads(self.store, viewer.address, self.settings)

    def check_keep(self, viewer: Viewer, size: int, what: str) -> None:
        """Raises LimitReached if the viewer may not keep `size` more bytes of `what`
        (a labelled drawing of their handwriting set): the disk floor and their quota."""
        storage.check_disk(self.runs_dir, self.settings, what)
        if not viewer.admin:
            storage.check_stored(self.usage(viewer), size, what)

    def usage(self, viewer: Viewer) -> Usage:
        """What the viewer keeps on this server, against the limits."""
        return storage.visitor_usage(self.store, viewer.id, self.settings)

    def prunable(self, viewer: Viewer) -> list[Prunable]:
        """The viewer's runs that retention removes at its next pass."""
        return prune_plan(self.store, self.settings, owner=viewer.id)

    # --------------------------------------------------------------- writes

    def submit(self, cfg: TrainConfig, viewer: Viewer, request_id: str | None = None,
               extra: dict | None = None, files: dict[str, bytes] | None = None,
               estimate_minutes: float | None = None) -> RunSnapshot:
        """Queue a run for the viewer. A repeated request_id returns the run it made.

        `extra` goes into the run's config beside TrainConfig's fields (a fine-tune's
        `finetune` entry, core/train/finetune.py), `files` into its folder before it is
        queued, and `estimate_minutes` replaces the estimate of a full-size run.
        Raises LimitReached (nothing queued) when a limit says no."""
        import shutil
        run_id = new_run_id(cfg)
        run_dir = self.runs_dir / run_id
        record = RunRecord(id=run_id, owner=viewer.id, created=time.time(),
                           config={**asdict(cfg), **(extra or {})},
                           state=RunState.QUEUED, run_dir=str(run_dir), request_id=request_id,
                           estimate_minutes=estimate_minutes if estimate_minutes is not None
                           else self.estimate(cfg), address=viewer.address)
        for name, data in (files or {}).items():
            from core.files import atomic_write
            atomic_write(run_dir / name, data)
        checks = None if viewer.admin else self._check_limits
        try:
            stored = self.store.insert(record, check=checks)
        except BaseException:
            if files:
                shutil.rmtree(run_dir, ignore_errors=True)  # nothing queued: nothing kept
            raise
        if stored.id != run_id and files:  # a replayed request: its run has its own files
            shutil.rmtree(run_dir, ignore_errors=True)
        self.ensure_runner()
        return self._view(stored, viewer)

    def _controlled(self, run_id: str, viewer: Viewer) -> RunRecord:
        record = self._record(run_id, viewer)
        if not can_control(viewer, record.owner):
            raise NotAllowed("This run belongs to another visitor: you can look, not change it.")
        return record

    def stop(self, run_id: str, viewer: Viewer) -> RunSnapshot:
        """Cancel a queued run, or ask a training one to stop after its current step."""
        self._controlled(run_id, viewer)
        return self._view(self.store.request_stop(run_id), viewer)

    def resume(self, run_id: str, viewer: Viewer) -> RunSnapshot:
        """Queue a stopped or interrupted run again, to continue from its saved step."""
        from core.train.loop import resume_point
        record = self._controlled(run_id, viewer)
        if not record.resumable:
            raise TransitionRefused(f"run {run_id} cannot be resumed (it is {record.state.value})")
        saved = resume_point(record.last_checkpoint)
        requeued = self.store.requeue(run_id, str(record.last_checkpoint), step=saved.step,
                                      epochs_done=saved.epochs_done)
        self.ensure_runner()
        return self._view(requeued, viewer)

    def pin(self, run_id: str, viewer: Viewer, pinned: bool = True) -> RunSnapshot:
        """An admin keeps a run from retention (or lets it go again)."""
        record = self._record(run_id, viewer)
        if not viewer.admin:
            raise NotAllowed("Only an admin pins runs.")
        return self._view(self.store.set_pinned(record.id, pinned), viewer)

    def delete(self, run_id: str, viewer: Viewer) -> None:
        import shutil
        record = self._controlled(run_id, viewer)
        self.store.delete(run_id)
        shutil.rmtree(record.run_dir, ignore_errors=True)

    # --------------------------------------------------------------- sweeps

    def sweep_minutes(self, configs: list[TrainConfig], parallel: int = 1) -> float:
        """Estimated minutes for a sweep's trials: their sum, over the trials run at once."""
        at_once = max(1, min(parallel, self.settings.worker_count()))
        return sum(self.estimate(c) for c in configs) / at_once

    def start_sweep(self, spec: "SweepSpec", viewer: Viewer) -> "SweepView":
        """Check every trial and the sweep limits, then start the sweep (its trials are
        queued by the runner, `parallel` at a time). Raises SweepError or LimitReached,
        with nothing started."""
        import shutil
        from core.runs import sweeps
        from core.runs.store import SweepRow
        for cfg in spec.check(self.settings):
            if not viewer.admin:  # each trial must pass the per-run limits on its own
                self._check_trial(cfg)
        row = SweepRow(id=sweeps.new_sweep_id(spec), owner=viewer.id, created=time.time(),
                       spec=spec.to_json(), address=viewer.address)
        sweeps.create_study(self.runs_dir, row.id, spec)
        try:
            self.store.insert_sweep(row, check=None if viewer.admin else self._check_sweeps)
        except BaseException:
            shutil.rmtree(sweeps.sweep_dir(self.runs_dir, row.id), ignore_errors=True)
            raise
        sweeps.write_record(self.runs_dir, row)
        self.ensure_runner()
        return sweeps.view(self.store, row, mine=True)

    def _check_trial(self, cfg: TrainConfig) -> None:
        s = self.settings
        if cfg.layers:
            try:
                s.model_bounds.check(check_spec(cfg.layers))
            except SpecError as err:
                raise LimitReached(f"This model is too large for this server: {err}.") from None
        minutes = self.estimate(cfg)
        if minutes > s.max_run_minutes:
            raise LimitReached(
                f"A trial of this sweep is estimated at {minutes:.1f} minutes of training; "
                f"the limit on this server is {s.max_run_minutes:g} minutes per run. "
                "Use fewer epochs or a smaller model.")

    def _check_sweeps(self, store: RunStore, row) -> None:
        cap = self.settings.max_active_sweeps
        mine = len(store.list_sweeps(owner=row.owner, state="running"))
        if mine >= cap:
            raise LimitReached(f"You already have {mine} sweep{'s' if mine > 1 else ''} running; "
                               f"the limit is {cap} per visitor. Wait for it to finish, or "
                               "stop it.")
        storage.check_disk(self.runs_dir, self.settings, "runs")

    def _sweep(self, sweep_id: str, viewer: Viewer):
        """A sweep is its owner's (and the admin's) alone: anyone else gets not found."""
        from core.runs.store import SweepNotFound
        row = self.store.get_sweep(sweep_id)
        if not can_control(viewer, row.owner):
            raise SweepNotFound(sweep_id)
        return row

    def get_sweep(self, sweep_id: str, viewer: Viewer) -> "SweepView":
        from core.runs import sweeps
        return sweeps.view(self.store, self._sweep(sweep_id, viewer), mine=True)

    def list_sweeps(self, viewer: Viewer) -> list["SweepView"]:
        """The viewer's sweeps (an admin's: everyone's), newest first."""
        from core.runs import sweeps
        rows = self.store.list_sweeps(owner=None if viewer.admin else viewer.id)
        return [sweeps.view(self.store, row, mine=True) for row in rows]

    def stop_sweep(self, sweep_id: str, viewer: Viewer) -> "SweepView":
        """No more trials; its active ones are stopped (each keeps its best checkpoint)."""
        row = self._sweep(sweep_id, viewer)
        self.store.end_sweep(row.id, "stopped")
        for record in self.store.sweep_runs(row.id):
            if record.state.active:
                try:
                    self.store.request_stop(record.id)
                except TransitionRefused:
                    pass  # ended meanwhile
        return self.get_sweep(sweep_id, viewer)

    # ---------------------------------------------------------------- reads

    def _view(self, record: RunRecord, viewer: Viewer, metrics: bool = False,
              max_points: int = 400, queue: dict[str, int] | None = None) -> RunSnapshot:
        if queue is None:
            queue = self._queue_positions() if record.state == RunState.QUEUED else {}
        steps, epochs = [], []
        if metrics:
            steps = self.store.steps(record.id, max_points).rows()
            epochs = self.store.epochs(record.id)
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
        return {r.id: i + 1 for i, r in enumerate(self.store.queue())}

    def _record(self, run_id: str, viewer: Viewer) -> RunRecord:
        record = self.store.get(run_id)
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
        return self.store.steps(run_id, max_points)

    def epochs(self, run_id: str, viewer: Viewer) -> list[dict]:
        self._record(run_id, viewer)
        return self.store.epochs(run_id)

    def list_runs(self, viewer: Viewer, limit: int = 1000,
                  controlled: bool = False) -> list[RunSnapshot]:
        """Runs the viewer may see (with `controlled`, only those it may control: its own,
        or all for an admin), newest first, without their metrics."""
        everyone = viewer.admin or (self.settings.show_others and not controlled)
        owner = None if everyone else viewer.id
        queue = self._queue_positions()
        return [self._view(r, viewer, queue=queue) for r in self.store.list(owner=owner, limit=limit)]

    def active_run(self, viewer: Viewer) -> RunSnapshot | None:
        """The viewer's own run training now, else their next queued one."""
        mine = self.store.list(owner=viewer.id, states=[s for s in RunState if s.active])
        if not mine:
            return None
        mine.sort(key=lambda r: (r.state == RunState.QUEUED, r.queued_at or 0))
        return self._view(mine[0], viewer)

    def busy(self) -> tuple[int, int]:
        """(runs training, runs queued) on the whole server."""
        queued = len(self.store.queue())
        return self.store.active_count() - queued, queued

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
    """One service (so one runner) per runs folder per process."""
    key = configured_runs_dir(runs_dir)
    with _services_lock:
        if key not in _services:
            _services[key] = RunService(key)
        return _services[key]


def shutdown_services() -> None:
    """Stop every runner this process started (tests, and a clean exit)."""
    with _services_lock:
        for service in _services.values():
            service.shutdown()
        _services.clear()
