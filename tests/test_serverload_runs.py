"""The real-server load test's long training runs (bench/serverload.py --train-epochs):
at a level's end they are stopped, not waited for, and a stopped run counts as ended,
not lost."""
from __future__ import annotations

import time

from bench.serverload import Level, run_outcomes, stop_runs, wait_runs_ended
from core.runs.api import RunService
from core.runs.state import RunState
from core.server.visitors import Viewer
from core.train.config import TrainConfig


def test_long_runs_are_stopped_at_the_levels_end_and_not_lost(tmp_path, fake_data_root):
    service = RunService(tmp_path / "runs", start_scheduler=False)
    cfg = TrainConfig(model="ffnn-small", epochs=100, batch_size=32, device="cpu",
                      data_dir=str(fake_data_root))
    training = service.submit(cfg, Viewer("v:trainer-1"))
    queued = service.submit(cfg, Viewer("v:trainer-2"))
    assert service.db.claim_next("test-runner", "local").id == training.id

    stop_runs(service.runs_dir)
    assert service.db.get(queued.id).state == RunState.CANCELLED
    assert service.db.get(training.id).state == RunState.STOPPING
    assert service.db.stop_requested(training.id)  # its worker stops after the step in flight

    # Its worker ends it as cancelled (stopped); that run is over, and the wait does not
    # sit out its timeout for it.
    service.db.transition(training.id, RunState.CANCELLED, [RunState.STOPPING])
    started = time.monotonic()
    wait_runs_ended(service.runs_dir, timeout=30)
    assert time.monotonic() - started < 5
    level = Level(visitors=1, servers=1, seconds=1.0)
    run_outcomes(service.runs_dir, level)
    assert level.runs == {"cancelled": 2} and level.runs_lost == 0
