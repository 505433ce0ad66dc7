"""The runner: one process per runs folder that hands queued runs to an executor.

    python -m core.train.runner --runs runs [--parent PID]

The web app starts it by itself (core/train/service.py) and it exits when
that app does; on a cluster it is the one Ray driver. It owns no state: it
claims queued runs from the store, starts them on its executor, relays Stop
to Ray tasks, and marks runs whose process died. Its main thread is free for
Ray, which installs signal handlers and so must not live in a Streamlit
script thread.

Executors:
- `local`: one worker process per run (at most `workers` at once), started
  from a forkserver that has imported torch once, so a start costs a fork,
  not an import.
- `ray`: see core/train/ray_executor.py.
"""
from __future__ import annotations

import argparse
import fcntl
import multiprocessing as mp
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Protocol

from core.settings import RunSettings, load_settings
from core.train.state import RunState
from core.train.store import RunRecord, RunStore

POLL_SECONDS = 0.1
LOCK_NAME = "runner.lock"
THREADS_ENV = "MNIST_STUDIO_THREADS"


class Executor(Protocol):
    name: str

    def free_slots(self) -> int: ...
    def start(self, record: RunRecord) -> None: ...
    def poll(self) -> None: ...
    def shutdown(self) -> None: ...


class LocalExecutor:
    """Runs each run in its own process on this machine."""
    name = "local"

    def __init__(self, store: RunStore, workers: int) -> None:
        self.store, self.workers = store, max(1, workers)
        if not os.environ.get(THREADS_ENV):  # the workers inherit it (core.device.configure_threads)
            os.environ[THREADS_ENV] = str(worker_threads(self.workers))
        self.ctx = mp.get_context("forkserver")
        self.ctx.set_forkserver_preload(["core.train.worker", "core.train.loop"])
        self.procs: dict[str, mp.process.BaseProcess] = {}
        self.claims: dict[str, float | None] = {}  # run id -> started_at of the claim it runs

    def free_slots(self) -> int:
        return self.workers - len(self.procs)

    def start(self, record: RunRecord) -> None:
        from core.train.worker import run_local
        proc = self.ctx.Process(target=run_local, name=f"train-{record.id}",
                                args=(str(self.store.runs_dir), record.id, os.getpid()))
        proc.start()
        self.procs[record.id], self.claims[record.id] = proc, record.started_at

    def poll(self) -> None:
        for run_id, proc in list(self.procs.items()):
            if proc.is_alive():
                continue
            proc.join()
            del self.procs[run_id]
            started_at = self.claims.pop(run_id)
            # If the process ended without recording an end (killed, out of memory?, or
            # crashed), say so; unless the run was resumed meanwhile (a new claim).
            code = proc.exitcode
            why = "was killed (out of memory?)" if code and code < 0 else f"exited with code {code}"
            self.store.fail_unfinished(run_id, started_at, f"the training process {why}")

    def shutdown(self) -> None:
        # A worker takes SIGTERM as "the runner is gone": it stops after its current step,
        # resumably, and records that. Waiting without telling them would wait for runs
        # to end by themselves, while they wait for the runner to be gone.
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.join(timeout=30)


def worker_threads(workers: int, cores: int | None = None) -> int:
    """Torch threads per training process: one core stays for the web app, the workers
    share the rest. A thread per core beside a web app rendering pages waits at every
    op's barrier for a descheduled thread: bench/loadtest.py measured runs 20x slower
    on 2 cores (2 threads: ~2,100 samples/s under page load; 1 thread: ~42,000)."""
    if cores is None:
        from core.device import cpu_threads
        cores = cpu_threads()
    return max(1, (cores - 1) // max(1, workers))


def make_executor(store: RunStore, settings: RunSettings) -> Executor:
    if settings.uses_ray:
        from core.train.ray_executor import RayExecutor
        return RayExecutor(store, settings)
    return LocalExecutor(store, settings.worker_count())


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
    store = RunStore(runs_dir)
    lock = open(Path(runs_dir) / LOCK_NAME, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another runner serves this folder
    runner_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store.interrupt_orphans(runner_id)
    executor = make_executor(store, settings)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    deadline = time.monotonic() + max_seconds if max_seconds else None
    try:
        while not stop["now"]:
            if parent is not None and not _alive(parent):
                break
            if deadline is not None and time.monotonic() > deadline:
                break
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
            time.sleep(POLL_SECONDS)
    finally:
        executor.shutdown()
        lock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.train.runner",
                                description="Hand queued training runs to the configured executor.")
    p.add_argument("--runs", required=True, help="the runs folder (holds runs.sqlite)")
    p.add_argument("--parent", type=int, default=None,
                   help="exit when this process ends (the web app that started the runner)")
    p.add_argument("--max-seconds", type=float, default=None, help="exit after this long (tests)")
    args = p.parse_args(argv)
    return serve(args.runs, load_settings(), args.parent, args.max_seconds)


if __name__ == "__main__":
    sys.exit(main())
