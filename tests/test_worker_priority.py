"""A local training worker runs below the web process's CPU priority (its niceness raised,
every thread of it), so a visitor's stroke is not queued behind a training step."""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

from core.runs.api import RunService
from core.runs.executors.processes import WORKER_NICE, run_local
from core.server.visitors import Viewer
from core.train.config import TrainConfig

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
        assert threads and min(threads) >= max(mine, min(19, WORKER_NICE)), threads
        assert min(threads) > mine
        assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # this process is untouched
    finally:
        worker.kill()
        worker.join()
