"""The scheduler: one process per runs folder that hands queued runs to an executor.

    python -m core.runs.scheduler --runs runs [--parent PID]

The web app starts it by itself (`SchedulerProcess`, below) and it exits when
that app does; on a cluster it is the one Ray driver. It owns no state: it
claims queued runs from the store, starts them on its executor, relays Stop
to Ray tasks, and marks runs whose process died. Its main thread is free for
Ray, which installs signal handlers and so must not live in a Streamlit
script thread.

Executors (core/runs/executors/):
- `local`: one worker process per run (at most `workers` at once), started
  from a forkserver that has imported torch once, so a start costs a fork,
  not an import: core/runs/executors/processes.py.
- `ray`: see core/runs/executors/ray.py.
"""
from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import subprocess
import threading
import sys
import time
import uuid
from pathlib import Path

from core.machine.paths import ROOT
from core.runs import sweeps
from core.runs.executors import make_executor
from core.runs.retention import prune
from core.runs.state import RunState
from core.runs.database import RunDatabase, StoreBusy
from core.server.settings import RunSettings, load_settings

POLL_SECONDS = 0.1
SWEEP_SECONDS = 0.5  # sweeps are advanced this often (core/runs/sweeps.py)
LOCK_NAME = "scheduler.lock"
log = logging.getLogger("mnist_studio.runs")


class SchedulerProcess:
    """The scheduler process this web process starts (embedded mode) and ends with it."""

    def __init__(self, runs_dir: Path, enabled: bool = True) -> None:
        self.runs_dir, self.enabled = runs_dir, enabled
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Start the scheduler if this app has none alive."""
        if not self.enabled:
            return
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                return
            log = open(self.runs_dir / "scheduler.log", "ab")
            self.process = subprocess.Popen(
                [sys.executable, "-m", "core.runs.scheduler", "--runs", str(self.runs_dir),
                 "--parent", str(os.getpid())],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def shutdown(self) -> None:
        """Stop the scheduler this process started (tests; the app's ends with the app)."""
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
            self.process = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def serve(runs_dir: str | Path, settings: RunSettings, parent: int | None = None,
          max_seconds: float | None = None) -> int:
    """Dispatch until the parent process ends (or SIGTERM). Returns an exit code."""
    store = RunDatabase(runs_dir)
    lock = open(Path(runs_dir) / LOCK_NAME, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another scheduler serves this folder
    runner_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store.interrupt_orphans(runner_id)
    executor = make_executor(store, settings)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    deadline = time.monotonic() + max_seconds if max_seconds else None
    next_prune = time.monotonic()  # at start, then every prune_minutes
    next_sweep = time.monotonic()
    try:
        while not stop["now"]:
            if parent is not None and not _alive(parent):
                break
            if deadline is not None and time.monotonic() > deadline:
                break
            try:
                if time.monotonic() >= next_sweep:  # before dispatch: a new trial starts at once
                    next_sweep = time.monotonic() + SWEEP_SECONDS
                    sweeps.tick(store, settings)
                _dispatch(store, executor, runner_id)
                if settings.prune_minutes and time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + settings.prune_minutes * 60
                    _retention(store, settings)
            except StoreBusy as err:  # another process holds the database: the next tick
                log.warning("runner: %s", err)
            time.sleep(POLL_SECONDS)
    finally:
        executor.shutdown()
        lock.close()
    return 0


def _dispatch(store: RunDatabase, executor, runner_id: str) -> None:
    executor.poll()
    while executor.free_slots() > 0:
        record = store.claim_next(runner_id, executor.name)
        if record is None:
            break
        try:
            executor.start(record)
        except Exception as err:
            store.transition(record.id, RunState.FAILED, [RunState.RUNNING, RunState.STOPPING],
                             phase=None, error=f"could not start: {err}",
                             finished_at=time.time())


def _retention(store: RunDatabase, settings: RunSettings) -> None:
    """Retention's pass (core/runs/retention.py): a failure is logged, never the scheduler's end."""
    try:
        prune(store, settings)
    except StoreBusy:
        raise
    except Exception:
        log.exception("runner: the retention pass failed")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.runs.scheduler",
                                description="Hand queued training runs to the configured executor.")
    p.add_argument("--runs", required=True, help="the runs folder (holds runs.sqlite)")
    p.add_argument("--parent", type=int, default=None,
                   help="exit when this process ends (the web app that started the scheduler)")
    p.add_argument("--max-seconds", type=float, default=None, help="exit after this long (tests)")
    args = p.parse_args(argv)
    return serve(args.runs, load_settings(), args.parent, args.max_seconds)


if __name__ == "__main__":
    sys.exit(main())
