"""RunService and the local executor: real scheduler and worker processes, on the fake data."""
import os
import signal
import time

import pytest

from core.train.config import TrainConfig
from core.runs.api import LimitReached, NotAllowed, RunService
from core.runs.state import RunState
from core.runs.database import INTERRUPTED, RunNotFound, TransitionRefused
from core.server.visitors import Viewer, new_token, server_secret, verify_token
from bench.procs import children

A, B = Viewer("v:alice"), Viewer("v:bob")
ADMIN = Viewer("u:teacher@example.org", admin=True)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(dataset="mnist", model="ffnn-small", epochs=2, batch_size=32,
                                 lr=3e-3, device="cpu"), **kw})


def test_a_run_trains_to_the_end_with_its_record_and_files(make_service):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    service = make_service()
    run = service.submit(cfg(), A)
    assert run.state == RunState.QUEUED and run.mine and run.owner == A.id
    done = service.wait(run.id, A, timeout=90)
    assert done.state == RunState.FINISHED and done.error is None and done.phase is None
    assert 0.0 <= done.test.accuracy <= 1.0 and len(done.test.confusion_matrix) == 10
    assert done.executor == "local" and done.node and done.device
    assert done.step == done.total_steps == 26 and done.result.steps == 26
    assert service.steps(run.id, A, 1000).step == list(range(1, 27))
    assert [e["epoch"] for e in service.epochs(run.id, A)] == [1, 2]
    assert done.best_checkpoint is not None and not done.last_checkpoint.exists()
    assert not done.resumable
    board = EventAccumulator(done.run_dir)
    board.Reload()
    assert "train/loss" in board.Tags()["scalars"]
    assert [e.step for e in board.Scalars("train/loss")] == list(range(1, 27))
    assert len(board.Scalars("val/accuracy")) == 2


def test_visitors_control_only_their_own_runs(make_service):
    service = make_service(start_scheduler=False)  # runs stay queued: nothing trains here
    run = service.submit(cfg(), A)
    for action in (service.stop, service.resume, service.delete):
        with pytest.raises(NotAllowed):
            action(run.id, B)
    seen = service.get(run.id, B)
    assert not seen.mine and seen.state == RunState.QUEUED and seen.queue_position == 1
    assert [(v.id, v.mine) for v in service.list_runs(B)] == [(run.id, False)]
    assert service.epochs(run.id, B) == []

    private = make_service(start_scheduler=False, show_others=False)
    with pytest.raises(RunNotFound):
        private.get(run.id, B)
    with pytest.raises(RunNotFound):
        private.steps(run.id, B)
    with pytest.raises(RunNotFound):
        private.stop(run.id, B)
    assert private.list_runs(B) == []
    assert [v.id for v in private.list_runs(A)] == [run.id]

    stopped = private.stop(run.id, ADMIN)  # the admin controls everyone's runs
    assert stopped.mine and stopped.state == RunState.CANCELLED
    assert service.get(run.id, A).state == RunState.CANCELLED


def test_limits_refuse_with_a_reason_and_queue_nothing(make_service):
    service = make_service(start_scheduler=False, max_active_per_visitor=2, max_queue=3)
    first = service.submit(cfg(), A, request_id="click-1")
    service.submit(cfg(), A)
    with pytest.raises(LimitReached, match="the limit is 2 per visitor"):
        service.submit(cfg(), A)
    assert len(service.db.list(owner=A.id)) == 2
    # A replayed click returns the run it made, even at the limit.
    assert service.submit(cfg(), A, request_id="click-1").id == first.id
    assert len(service.db.list(owner=A.id)) == 2

    service.submit(cfg(), B)
    with pytest.raises(LimitReached, match=r"queue is full \(3 runs waiting, the limit is 3\)"):
        service.submit(cfg(), Viewer("v:carol"))
    assert len(service.db.list()) == 3
    assert service.submit(cfg(), ADMIN).state == RunState.QUEUED  # no limits for the admin

    costly = cfg(model="cnn", epochs=40)
    estimate = service.estimate(costly)
    strict = make_service(start_scheduler=False, max_run_minutes=estimate / 2)
    with pytest.raises(LimitReached) as refused:
        strict.submit(costly, Viewer("v:dave"))
    message = str(refused.value)
    assert f"estimated at {estimate:.1f} minutes" in message
    assert f"the limit on this server is {estimate / 2:g} minutes" in message
    assert strict.db.list(owner="v:dave") == []


