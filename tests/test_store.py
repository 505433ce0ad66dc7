import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from core.runs.state import RunState
from core.runs.database import (INTERRUPTED, RunNotFound, RunRecord, RunDatabase, TransitionRefused,
                              step_level)

ROOT = Path(__file__).resolve().parent.parent


def record(store: RunDatabase, owner: str = "v:a", request_id: str | None = None,
           created: float | None = None) -> RunRecord:
    run_id = uuid.uuid4().hex[:12]
    return RunRecord(id=run_id, owner=owner, created=created or time.time(),
                     config={"model": "ffnn-small", "epochs": 1}, state=RunState.QUEUED,
                     run_dir=str(store.runs_dir / run_id), request_id=request_id)


def step_rows(first: int, last: int, epoch: int = 1) -> list[dict]:
    return [dict(step=s, epoch=epoch, loss=1.0 / s, lr=1e-3, samples_per_second=1000.0,
                 elapsed=s / 100) for s in range(first, last + 1)]


@pytest.fixture()
def store(tmp_path):
    return RunDatabase(tmp_path / "runs")


# A child process that takes the write lock for a transition, makes the UPDATE, says so,
# and waits to be killed before it can COMMIT.
HOLD_IN_TRANSITION = """
import sys, time
sys.path.insert(0, {root!r})
from core.runs.state import RunState
from core.runs.database import RunDatabase
original = RunDatabase._transition
def held(self, db, *args, **kw):
    original(self, db, *args, **kw)
    print("updated", flush=True)
    time.sleep(60)
RunDatabase._transition = held
RunDatabase({runs!r}).claim_next("doomed-runner", "local")
"""


def test_a_kill_inside_a_transition_leaves_the_run_as_it_was(store):
    run = store.insert(record(store))
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_IN_TRANSITION.format(root=str(ROOT), runs=str(store.runs_dir))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "updated"  # the UPDATE is made, not committed
        child.kill()  # SIGKILL: no rollback, no cleanup
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    reopened = RunDatabase(store.runs_dir)
    again = reopened.get(run.id)
    assert again.state == RunState.QUEUED and again.runner is None
    assert reopened._db().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    claimed = reopened.claim_next("next-runner", "local")  # the lock died with the child
    assert claimed.id == run.id and claimed.state == RunState.RUNNING
    assert claimed.runner == "next-runner"


def test_orphans_of_a_dead_runner_become_resumable(store):
    mine, theirs = store.insert(record(store)), store.insert(record(store))
    store.claim_next("dead-runner", "local")
    store.claim_next("live-runner", "local")
    for run in (mine, theirs):
        (store.runs_dir / run.id).mkdir()
        (store.runs_dir / run.id / "last.pt").write_bytes(b"state")
    assert store.interrupt_orphans("live-runner") == [mine.id]
    orphan = store.get(mine.id)
    assert orphan.state == RunState.CANCELLED and orphan.error == INTERRUPTED
    assert orphan.phase is None and orphan.finished_at is not None and orphan.resumable
    assert store.get(theirs.id).state == RunState.RUNNING  # the live runner's run goes on


def test_thinned_steps_keep_the_ends_and_cost_the_same_at_any_length(store):
    short, long = store.insert(record(store)), store.insert(record(store))
    store.add_metrics(short.id, step_rows(1, 300), [])
    t0 = time.perf_counter()
    for first in range(1, 300_001, 50_000):
        store.add_metrics(long.id, step_rows(first, first + 49_999), [])
    print(f"\nwrote 300,000 steps in {time.perf_counter() - t0:.2f} s")
    assert store.get(long.id).step == 300_000

    series = store.steps(long.id, 400)
    assert 100 < len(series) <= 402  # ~400 points, plus the first and last
    assert series.step[0] == 1 and series.step[-1] == 300_000
    assert series.step == sorted(set(series.step))
    assert series.loss[-1] == pytest.approx(1 / 300_000) and series.stride == 1024
    assert store.steps(short.id, 400).step == list(range(1, 301))  # short runs are whole

    def best_of(run_id: str, repeats: int = 30) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            store.steps(run_id, 400)
            times.append(time.perf_counter() - t)
        return min(times)
    t_short, t_long = best_of(short.id), best_of(long.id)
    print(f"thinned read: {t_short * 1e3:.2f} ms for 300 steps, {t_long * 1e3:.2f} ms for 300,000")
    assert t_long / t_short < 10


def test_step_levels_are_trailing_zero_bits():
    assert [step_level(s) for s in (1, 2, 3, 4, 8, 12, 1024)] == [0, 1, 0, 2, 3, 2, 10]


def test_listing_a_thousand_runs_is_quick(store):
    for i in range(1000):
        store.insert(record(store, owner=f"v:{i % 7}", created=1_000_000 + i))
    t0 = time.perf_counter()
    runs = store.list()
    elapsed = time.perf_counter() - t0
    print(f"\nlisted {len(runs)} runs in {elapsed * 1e3:.1f} ms")
    assert len(runs) == 1000 and elapsed < 1.0
    assert [r.created for r in runs] == sorted((r.created for r in runs), reverse=True)
    assert len(store.list(owner="v:3")) == len([i for i in range(1000) if i % 7 == 3])


