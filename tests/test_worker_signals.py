"""A local worker process stopped by a signal (the server's process group gets the server's
SIGTERM from systemd or docker, SIGINT from Ctrl+C) stops as a Stop does: it keeps its
last step, says why it ended, and can resume. It does not die mid-step with its run
left "training" and no resumable state."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import pytest

from core.train.config import TrainConfig
from core.runs.api import RunService
from core.runs.executors.processes import run_local
from core.server.visitors import Viewer

ME = Viewer("v:signal-test")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signalled_worker_stops_resumably(tmp_path, fake_data_root, sig):
    service = RunService(tmp_path / "runs", start_scheduler=False)
    cfg = TrainConfig(model="ffnn-small", epochs=200, batch_size=32, device="cpu",
                      schedule="constant", data_dir=str(fake_data_root))
    run = service.submit(cfg, ME)
    assert service.db.claim_next("test-runner", "local").id == run.id
    worker = mp.get_context("forkserver").Process(
        target=run_local, args=(str(service.runs_dir), run.id, os.getpid()))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while service.db.get(run.id).step == 0:  # training, not still loading
            assert worker.is_alive() and time.monotonic() < deadline, "no step trained"
            time.sleep(0.05)
        os.kill(worker.pid, sig)
        worker.join(timeout=60)
        assert worker.exitcode == 0, f"the worker died of the signal (exit {worker.exitcode})"
    finally:
        if worker.is_alive():
            worker.kill()
            worker.join()
    snap = service.get(run.id, ME, metrics=False)
    assert snap.state == "cancelled" and snap.phase is None, (snap.state, snap.phase)
    assert snap.resumable and snap.best_checkpoint is not None
    assert "interrupted" in (snap.error or ""), snap.error
    assert snap.test is not None  # the best checkpoint was scored, as after a Stop
