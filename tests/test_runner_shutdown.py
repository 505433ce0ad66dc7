"""Shutting the runner down while a run trains (tests, Ctrl-C, a redeploy)."""
from __future__ import annotations

import time

from core.train.config import TrainConfig
from core.train.service import RunService
from core.visitors import Viewer

ADMIN = Viewer("v:test-admin", admin=True)


def test_shutdown_stops_a_training_run_at_once_and_resumably(tmp_path, monkeypatch, fake_data_root):
    """The runner waited for its workers while they waited for it to be gone: a shutdown
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
