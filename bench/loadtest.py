"""A load test of the Train page and the run system: many visitors at once, on this machine.

    python -m bench.loadtest [--visitors 20] [--seconds 120] [--workers N] [--epochs 1]
                             [--real-data] [--json]

Each simulated visitor is an AppTest session of the app (its own visitor id, as its
cookie would give it) against a new runs folder. It opens Train, starts a short run
(ffnn-small on the CPU, its own seed), then refreshes the page about once a second, as
the live view does, until its run has ended. Every 4th visitor starts a run three times
as long and presses Stop once it trains; `--over-quota` visitors start a second run and then a third,
which the per-visitor limit must refuse. The first of them presses Start before anyone
else does, so that its third Start meets its own limit, not a queue the others filled
(else its Starts may find the queue full, be retried after its first run has ended, and
leave the limit untested). A visitor whose Start finds the
server's queue full is told so and tries again a few seconds later.

Visitors are interleaved on a small thread pool (one page render at a time per
visitor), so all of them are on the site at once while the 2 cores stay usable.
Before them, one run trains alone: the throughput baseline.

It prints what matters: runs lost and runs in impossible states (both must be 0),
refusals against the configured limits, page render times while runs train, training
throughput against one run alone, wall time and the settings. The scheduler is shut down
at the end, also after Ctrl-C or the time bound; no process outlives the command.
Fake data (tests/fakedata.py) unless --real-data.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import heapq
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.logger import set_log_level
from streamlit.testing.v1 import AppTest

from bench.fakedata import write_fake_dataset
from bench.loadcheck import Monitor, final_problems, still_alive  # noqa: E402
from core.runs.api import get_service, shutdown_services
from core.runs.state import RunState
from core.server.visitors import Viewer  # noqa: E402
from core.train.config import TrainConfig
from ui.common.identity import VISITOR
from ui.common.state import TRAIN_REQUEST

APP = str(ROOT / "streamlit_app.py")
TRAIN_PAGE = "pages/train.py"
ADMIN = Viewer("v:loadtest-admin", admin=True)
REAL_DATA = Path(os.environ.get("MNIST_STUDIO_DATA") or ROOT.parent / "shared" / "data")
STOP_WATCH_SECONDS = 0.1
QUEUE_FULL, PER_VISITOR = "queue is full", "per visitor"  # the refusals' words (core.runs.api)


@dataclass
class LoadSettings:
    visitors: int = 20
    seconds: float = 120.0  # hard bound on the visitors' part; then every run is stopped
    workers: int | None = None  # MNIST_STUDIO_WORKERS for this test; None: as configured
    epochs: int = 1
    real_data: bool = False
    train_samples: int = 12000  # fake data: training-set images (a fifth become validation)
    model: str = "ffnn-small"
    batch_size: int = 64
    threads: int = 4  # page renders at once (2 cores: more only queue)
    poll_seconds: float = 1.0  # the live view's refresh period
    retry_seconds: float = 3.0  # after "the queue is full"
    stop_every: int = 4  # every 4th visitor presses Stop (on a run of 3x the epochs)
    over_quota: int = 2  # visitors that try a Start beyond their limit
    render_timeout: float = 120.0


@dataclass
class Tally:
    """What the visitors saw. Pool threads only append to these lists (atomic in CPython);
    the counts are the lists' lengths."""
    submitted: list[str] = field(default_factory=list)
    renders: list[tuple[float, float]] = field(default_factory=list)  # Train page refreshes
    quota_expected: list[str] = field(default_factory=list)  # visitor ids
    quota_seen: list[str] = field(default_factory=list)
    over_quota_outcomes: list[str] = field(default_factory=list)  # what each third Start got
    queue_full: list[str] = field(default_factory=list)
    other_refusals: list[str] = field(default_factory=list)
    stops_pressed: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    visitors_done: list[int] = field(default_factory=list)  # their runs all ended
    leader: int | None = None  # the over-quota visitor who presses Start first
    leader_done: threading.Event = field(default_factory=threading.Event)  # its Starts made


@dataclass
class Visitor:
    index: int
    id: str
    stops: bool
    over_quota: bool
    runs: list[str] = field(default_factory=list)
    at: object = None  # its AppTest session


# ------------------------------------------------------------------ one visitor

