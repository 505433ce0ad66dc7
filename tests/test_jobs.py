import json
import time

import pytest

from core.data import load_bundle
from core.train.jobs import JobManager
from core.train.state import RunState
from core.train.config import TrainConfig


def stop_all(manager: JobManager) -> None:
    """No training thread may outlive its test, even a failed one: it would keep
    drawing from the global random generator under the tests that follow."""
    for run in manager.list_runs():
        manager.stop(run.id)
    for run in manager.list_runs():
        manager.wait(run.id, 60)


@pytest.fixture()
def manager(tmp_path, fake_data_root):
    m = JobManager(tmp_path / "runs", load_data=lambda c: load_bundle(c.dataset, fake_data_root))
    yield m
    stop_all(m)


def cfg(**kw):
    return TrainConfig(**{**dict(dataset="mnist", model="ffnn-small", epochs=2, batch_size=32,
                                 lr=3e-3, device="cpu"), **kw})


def test_job_runs_to_completion_and_persists(manager, tmp_path, fake_data_root):
    job = manager.submit(cfg())
    snap = manager.wait(job, 60)
    assert snap.state == RunState.FINISHED and snap.error is None
    assert len(snap.epochs) == 2 and snap.step == snap.total_steps == 26
    assert 0.0 <= snap.test.accuracy <= 1.0 and len(snap.test.confusion_matrix) == 10
    assert snap.best_checkpoint is not None and not snap.resumable
    run = tmp_path / "runs" / job
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 26 + 2
    assert json.loads((run / "status.json").read_text())["state"] == RunState.FINISHED
    again = JobManager(tmp_path / "runs", load_data=lambda c: load_bundle(c.dataset, fake_data_root))
    old = again.snapshot(job)
    assert old.state == RunState.FINISHED and len(old.steps) == 26 and old.test == snap.test


def test_second_job_queues_and_stop_cancels(manager):
    a = manager.submit(cfg(epochs=200))
    while manager.snapshot(a).step < 3:  # running, no longer in the queue
        time.sleep(0.01)
    b = manager.submit(cfg())
    assert manager.snapshot(b).state == RunState.QUEUED and manager.snapshot(b).queue_position == 1
    t0 = time.time()
    manager.stop(a)
    snap = manager.wait(a, 30)
    assert time.time() - t0 < 1.0  # a stop ends training within a second
    assert snap.state == RunState.CANCELLED and snap.resumable and snap.best_checkpoint is not None
    assert snap.step < snap.total_steps


def test_resume_continues_a_stopped_run(manager):
    a = manager.submit(cfg(epochs=3))
    while manager.snapshot(a).step < 5:
        time.sleep(0.005)
    manager.stop(a)
    stopped = manager.wait(a)
    manager.resume(a)
    done = manager.wait(a, 60)
    assert done.state == RunState.FINISHED and done.step == done.total_steps == 39
    steps = [s["step"] for s in done.steps]
    assert steps == list(range(1, 40))  # no step lost or repeated
    with pytest.raises(ValueError):
        manager.resume(a)


def test_interrupted_runs_become_resumable(tmp_path, fake_data_root):
    runs = tmp_path / "runs"
    m = JobManager(runs, load_data=lambda c: load_bundle(c.dataset, fake_data_root))
    job = m.submit(cfg(epochs=200))
    try:
        # The resumable state is written just after the first epoch's event.
        while not (runs / job / "last.pt").exists():
            time.sleep(0.01)
        status = json.loads((runs / job / "status.json").read_text())
        assert status["state"] == "running"
        # A second process (app restart) sees the run as interrupted, with its history.
        other = JobManager(runs, load_data=lambda c: load_bundle(c.dataset, fake_data_root))
        snap = other.snapshot(job)
        assert snap.state == RunState.CANCELLED and "interrupted" in snap.error and snap.resumable
        assert len(snap.epochs) >= 1
    finally:
        stop_all(m)


def test_failure_is_reported_not_raised(tmp_path):
    def broken(cfg):
        raise RuntimeError("disk on fire")
    m = JobManager(tmp_path / "runs", load_data=broken)
    snap = m.wait(m.submit(cfg()))
    assert snap.state == "failed" and "disk on fire" in snap.error


def test_a_replayed_submit_returns_the_same_run(manager):
    first = manager.submit(cfg(epochs=200), request_id="click-1")
    assert manager.submit(cfg(epochs=200), request_id="click-1") == first
    second = manager.submit(cfg(epochs=200), request_id="click-2")
    assert second != first and len(manager.list_runs()) == 2


def test_wait_returns_when_the_condition_holds(manager):
    job = manager.submit(cfg(epochs=200))
    snap = manager.wait(job, timeout=30, until=lambda s: s.step >= 3)
    assert snap.step >= 3 and snap.state == RunState.RUNNING
    with pytest.raises(TimeoutError):
        manager.wait(job, timeout=0.05)  # default: until the run is over
    manager.stop(job)
    assert manager.wait(job, timeout=30).state == RunState.CANCELLED


def test_runs_stored_as_plain_json_load_as_typed_snapshots(tmp_path):
    """status.json files written before snapshots were typed (and the interim names)."""
    run = tmp_path / "runs" / "20260101-000000-mnist-cnn-abcd"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(
        {"dataset": "mnist", "model": "cnn", "epochs": 2, "batch_size": 128, "lr": 0.001,
         "optimizer": "adam", "schedule": "onecycle", "weight_decay": 0.0,
         "label_smoothing": 0.0, "augment": False, "erase": 0, "seed": 0, "device": "auto",
         "data_dir": None}))
    (run / "status.json").write_text(json.dumps(
        {"state": "finished", "created": "2026-01-01T00:00:00", "total_steps": 26,
         "error": None, "started_at": 1.0, "finished_at": 2.0, "device": "CPU (2 threads)",
         "test": {"accuracy": 0.9, "loss": 0.3, "per_class_accuracy": [0.9] * 10,
                  "confusion_matrix": [[1] * 10] * 10, "mistakes": 10},
         "result": {"best_epoch": 2, "val_loss": 0.2, "val_accuracy": 0.95,
                    "train_seconds": 3.0, "samples_per_second": 100.0, "steps": 26,
                    "stopped": False}}))
    snap = JobManager(tmp_path / "runs").snapshot(run.name)
    assert snap.state is RunState.FINISHED and snap.state == "finished"
    assert snap.config == TrainConfig(epochs=2)
    assert snap.test.accuracy == 0.9 and snap.test.confusion_matrix[0][0] == 1
    assert snap.result.best_epoch == 2 and snap.result.val_accuracy == 0.95