def test_transitions_refuse_from_the_wrong_state(store):
    run = store.insert(record(store))
    with pytest.raises(TransitionRefused, match="queued"):
        store.transition(run.id, RunState.FINISHED, [RunState.RUNNING, RunState.STOPPING])
    assert store.get(run.id).state == RunState.QUEUED
    store.claim_next("r", "local")
    done = store.transition(run.id, RunState.FINISHED, [RunState.RUNNING], test={"accuracy": 0.9})
    assert done.state == RunState.FINISHED and done.test == {"accuracy": 0.9}
    with pytest.raises(TransitionRefused):  # a second finish (a replayed message) is refused
        store.transition(run.id, RunState.FAILED, [RunState.RUNNING])
    with pytest.raises(RunNotFound):
        store.transition("nope", RunState.FAILED, [RunState.RUNNING])
    with pytest.raises(TransitionRefused):
        store.requeue(run.id, "x", 0, 0)  # a finished run is not resumed


def test_stop_cancels_a_queued_run_and_asks_a_running_one(store):
    queued, running = store.insert(record(store)), store.insert(record(store))
    store.claim_next("r", "local")  # the older one
    assert store.get(queued.id).state == RunState.RUNNING
    stopping = store.request_stop(queued.id)
    assert stopping.state == RunState.STOPPING and store.stop_requested(queued.id)
    cancelled = store.request_stop(running.id)
    assert cancelled.state == RunState.CANCELLED and cancelled.finished_at is not None
    assert store.claim_next("r", "local") is None  # a cancelled run is never claimed


def test_requeue_discards_metrics_past_the_saved_step(store):
    run = store.insert(record(store))
    store.claim_next("r", "local")
    epochs = [dict(epoch=e, step=10 * e, val_loss=1.0) for e in (1, 2)]
    store.add_metrics(run.id, step_rows(1, 10) + step_rows(11, 25, epoch=2), epochs,
                      total_steps=30)
    store.request_stop(run.id)
    store.transition(run.id, RunState.CANCELLED, [RunState.STOPPING])
    again = store.requeue(run.id, "last.pt", step=13, epochs_done=1)
    assert again.state == RunState.QUEUED and again.step == 13 and again.resume_from == "last.pt"
    assert not again.stop_requested and again.error is None
    assert store.steps(run.id, 1000).step == list(range(1, 14))
    assert [e["epoch"] for e in store.epochs(run.id)] == [1]


def test_insert_is_idempotent_per_owner_and_request(store):
    first = store.insert(record(store, request_id="click-1"))
    replay = store.insert(record(store, request_id="click-1"))
    assert replay.id == first.id
    other = store.insert(record(store, owner="v:b", request_id="click-1"))
    assert other.id != first.id
    assert len(store.list()) == 2


def test_a_limit_check_that_raises_queues_nothing(store):
    def refuse(_store, _record):
        raise RuntimeError("over the limit")
    with pytest.raises(RuntimeError, match="over the limit"):
        store.insert(record(store), check=refuse)
    assert store.list() == []
    assert store.insert(record(store)).state == RunState.QUEUED  # the lock was let go


def test_the_database_is_in_wal_mode(store):
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_dead_process_fails_only_its_own_claim(store):
    run = store.insert(record(store))
    first = store.claim_next("r", "local")
    store.request_stop(run.id)
    store.transition(run.id, RunState.CANCELLED, [RunState.STOPPING])
    store.requeue(run.id, "last.pt", 0, 0)  # resumed while its old process was exiting
    assert not store.fail_unfinished(run.id, first.started_at, "the training process exited")
    assert store.get(run.id).state == RunState.QUEUED
    time.sleep(0.01)
    second = store.claim_next("r", "local")
    assert second.started_at != first.started_at
    assert not store.fail_unfinished(run.id, first.started_at, "the training process exited")
    assert store.get(run.id).state == RunState.RUNNING and store.get(run.id).error is None
    assert store.fail_unfinished(run.id, second.started_at, "killed")
    failed = store.get(run.id)
    assert (failed.state, failed.error, failed.phase) == (RunState.FAILED, "killed", None)


def test_a_dead_process_while_scoring_a_stopped_run_keeps_it_stopped(store):
    run = store.insert(record(store))
    claim = store.claim_next("r", "local")
    store.transition(run.id, RunState.CANCELLED, [RunState.RUNNING], phase="scoring")
    assert store.fail_unfinished(run.id, claim.started_at, "killed")
    after = store.get(run.id)
    assert (after.state, after.error, after.phase) == (RunState.CANCELLED, "killed", None)
    assert not store.fail_unfinished(run.id, claim.started_at, "again")  # it has ended