# AppTest keeps its stand-in Streamlit Runtime in a class-level global for the length of
# a run, so two runs at once in one process break each other (a real server has one
# Runtime for every session). Page runs therefore take turns; the pool overlaps the rest.
_PAGE_RUN = threading.Lock()


def _run_page(v: Visitor, tally: Tally, at=None) -> tuple[float, float]:
    """One run of the visitor's session (`at`: an element already clicked or set).
    Returns when it started and ended, not counting the wait for its turn."""
    with _PAGE_RUN:
        t0 = time.monotonic()
        (at or v.at).run()
        t1 = time.monotonic()
    for e in v.at.exception:
        tally.page_errors.append(f"{v.id}: {e.value}")
    return t0, t1


def _render(v: Visitor, tally: Tally, timed: bool = False) -> None:
    t0, t1 = _run_page(v, tally)
    if timed:
        tally.renders.append((t0, t1))


def _start(v: Visitor, seed: int, tally: Tally) -> str:
    """Press Start with this seed: 'started' (the run is noted), 'queue-full', 'quota'."""
    v.at.number_input(key="train_seed").set_value(seed)
    _run_page(v, tally, v.at.button(key="train_start").click())
    refusals = [e.value for e in v.at.error if "Not started" in e.value]
    if refusals:
        if QUEUE_FULL in refusals[0]:
            tally.queue_full.append(v.id)
            return "queue-full"
        if PER_VISITOR in refusals[0]:
            tally.quota_seen.append(v.id)
            return "quota"
        tally.other_refusals.append(refusals[0])
        return "other"
    run_id = v.at.session_state[TRAIN_REQUEST]["run"]
    if run_id not in v.runs:
        v.runs.append(run_id)
        tally.submitted.append(run_id)
    return "started"


def visit(v: Visitor, s: LoadSettings, tally: Tally) -> Iterator[float]:
    """The visitor's actions; yields the seconds until its next ones (one page render, or a few)."""
    service = get_service()
    v.at = AppTest.from_file(APP, default_timeout=s.render_timeout)
    v.at.session_state[VISITOR] = v.id
    v.at.switch_page(TRAIN_PAGE)
    _render(v, tally)
    v.at.selectbox(key="train_model").set_value(s.model)
    # A run to be stopped is made longer, so that Stop lands while it trains.
    v.at.number_input(key="train_epochs").set_value(s.epochs * (3 if v.stops else 1))
    v.at.selectbox(key="train_batch_size").set_value(s.batch_size)
    v.at.selectbox(key="train_device").set_value("cpu")
    seeds = iter(range(1000 * v.index, 1000 * (v.index + 1)))
    leads = tally.leader in (None, v.index)
    while not leads and not tally.leader_done.is_set():
        yield 0.1  # the leader presses Start first (see the module's note)
    try:
        yield from _starts(v, s, tally, seeds)
    finally:
        if leads:
            tally.leader_done.set()
    stopped, poll = False, s.poll_seconds
    while True:
        yield poll
        _render(v, tally, timed=True)
        views = [service.get(r, ADMIN, metrics=False) for r in v.runs]
        if all(not r.state.active and r.phase is None for r in views):
            return
        running = [r for r in views if r.state == RunState.RUNNING]
        if v.stops and not stopped and running:
            if running[0].step >= 1 and _has_button(v, "train_stop"):
                _run_page(v, tally, v.at.button(key="train_stop").click())
                tally.stops_pressed.append(running[0].id)
                stopped = True
            # Someone about to press Stop watches closely: a short run may end within a second.
            poll = s.poll_seconds if stopped else STOP_WATCH_SECONDS


def _starts(v: Visitor, s: LoadSettings, tally: Tally, seeds: Iterator[int]) -> Iterator[float]:
    """Press Start (twice then a third time for an over-quota visitor); yields while the
    queue is full."""
    # Starts follow each other at once (quick clicks), unless the queue is full.
    for _ in range(2 if v.over_quota else 1):
        while _start(v, next(seeds), tally) == "queue-full":
            yield s.retry_seconds
    if v.over_quota:
        store = get_service().db
        limit = get_service().settings.max_active_per_visitor
        before = store.active_count(v.id)
        outcome = _start(v, next(seeds), tally)
        tally.over_quota_outcomes.append(outcome)
        if refusal_expected(before, store.active_count(v.id), limit, outcome):
            tally.quota_expected.append(v.id)


