"""A training process killed mid-epoch resumes from its last timed save: the run's steps
are 1..N, none repeated and none missing. (last.pt used to be written only at epoch
ends, so a kill lost, and a resume repeated, everything since.)"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from core.networks.checkpoints import read_payload
from core.train.config import TrainConfig
from core.runs.api import RunService
from core.server.visitors import Viewer

ADMIN = Viewer("v:test-admin", admin=True)
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def _worker_pid(runner_pid: int) -> int:
    """The training process: a child of the scheduler's forkserver."""
    (pid,) = [w for child in _children(runner_pid) for w in _children(child)]
    return pid


def test_a_killed_worker_resumes_without_repeating_or_dropping_a_step(
        fake_data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_SAVE_SECONDS", "0.2")  # the scheduler's workers read it
    monkeypatch.setenv("MNIST_STUDIO_CONFIG", str(tmp_path / "none.toml"))
    svc = RunService(tmp_path / "runs")
    try:
        cfg = TrainConfig(dataset="mnist", model="cnn", epochs=1, batch_size=1, device="cpu",
                          data_dir=str(fake_data_root))  # one epoch of 400 steps, ~3 s
        run = svc.submit(cfg, ADMIN)
        last = Path(run.run_dir) / "last.pt"
        svc.wait(run.id, ADMIN, until=lambda s: s.step >= 100 and last.exists(), timeout=60)
        os.kill(_worker_pid(svc.scheduler.process.pid), signal.SIGKILL)
        killed = svc.wait(run.id, ADMIN, until=lambda s: not s.state.active, timeout=60)
        assert killed.state == "failed" and "killed" in killed.error
        progress = read_payload(last)["progress"]
        saved = progress["global_step"]
        assert 0 < progress["step_in_epoch"] == saved < 400  # saved mid-epoch
        assert killed.step >= saved  # every saved step was recorded before the save
        assert killed.resumable

        svc.resume(run.id, ADMIN)
        done = svc.wait(run.id, ADMIN, timeout=120)
        assert done.state == "finished", done.error
        steps = svc.db.steps(run.id, max_points=10_000).step
        assert steps == list(range(1, 401))  # no step repeated, none missing
        assert done.total_steps == 400 and done.result.steps == 400
        assert [e["epoch"] for e in svc.db.epochs(run.id)] == [1]
        assert not last.exists()
    finally:
        svc.shutdown()
