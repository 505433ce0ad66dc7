"""Shutting the scheduler down while a run trains (tests, Ctrl-C, a redeploy)."""
from __future__ import annotations

import os
import time

from core.train.config import TrainConfig
from core.runs.api import RunService
from core.server.visitors import Viewer

ADMIN = Viewer("v:test-admin", admin=True)


def test_shutdown_stops_a_training_run_at_once_and_resumably(tmp_path, monkeypatch, fake_data_root):
    """The scheduler waited for its workers while they waited for it to be gone: a shutdown
    took until the run ended by itself (or 30 s, then a kill). Now the run stops after
    its current step, as a run whose server stopped: resumable, with a note."""
    monkeypatch.setenv("MNIST_STUDIO_DATA", str(fake_data_root))
    service = RunService(tmp_path / "runs")
    cfg = TrainConfig(dataset="mnist", model="ffnn-small", epochs=200, batch_size=64, device="cpu")
    run = service.submit(cfg, ADMIN)
    try:
        service.wait(run.id, ADMIN, until=lambda s: s.step > 0, timeout=60)
    finally:
        t0 = time.monotonic()
        service.shutdown()
        took = time.monotonic() - t0
    snap = service.get(run.id, ADMIN, metrics=False)
    assert snap.state == "cancelled" and snap.epochs_done < 200, (snap.state, snap.epochs_done)
    assert "interrupted" in (snap.error or "") and snap.resumable
    assert snap.phase is None and took < 20


def test_workers_leave_a_core_to_the_web_app(tmp_path, monkeypatch):
    """Training processes got a torch thread per core while the web app rendered pages on
    the same cores: bench/loadtest.py measured their runs 20x slower than alone."""
    from core.runs.executors.processes import LocalExecutor, worker_threads
    from core.runs.database import RunDatabase

    assert [worker_threads(w, cores=2) for w in (1, 2)] == [1, 1]
    assert [worker_threads(w, cores=16) for w in (1, 2, 4)] == [15, 7, 3]
    monkeypatch.setenv("MNIST_STUDIO_THREADS", "")  # unset, and restored after the test
    monkeypatch.setattr("core.runs.executors.processes.cpu_threads", lambda: 8)
    LocalExecutor(RunDatabase(tmp_path), workers=2)
    assert os.environ["MNIST_STUDIO_THREADS"] == "3"  # what its worker processes inherit
    monkeypatch.setenv("MNIST_STUDIO_THREADS", "2")  # a deployment's own choice stands
    LocalExecutor(RunDatabase(tmp_path), workers=2)
    assert os.environ["MNIST_STUDIO_THREADS"] == "2"