def refusal_expected(before: int, after: int, limit: int, outcome: str) -> bool:
    """Whether a third Start had to be refused: the visitor's active runs were `before`
    as it was pressed and `after` once answered. Only the visitor starts its runs, one
    click at a time, so between the two the count only falls (a run ends). A refusal
    with `before` at the limit was right even if a run ended just after it; a start is
    wrong only if the visitor stayed at the limit throughout (its own new run aside)."""
    if before < limit:
        return False
    return outcome != "started" or after - 1 >= limit


def _has_button(v: Visitor, key: str) -> bool:
    return any(b.key == key for b in v.at.button)


# ------------------------------------------------------------------ the whole test

@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the test (the scheduler inherits them), then restore."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def _data_root(s: LoadSettings, folder: Path) -> Path:
    if s.real_data:
        return REAL_DATA
    root = folder / "data"
    write_fake_dataset(root, "mnist", n_train=s.train_samples, n_test=200, seed=1)
    return root


def _baseline(s: LoadSettings, monitor: Monitor) -> tuple[float, float]:
    """One run alone, as the visitors' runs (same model, data, batch; 3x the epochs, to be
    timed over more samples): samples/s as the monitor sees them, and as the run's own
    step timer does."""
    service = get_service()
    cfg = TrainConfig(dataset="mnist", model=s.model, epochs=3 * s.epochs,
                      batch_size=s.batch_size, device="cpu", seed=12345)
    t0 = time.monotonic()
    run = service.submit(cfg, ADMIN)
    try:  # a quarter of the time bound at most (a busy machine): then its rate so far
        done = service.wait(run.id, ADMIN, timeout=s.seconds / 4)
    except TimeoutError:
        service.stop(run.id, ADMIN)
        done = service.wait(run.id, ADMIN, timeout=60)
    return (monitor.throughput(t0, time.monotonic()).samples_per_second,
            done.result.samples_per_second if done.result else 0.0)