def test_stop_takes_effect_within_a_second_and_resume_continues(make_service):
    service = make_service()
    run = service.submit(cfg(epochs=30), A)
    service.wait(run.id, A, until=lambda r: r.step >= 20, timeout=60)
    t0 = time.perf_counter()
    service.stop(run.id, A)
    service.wait(run.id, A, until=lambda r: r.state == RunState.CANCELLED, timeout=10, poll=0.01)
    elapsed = time.perf_counter() - t0
    print(f"\nstop to Cancelled: {elapsed:.3f} s")
    assert elapsed < 1.0
    stopped = service.wait(run.id, A, timeout=30)  # test-set scoring done
    assert stopped.resumable and stopped.best_checkpoint is not None
    assert stopped.test is not None and stopped.result.stopped
    saved = stopped.step
    assert 20 <= saved < stopped.total_steps == 390

    with pytest.raises(NotAllowed):
        service.resume(run.id, B)
    service.resume(run.id, A)
    done = service.wait(run.id, A, timeout=90)
    assert (done.state, done.error) == (RunState.FINISHED, None)
    # Every step once: none repeated, none dropped across the stop.
    assert service.steps(run.id, A, 10**6).step == list(range(1, 391))
    assert [e["epoch"] for e in service.epochs(run.id, A)] == list(range(1, 31))
    with pytest.raises(TransitionRefused):
        service.resume(run.id, A)


def runner_workers(service: RunService) -> list[int]:
    """The scheduler's grandchildren: its forkserver's children, the training processes."""
    return [w for child in children(service.scheduler.process.pid) for w in children(child)]


def test_a_killed_worker_fails_its_run_and_the_next_run_trains(make_service):
    service = make_service()
    run = service.submit(cfg(epochs=100), A)
    service.wait(run.id, A, until=lambda r: r.step >= 3, timeout=60)
    runner = service.scheduler.process.pid
    [worker] = runner_workers(service)
    os.kill(worker, signal.SIGKILL)  # as the out-of-memory killer would
    failed = service.wait(run.id, A, timeout=10)
    assert failed.state == RunState.FAILED
    assert failed.error == "the training process was killed (out of memory?)"
    assert failed.phase is None and failed.finished_at is not None

    after = service.wait(service.submit(cfg(), A).id, A, timeout=90)
    assert after.state == RunState.FINISHED
    assert service.scheduler.process.pid == runner and service.scheduler.process.poll() is None  # the same scheduler


def test_shutting_down_stops_training_runs_resumably(make_service):
    service = make_service()
    run = service.submit(cfg(epochs=200), A)
    service.wait(run.id, A, until=lambda r: r.step >= 3, timeout=60)
    t0 = time.perf_counter()
    service.shutdown()
    elapsed = time.perf_counter() - t0
    print(f"\nshutdown with a run training: {elapsed:.2f} s")
    record = service.db.get(run.id)
    assert record.state == RunState.CANCELLED and record.error == INTERRUPTED
    assert record.resumable and record.step < record.total_steps
    assert elapsed < 10  # not trained on to the end


def test_visitor_tokens_cannot_be_forged(tmp_path):
    secret = server_secret(tmp_path)
    assert server_secret(tmp_path) == secret and len(secret) == 32  # kept for the next start
    assert (tmp_path / ".visitor-secret").stat().st_mode & 0o777 == 0o600
    visitor, token = new_token(secret)
    assert verify_token(secret, token) == visitor and visitor.startswith("v:")
    other, _ = new_token(secret)
    signature = token.rpartition(".")[2]
    forged = [f"{other}.{signature}",  # someone else's id with my signature
              token[:-1] + ("0" if token[-1] != "0" else "1"),  # an edited signature
              visitor, "", None, f"u:admin.{signature}"]
    assert [verify_token(secret, t) for t in forged] == [None] * len(forged)
    assert verify_token(os.urandom(32), token) is None  # another server's secret


def test_listing_the_runs_a_viewer_controls(make_service):
    """The sidebar's model list asks for the viewer's own runs only (all, for an admin)."""
    service = make_service(start_scheduler=False)
    a = service.submit(cfg(), A)
    b = service.submit(cfg(seed=1), B)
    assert {r.id for r in service.list_runs(A)} == {a.id, b.id}  # others' read-only
    assert [r.id for r in service.list_runs(A, controlled=True)] == [a.id]
    assert {r.id for r in service.list_runs(ADMIN, controlled=True)} == {a.id, b.id}
