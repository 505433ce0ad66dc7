"""A local training worker runs below the web process's CPU priority (its niceness raised
WORKER_NICE above the web's, every thread of it), so a visitor's stroke is not queued
behind a training step, also when the web server itself was started niced."""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

from core.runs.api import RunService
from core.runs.executors.processes import NICE_ENV, WORKER_NICE, run_local
from core.server.visitors import Viewer
from core.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]

ME = Viewer("v:priority-test")


def _niceness(pid: int) -> list[int]:
    """The niceness of each thread of a process (field 19 of /proc/.../stat)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        out.append(int(stat[stat.rindex(")") + 2:].split()[16]))
    return out


def test_a_training_worker_runs_below_the_web_process(tmp_path, fake_data_root):
    service = RunService(tmp_path / "runs", start_scheduler=False)
    cfg = TrainConfig(model="ffnn-small", epochs=200, batch_size=32, device="cpu",
                      schedule="constant", data_dir=str(fake_data_root))
    run = service.submit(cfg, ME)
    assert service.db.claim_next("test-runner", "local").id == run.id
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    worker = mp.get_context("forkserver").Process(
        target=run_local, args=(str(service.runs_dir), run.id, os.getpid()))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while service.db.get(run.id).step == 0:  # training, its threads started
            assert worker.is_alive() and time.monotonic() < deadline, "no step trained"
            time.sleep(0.05)
        threads = _niceness(worker.pid)
        assert threads and min(threads) >= min(19, mine + WORKER_NICE), threads
        if mine < 19:
            assert min(threads) > mine
        assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # this process is untouched
    finally:
        worker.kill()
        worker.join()


def test_a_worker_goes_below_a_web_process_that_was_started_niced():
    """Niceness is relative to the web's: a web server started with `nice` (as the tests
    and the load test run it) still comes before its worker. An absolute niceness of 10
    left the worker level with a web process at 10, and above one at 13."""
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    if mine > 19 - 2:
        return  # no room below a web process niced further (the first test covers 19)
    raise_by = min(3, 19 - 1 - mine)
    web = subprocess.Popen(["sleep", "60"], preexec_fn=lambda: os.nice(raise_by))
    try:
        web_nice = os.getpriority(os.PRIO_PROCESS, web.pid)
        assert web_nice == mine + raise_by
        env = {k: v for k, v in os.environ.items() if k != NICE_ENV}
        out = subprocess.run(
            [sys.executable, "-c", "import sys; from core.runs.executors.processes import "
             "lower_priority; print(lower_priority(int(sys.argv[1])))", str(web.pid)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
        worker_nice = int(out.stdout.split()[-1])
        assert worker_nice == min(19, web_nice + WORKER_NICE)
        assert worker_nice > web_nice
    finally:
        web.kill()
        web.wait()