def _drive(visitors: list[Visitor], s: LoadSettings, tally: Tally, deadline: float) -> bool:
    """Run every visitor's steps on the pool until all are done or the deadline.
    Returns False if stopped early (deadline or Ctrl-C)."""
    gens = {v.index: visit(v, s, tally) for v in visitors}
    due = [(time.monotonic() + 0.05 * v.index, v.index) for v in visitors]  # arrivals spread
    heapq.heapify(due)
    pending: dict[cf.Future, int] = {}
    pool = cf.ThreadPoolExecutor(max_workers=s.threads, thread_name_prefix="visitor")
    completed = False
    try:
        while due or pending:
            now = time.monotonic()
            if now >= deadline:
                break
            while due and due[0][0] <= now:
                _, i = heapq.heappop(due)
                pending[pool.submit(next, gens[i], None)] = i
            wait = min(0.5, deadline - now, *([due[0][0] - now] if due else []))
            if not pending:
                time.sleep(max(0.0, wait))
                continue
            done, _ = cf.wait(pending, timeout=max(0.01, wait), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    delay = fut.result()
                except Exception as err:  # a visitor's own failure: counted, the others go on
                    where = traceback.extract_tb(err.__traceback__)[-1]
                    tally.page_errors.append(f"visitor {i}: {type(err).__name__}: {err} "
                                             f"({Path(where.filename).name}:{where.lineno})")
                    continue
                if delay is None:
                    tally.visitors_done.append(i)
                else:
                    heapq.heappush(due, (time.monotonic() + delay, i))
        completed = not due and not pending
    except KeyboardInterrupt:
        print("interrupted: stopping every run, then the scheduler", file=sys.stderr)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # renders in flight end within their timeout
    return completed


def _stop_everything(timeout: float = 120.0) -> int:
    """Stop every active run (as an admin) and wait for all to end. Returns how many it stopped."""
    service = get_service()
    stopped = 0
    for run in service.list_runs(ADMIN):
        if run.state.active:
            service.stop(run.id, ADMIN)
            stopped += 1
    for run in service.list_runs(ADMIN):
        service.wait(run.id, ADMIN, timeout=timeout)
    return stopped


def run_loadtest(s: LoadSettings) -> dict:
    """Run the load test and return its report (see `format_report`)."""
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mnist-loadtest-") as tmp:
        folder = Path(tmp)
        env = {"MNIST_STUDIO_RUNS": str(folder / "runs"), "MNIST_STUDIO_CACHE": str(folder / "cache"),
               "MNIST_STUDIO_DATA": str(_data_root(s, folder))}
        if s.workers is not None:
            env["MNIST_STUDIO_WORKERS"] = str(s.workers)
        with _environment(env):
            return _run(s, folder / "runs", started, load_before)


def _run(s: LoadSettings, runs_dir: Path, started: float, load_before: tuple) -> dict:
    service = get_service(runs_dir)
    monitor = Monitor(runs_dir)
    monitor.start()
    tally = Tally()
    completed, cut, baseline, baseline_steps = False, None, 0.0, 0.0
    load_start = load_end = time.monotonic()
    try:
        baseline, baseline_steps = _baseline(s, monitor)
        visitors = [Visitor(i, f"v:load-{i:03d}", stops=i % s.stop_every == s.stop_every - 1,
                            over_quota=False) for i in range(s.visitors)]
        for v in [v for v in visitors if not v.stops][:s.over_quota]:
            v.over_quota = True
        tally.leader = next((v.index for v in visitors if v.over_quota), None)
        load_start = time.monotonic()
        completed = _drive(visitors, s, tally, deadline=load_start + s.seconds)
        load_end = time.monotonic()
        cut = _stop_everything()
    finally:
        try:
            if cut is None:  # interrupted before the end: no run may go on training
                _stop_everything()
        finally:
            monitor.stop()
            shutdown_services()
    leftover = _leftover(monitor)
    outcomes = final_problems(service.db, baseline_owner=ADMIN.id)
    known = set(tally.submitted)
    stored = {r.id for r in service.db.list(limit=100_000)}
    renders = [1000 * (t1 - t0) for t0, t1 in tally.renders if monitor.training_at(t0, t1)]
    load = monitor.throughput(load_start, load_end)
    step_rates = [r.result.samples_per_second for r in service.list_runs(ADMIN)
                  if r.owner != ADMIN.id and r.state == RunState.FINISHED and r.result]
    settings = service.settings
    problems = outcomes.problems + monitor.limit_problems(settings) + [
        f"{r}: in the store, but no visitor's Start made it" for r in stored - known
        if service.db.get(r).owner != ADMIN.id]
    return {
        "visitors": s.visitors, "completed": completed,
        "settings": {"workers": settings.worker_count(),
                     "max_active_per_visitor": settings.max_active_per_visitor,
                     "max_queue": settings.max_queue, "max_run_minutes": settings.max_run_minutes,
                     "seconds": s.seconds, "model": s.model, "epochs": s.epochs,
                     "batch_size": s.batch_size, "render_threads": s.threads,
                     "data": "real" if s.real_data else f"fake ({s.train_samples} train images)"},
        "runs_submitted": len(known), "runs_lost": len(known - stored),
        "impossible_states": len(problems), "impossible_details": problems[:20],
        "runs_finished": outcomes.finished, "runs_stopped": outcomes.cancelled,
        "stops_pressed": len(tally.stops_pressed), "runs_cut_by_time_bound": cut,
        "runs_failed": len(outcomes.failed), "failures": outcomes.failed[:10],
        "quota_refusals": {"expected": len(tally.quota_expected), "seen": len(tally.quota_seen)},
        "over_quota_starts": {k: tally.over_quota_outcomes.count(k)
                              for k in sorted(set(tally.over_quota_outcomes))},
        "queue_full_refusals": len(tally.queue_full), "other_refusals": tally.other_refusals[:10],
        "visitors_done": len(tally.visitors_done),
        "page_errors": len(tally.page_errors), "page_error_details": tally.page_errors[:10],
        "render_ms_while_training": {
            "count": len(renders),
            "p50": round(float(np.percentile(renders, 50)), 1) if renders else None,
            "p95": round(float(np.percentile(renders, 95)), 1) if renders else None},
        "throughput": {"single_run_samples_per_s": round(baseline, 1),
                       "concurrent_samples_per_s": round(load.samples_per_second, 1),
                       "ratio": round(load.samples_per_second / baseline, 3) if baseline else None,
                       "mean_runs_training": round(load.mean_runs_training, 2),
                       # Each run's own timer: samples / time in training steps.
                       "single_run_step_rate": round(baseline_steps, 1),
                       "median_step_rate_under_load": round(float(np.median(step_rates)), 1)
                       if step_rates else None},
        "most_training_at_once": max((len(x.training) for x in monitor.samples), default=0),
        "most_queued": max((x.queued for x in monitor.samples), default=0),
        "leftover_processes": leftover,
        "wall_seconds": round(time.monotonic() - started, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def _leftover(monitor: Monitor, grace: float = 15.0) -> list[int]:
    """Processes this test started that still run after the shutdown (after a short grace)."""
    deadline = time.monotonic() + grace
    while (alive := still_alive(monitor.processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


# ------------------------------------------------------------------ report

def format_report(r: dict) -> str:
    s, t, p = r["settings"], r["throughput"], r["render_ms_while_training"]
    q = r["quota_refusals"]
    rows = [
        ("visitors", f"{r['visitors']} ({r['visitors_done']} done"
                     + ("" if r["completed"] else "; the rest stopped at the time bound") + ")"),
        ("settings", f"{s['workers']} worker(s), {s['max_active_per_visitor']} active per visitor, "
                     f"queue {s['max_queue']}, {s['max_run_minutes']:g} min per run"),
        ("runs", f"{s['model']}, {s['epochs']} epoch(s), batch {s['batch_size']}, cpu, {s['data']}"),
        ("runs submitted", r["runs_submitted"]),
        ("runs lost (must be 0)", r["runs_lost"]),
        ("impossible states (must be 0)", r["impossible_states"]),
        ("finished / stopped / failed", f"{r['runs_finished']} / {r['runs_stopped']} / {r['runs_failed']}"),
        ("Stop pressed by visitors", r["stops_pressed"]),
        ("runs cut by the time bound", r["runs_cut_by_time_bound"]),
        ("per-visitor refusals", f"{q['seen']} seen, {q['expected']} expected"),
        ("queue-full refusals", r["queue_full_refusals"]),
        ("other refusals", len(r["other_refusals"])),
        ("page errors", r["page_errors"]),
        ("Train page render while training", f"p50 {p['p50']} ms, p95 {p['p95']} ms ({p['count']} renders)"),
        ("throughput, one run alone", f"{t['single_run_samples_per_s']:,.0f} samples/s"),
        ("throughput, all runs at once", f"{t['concurrent_samples_per_s']:,.0f} samples/s "
                                         f"(ratio {t['ratio']}, {t['mean_runs_training']} training on average)"),
        ("step rate per run, alone / under load", f"{t['single_run_step_rate']:,.0f} / "
                                                  f"{t['median_step_rate_under_load'] or 0:,.0f} samples/s (median)"),
        ("most training / queued at once", f"{r['most_training_at_once']} / {r['most_queued']}"),
        ("processes left over", len(r["leftover_processes"])),
        ("wall time", f"{r['wall_seconds']} s"),
        ("load average before / after", f"{r['load_average_before']} / {r['load_average_after']}"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    for detail in r["impossible_details"] + r["failures"] + r["other_refusals"] + r["page_error_details"]:
        lines.append(f"  ! {detail}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = LoadSettings()
    p.add_argument("--visitors", type=int, default=d.visitors, help=f"default {d.visitors}")
    p.add_argument("--seconds", type=float, default=d.seconds,
                   help=f"time bound for the visitors; then every run still going is stopped "
                        f"(default {d.seconds:g})")
    p.add_argument("--workers", type=int, default=None,
                   help="training processes at once (MNIST_STUDIO_WORKERS; default as configured)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"per run (default {d.epochs})")
    p.add_argument("--real-data", action="store_true", help=f"train on the real MNIST in {REAL_DATA}")
    p.add_argument("--train-samples", type=int, default=d.train_samples,
                   help=f"fake data's training images (default {d.train_samples})")
    p.add_argument("--threads", type=int, default=d.threads, help=f"page renders at once (default {d.threads})")
    p.add_argument("--json", action="store_true", help="also print the report as one JSON line")
    a = p.parse_args(argv)
    set_log_level("error")  # AppTest outside `streamlit run`: warnings on every run
    report = run_loadtest(LoadSettings(visitors=a.visitors, seconds=a.seconds, workers=a.workers,
                                       epochs=a.epochs, real_data=a.real_data,
                                       train_samples=a.train_samples, threads=a.threads))
    print(format_report(report))
    if a.json:
        print(json.dumps(report))
    bad = report["runs_lost"] or report["impossible_states"] or report["leftover_processes"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
