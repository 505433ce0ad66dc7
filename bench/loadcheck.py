"""What the load test measures in the run store: samples taken while it runs, and the
checks on every run at the end. No Streamlit here (bench/loadtest.py drives the pages).

A `Monitor` thread reads the store a few times a second: which runs train (and at
which step), how many hold a worker process, how many wait, how many each visitor
has active. From those samples come the limits' checks (never more training than
workers, never a longer queue than allowed, never a visitor over their quota) and
the training throughput: samples trained per second by all runs together, over the
time at least one run trained. `final_problems` reads each run once everything has
ended and names every state a run could not really have.
"""
from __future__ import annotations

import bisect
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.server.settings import RunSettings
from core.runs.state import RunState
from bench.procs import descendants
from core.runs.database import RunDatabase

SAMPLE_SECONDS = 0.1


@dataclass
class Sample:
    t: float  # time.monotonic()
    training: set[str]  # runs in their training phase
    steps: dict[str, int]  # every run's last recorded step
    batch: dict[str, int]  # every run's batch size
    holding_worker: int  # runs whose process lives: training, stopping, or scoring after a Stop
    queued: int
    most_active_per_owner: int


@dataclass
class Throughput:
    samples_per_second: float  # all runs together, over the time at least one trained
    mean_runs_training: float  # how many trained at once, on average over that time
    busy_seconds: float


def still_alive(processes: set[tuple[int, str]]) -> list[int]:
    """The pids among `processes` that still run (not the same pid reused, not a zombie)."""
    alive = []
    for pid, start in processes:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[19] == start and fields[0] != "Z":
            alive.append(pid)
    return sorted(alive)


class Monitor(threading.Thread):
    """Samples the store every SAMPLE_SECONDS until stop(); also notes every process this
    one starts (the scheduler, its forkserver, the training processes)."""

    def __init__(self, runs_dir: Path) -> None:
        super().__init__(name="loadtest-monitor", daemon=True)
        self.store = RunDatabase(runs_dir)
        self.samples: list[Sample] = []
        self.processes: set[tuple[int, str]] = set()
        self._halt = threading.Event()

    def run(self) -> None:
        last_scan = 0.0
        while not self._halt.is_set():
            self.samples.append(self.sample())
            if time.monotonic() - last_scan > 1.0:
                self.processes |= descendants(os.getpid())
                last_scan = time.monotonic()
            self._halt.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def sample(self) -> Sample:
        records = self.store.list(limit=10**6)
        training, per_owner = set(), {}
        steps = {r.id: r.step for r in records}
        batch = {r.id: r.config.get("batch_size") for r in records}
        holding = queued = 0
        for r in records:
            if r.state in (RunState.RUNNING, RunState.STOPPING) and r.phase == "training":
                training.add(r.id)
            if r.state in (RunState.RUNNING, RunState.STOPPING) or r.phase == "scoring":
                holding += 1
            queued += r.state == RunState.QUEUED
            if r.state.active:
                per_owner[r.owner] = per_owner.get(r.owner, 0) + 1
        return Sample(time.monotonic(), training, steps, batch, holding, queued,
                      max(per_owner.values(), default=0))

    # ------------------------------------------------------------ readings

    def training_at(self, t0: float, t1: float) -> bool:
        """Whether a run was training at some moment of [t0, t1] (by the nearest samples)."""
        times = [s.t for s in self.samples]
        first = max(0, bisect.bisect_right(times, t0) - 1)
        last = bisect.bisect_right(times, t1)
        return any(s.training for s in self.samples[first:last + 1])

    def throughput(self, since: float, until: float) -> Throughput:
        """Steps gained between consecutive samples by the runs training at the first of
        them, in samples/s. (A run's last steps arrive with its end: a run that has left
        training by the second sample still counts its steps up to there.)"""
        window = [s for s in self.samples if since <= s.t <= until]
        trained = busy = weighted_runs = 0.0
        for a, b in zip(window, window[1:]):
            if not a.training:
                continue
            dt = b.t - a.t
            trained += sum((b.steps[r] - a.steps[r]) * b.batch[r] for r in a.training)
            busy += dt
            weighted_runs += len(a.training) * dt
        return Throughput(trained / busy if busy else 0.0,
                          weighted_runs / busy if busy else 0.0, busy)

    def limit_problems(self, settings: RunSettings) -> list[str]:
        """Moments the limits did not hold."""
        problems = []
        workers = settings.worker_count()
        most = max((s.holding_worker for s in self.samples), default=0)
        if most > workers:
            problems.append(f"{most} runs held a worker at once; there are {workers} workers")
        queued = max((s.queued for s in self.samples), default=0)
        if queued > settings.max_queue:
            problems.append(f"{queued} runs queued at once; the queue limit is {settings.max_queue}")
        per_owner = max((s.most_active_per_owner for s in self.samples), default=0)
        if per_owner > settings.max_active_per_visitor:
            problems.append(f"a visitor had {per_owner} runs active; the limit is "
                            f"{settings.max_active_per_visitor}")
        return problems


@dataclass
class Outcomes:
    """How the runs ended, from the store once everything has."""
    finished: int = 0
    cancelled: int = 0
    failed: list[str] = field(default_factory=list)  # "<id>: <error>"
    problems: list[str] = field(default_factory=list)  # states no run may be in


def final_problems(store: RunDatabase, baseline_owner: str) -> Outcomes:
    """Every run is checked; the baseline owner's runs are not counted in the outcomes."""
    out = Outcomes()
    db = store._db()
    for r in store.list(limit=100_000):
        say = lambda what: out.problems.append(f"{r.id}: {what}")  # noqa: E731
        counted = r.owner != baseline_owner
        count, first, last = db.execute(
            "SELECT COUNT(*), MIN(step), MAX(step) FROM steps WHERE run_id = ?", (r.id,)).fetchone()
        if count and (first != 1 or last != count or last != r.step):
            say(f"steps are not 1..{r.step} without gaps ({count} rows, {first}..{last})")
        if r.state.active:
            say(f"still {r.state.value} after everything ended")
        if r.phase is not None:
            say(f"still in phase {r.phase!r} after everything ended")
        if r.state == RunState.FINISHED:
            out.finished += counted
            if r.test is None or r.result is None:
                say("finished without test results")
            if r.step != r.total_steps or r.epochs_done != r.config["epochs"]:
                say(f"finished at step {r.step} of {r.total_steps}, "
                    f"{r.epochs_done} of {r.config['epochs']} epochs")
        elif r.state == RunState.CANCELLED:
            out.cancelled += counted
            if r.total_steps and r.step == r.total_steps:
                say("stopped after its last step (it should have finished)")
        elif r.state == RunState.FAILED:
            out.failed.append(f"{r.id}: {r.error}")
    return out
