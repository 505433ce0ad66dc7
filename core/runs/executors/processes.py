"""The local executor: one worker process per run on this machine.

At most `workers` runs train at once, each in its own process, started from a
forkserver that has imported torch once, so a start costs a fork, not an
import. The process trains the run with core.runs.job.execute and records
it straight into the store (a RunRecorder); the scheduler only watches it end.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
from pathlib import Path

from core.machine.device import cpu_threads
from core.runs.database import INTERRUPTED, RunDatabase, RunRecord
from core.runs.job import RunRecorder, execute, polled

THREADS_ENV = "MNIST_STUDIO_THREADS"
NICE_ENV = "MNIST_STUDIO_WORKER_NICE"
# How far a training worker's niceness goes above the web process's: the web (a visitor's
# stroke, a page) gets the cores first, the trainer every cycle they leave. 0 leaves the
# worker level with the web. Relative, so a web server started niced still comes first.
WORKER_NICE = 10


class LocalExecutor:
    """Runs each run in its own process on this machine."""
    name = "local"

    def __init__(self, store: RunDatabase, workers: int) -> None:
        self.store, self.workers = store, max(1, workers)
        if not os.environ.get(THREADS_ENV):  # the workers inherit it (core.machine.device.configure_threads)
            os.environ[THREADS_ENV] = str(worker_threads(self.workers))
        self.ctx = mp.get_context("forkserver")
        # What every run imports, once, in the forkserver: a run's process forks from it
        # warm. torchvision.datasets (the IDX reader) alone took 1.8 s of a 2 s start
        # (bench.first_point, 2-core CPU).
        self.ctx.set_forkserver_preload(["core.runs.executors.processes", "core.train.loop",
                                         "torchvision.datasets"])
        self.procs: dict[str, mp.process.BaseProcess] = {}
        self.claims: dict[str, float | None] = {}  # run id -> started_at of the claim it runs

    def free_slots(self) -> int:
        return self.workers - len(self.procs)

    def start(self, record: RunRecord) -> None:
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
        # A worker takes SIGTERM as "the scheduler is gone": it stops after its current step,
        # resumably, and records that. Waiting without telling them would wait for runs
        # to end by themselves, while they wait for the scheduler to be gone.
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
        cores = cpu_threads()
    return max(1, (cores - 1) // max(1, workers))


def lower_priority(web_pid: int | None = None) -> int:
    """This process's CPU priority below the web's: the niceness of process `web_pid`
    (this process's own when None or gone) plus WORKER_NICE (or
    $MNIST_STUDIO_WORKER_NICE), at most 19; never raised. Returns the niceness now. On
    Linux a niceness is a thread's: every thread this process has gets it, and the threads
    it starts later inherit it (a forkserver child has a helper thread before the run
    starts)."""
    try:
        web = os.getpriority(os.PRIO_PROCESS, web_pid or 0)
    except OSError:  # the web process is gone: go by this process's own
        web = os.getpriority(os.PRIO_PROCESS, 0)
    step = max(0, int(os.environ.get(NICE_ENV) or WORKER_NICE))
    wanted = min(19, web + step)
    tasks = Path("/proc/self/task")
    threads = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]
    for tid in threads:
        try:
            if wanted > os.getpriority(os.PRIO_PROCESS, tid):
                os.setpriority(os.PRIO_PROCESS, tid, wanted)
        except OSError:  # the thread ended meanwhile
            continue
    return os.getpriority(os.PRIO_PROCESS, 0)


def run_local(runs_dir: str, run_id: str, runner_pid: int) -> None:
    """A local worker process's entry point: one run, then exit.

    A run in its own process cannot take the web app down (an out-of-memory
    kill ends this process only), and shares no GIL with it. If the scheduler
    dies (the app was shut down), or this process is sent SIGTERM or SIGINT, the run stops
    as if Stop were pressed, so it can be resumed. It runs at a lower CPU priority than
    the web process, the scheduler's `runner_pid` (lower_priority).
    """
    lower_priority(runner_pid)
    store = RunDatabase(runs_dir)
    record = store.get(run_id)
    recorder = RunRecorder(store, run_id, record.run_dir)
    def runner_gone() -> bool:  # the forkserver, not the scheduler, is this process's parent
        try:
            os.kill(runner_pid, 0)
            return False
        except ProcessLookupError:
            return True

    # SIGTERM comes from the scheduler when it shuts down (it waits for this process, so
    # waiting for it to be gone would wait for each other), or to the server's whole
    # process group (systemd, docker), as SIGINT does on Ctrl+C: stop after the step in
    # flight, as a Stop does, instead of dying mid-step without the last step saved.
    signalled = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: signalled.append(number))

    def stop_wanted() -> bool:
        return bool(signalled) or store.stop_requested(run_id) or runner_gone()

    execute(run_id, record.config, Path(record.run_dir), recorder, polled(stop_wanted),
            record.resume_from)
    if signalled or runner_gone():
        store.update(run_id, error=INTERRUPTED)
