"""Faults the run system meets on a shared server, each forced here:

- the run database locked by another process for seconds: writers wait with backoff
  and lose no step; a page's write gives up after a few seconds with StoreBusy;
- a damaged (garbage or truncated) runs.sqlite at start: kept aside, rebuilt from the
  run folders (run.json, TensorBoard files, checkpoints);
- a full disk while a run saves a checkpoint: the run ends Failed with the reason, the
  store and the other runs stay intact, and the last good checkpoint resumes it;
- a process killed while writing a checkpoint: the previous checkpoint survives.

Runs train in this process (core.runs.job.execute, as a worker would) on the tiny
fake data, so a write can be patched.
"""
from __future__ import annotations

import errno
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from core.networks.checkpoints import load_checkpoint
from core.runs import job
from core.runs.recovery import RECOVERED_OWNER, last_recovery, open_database
from core.runs.state import RunState
from core.runs.database import RunRecord, RunDatabase, StoreBusy
from core.train.config import TrainConfig
from core.train.resume import resume_point
from tests.apptest import new_session, no_exception

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def config(data: Path, epochs: int = 1) -> dict:
    return asdict(TrainConfig(dataset="mnist", model="ffnn-small", epochs=epochs, batch_size=32,
                              device="cpu", seed=0, data_dir=str(data)))


def queue_run(store: RunDatabase, data: Path, owner: str = "v:alice", epochs: int = 1) -> RunRecord:
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    record = RunRecord(id=run_id, owner=owner, created=time.time(), config=config(data, epochs),
                       state=RunState.QUEUED, run_dir=str(store.runs_dir / run_id))
    store.insert(record)
    return store.claim_next("test-runner", "local")


def train_in_process(store: RunDatabase, record: RunRecord, recorder=None,
                     resume_from: str | None = None) -> RunRecord:
    """As a local worker would, in this process."""
    recorder = recorder or job.RunRecorder(store, record.id, record.run_dir)
    job.execute(record.id, record.config, Path(record.run_dir), recorder, lambda: False,
                   resume_from)
    return store.get(record.id)


LOCKER = textwrap.dedent("""
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    db.execute("ROLLBACK")
""")


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    """Another process holds the database's write lock (an EXCLUSIVE transaction)."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


# ----------------------------------------------------------------- a locked database

def test_a_write_waits_out_another_process_lock(tmp_path, fake_data_root):
    store = RunDatabase(tmp_path)
    record = queue_run(store, fake_data_root)
    locker = hold_lock(store.path, 2.0)
    started = time.monotonic()
    store.update(record.id, phase="training")
    waited = time.monotonic() - started
    locker.wait(10)
    assert waited >= 1.0, waited  # it waited for the lock ...
    assert store.get(record.id).phase == "training"  # ... and then wrote


def test_a_page_write_gives_up_with_store_busy_and_reads_still_work(tmp_path, fake_data_root):
    RunDatabase(tmp_path)
    page = RunDatabase(tmp_path, busy_seconds=0.5)  # the web process's patience, shortened
    record = queue_run(page, fake_data_root)
    locker = hold_lock(page.path, 5.0)
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="busy"):
            page.update(record.id, phase="scoring")
        assert time.monotonic() - started < 2.5
        assert page.get(record.id).phase == "loading"  # reads go on (WAL); nothing written
    finally:
        locker.kill()
        locker.wait()


def test_a_training_run_loses_no_step_while_the_database_is_locked(tmp_path, fake_data_root):
    store = RunDatabase(tmp_path)
    record = queue_run(store, fake_data_root, epochs=2)
    lockers = []

    class LockedMidRun(job.RunRecorder):
        def events(self, steps, epochs, total_steps):
            if not lockers:  # the first progress write finds the database locked for 2 s
                lockers.append(hold_lock(store.path, 2.0))
            super().events(steps, epochs, total_steps)

    done = train_in_process(store, record, LockedMidRun(store, record.id, record.run_dir))
    lockers[0].wait(10)
    assert done.state == RunState.FINISHED, done.error
    assert store.steps(record.id, 10_000).step == list(range(1, done.total_steps + 1))
    assert [e["epoch"] for e in store.epochs(record.id)] == [1, 2]


def test_the_train_page_says_busy_instead_of_failing(env):
    at = new_session("train", visitor="v:busy")
    locker = hold_lock(Path(env["runs"]) / "runs.sqlite", 8.0)
    try:
        at.button(key="train_start").click().run()
    finally:
        locker.kill()
        locker.wait()
    no_exception(at)
    errors = [e.value for e in at.error]
    assert any(e.startswith("**Busy.** The run database is busy") for e in errors), errors
    at.button(key="train_start").click().run()  # the lock is gone: Start works again
    no_exception(at)
    assert not [e.value for e in at.error if "Busy" in e.value]


# ----------------------------------------------------------------- a damaged database

@pytest.fixture
def trained_runs(tmp_path, fake_data_root):
    """A runs folder with a finished run of alice's, a stopped one of bob's (last.pt kept),
    and a folder from before run.json (checkpoints only)."""
    runs = tmp_path / "runs"
    store = RunDatabase(runs)
    alice = train_in_process(store, queue_run(store, fake_data_root, "v:alice", epochs=2))
    bob = queue_run(store, fake_data_root, "v:bob", epochs=2)
    job.execute(bob.id, bob.config, Path(bob.run_dir), job.RunRecorder(store, bob.id, bob.run_dir),
                   job.polled(lambda: store.get(bob.id).epochs_done >= 1, every=0.0))
    bob = store.get(bob.id)
    old = runs / "20260101-000000-mnist-ffnn-small-0000"
    old.mkdir()
    (old / "last.pt").write_bytes(Path(bob.last_checkpoint).read_bytes())
    store.close()
    return runs, store, alice, bob, old


def _same_run(store: RunDatabase, before: RunRecord, steps_before, epochs_before) -> None:
    after = store.get(before.id)
    for name in ("owner", "state", "config", "test", "result", "total_steps", "step", "created"):
        assert getattr(after, name) == getattr(before, name), name
    assert store.epochs(before.id) == epochs_before
    rebuilt = store.steps(before.id, 10_000)
    assert rebuilt.step == steps_before.step
    assert rebuilt.loss == pytest.approx(steps_before.loss, rel=1e-6)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_kept_aside_and_rebuilt_from_the_run_folders(trained_runs, damage):
    runs, store, alice, bob, old = trained_runs
    steps = {r.id: store.steps(r.id, 10_000) for r in (alice, bob)}
    epochs = {r.id: store.epochs(r.id) for r in (alice, bob)}
    db = runs / "runs.sqlite"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 500)
    else:
        raw = db.read_bytes()
        db.write_bytes(raw[: len(raw) // 3])
    damaged = db.read_bytes()

    rebuilt = open_database(runs)
    recovery = rebuilt.recovery
    assert recovery is not None and last_recovery(runs) is recovery
    assert recovery.kept_as.read_bytes() == damaged  # kept, untouched, for a look
    assert sorted(recovery.rebuilt) == sorted([alice.id, bob.id, old.name])
    assert "The run database was damaged" in recovery.message
    _same_run(rebuilt, alice, steps[alice.id], epochs[alice.id])
    _same_run(rebuilt, bob, steps[bob.id], epochs[bob.id])
    assert rebuilt.get(bob.id).resumable  # a stopped run stays resumable
    from_ckpt = rebuilt.get(old.name)
    assert from_ckpt.owner == RECOVERED_OWNER and from_ckpt.state == RunState.CANCELLED
    assert from_ckpt.resumable and from_ckpt.config == bob.config
    assert rebuilt.steps(alice.id).samples_per_second[0] == 0.0  # not in TensorBoard's files
    assert open_database(runs).recovery is None  # sound now: the next start changes nothing


def test_a_sound_or_locked_database_is_not_taken_for_a_damaged_one(tmp_path, fake_data_root):
    store = RunDatabase(tmp_path)
    queue_run(store, fake_data_root)
    assert open_database(tmp_path).recovery is None
    locker = hold_lock(store.path, 3.0)
    try:
        assert open_database(tmp_path, busy_seconds=0.5).recovery is None
    finally:
        locker.kill()
        locker.wait()
    assert len(RunDatabase(tmp_path).list()) == 1


def test_the_app_starts_on_a_damaged_database_and_says_so(env, trained_runs):
    runs, _, alice, _, _ = trained_runs
    assert runs == env["runs"]  # the app's runs folder (both are tmp_path/runs)
    (env["runs"] / "runs.sqlite").write_bytes(b"garbage" * 1000)
    (env["runs"] / "runs.sqlite-wal").unlink(missing_ok=True)
    at = new_session("train", visitor="v:alice")
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("The run database was damaged") and "3 run(s) were rebuilt" in w
               for w in warnings), warnings
    from ui.common.state import TRAIN_FOCUS
    options = at.selectbox(key=TRAIN_FOCUS).options  # hers again (no owner named), and bob's
    assert any(o.startswith(alice.id) and "visitor" not in o for o in options), options
    assert any("visitor bob" in o for o in options), options


# --------------------------------------------------------------------- a full disk

@pytest.mark.parametrize("where", ["checkpoint", "events"])
def test_a_run_that_fills_the_disk_fails_with_the_reason_and_harms_nothing_else(
        tmp_path, fake_data_root, monkeypatch, where):
    """The disk fills in epoch 2: while saving its best.pt, or while recording its events
    (the store's metrics and TensorBoard files, written before each resumable save)."""
    import core.networks.checkpoints
    store = RunDatabase(tmp_path)
    other = train_in_process(store, queue_run(store, fake_data_root, "v:bob"))
    record = queue_run(store, fake_data_root, epochs=3)
    real_write, real_events, calls = core.networks.checkpoints.atomic_write, job.RunRecorder.events, []

    def disk_fills(path, write):  # epoch 1's best.pt and last.pt fit, then the disk is full
        calls.append(Path(path).name)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, write)

    def events_fill(self, steps, epochs, total_steps):
        if any(e["epoch"] >= 2 for e in [*steps, *epochs]):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_events(self, steps, epochs, total_steps)
    if where == "checkpoint":
        monkeypatch.setattr(core.networks.checkpoints, "atomic_write", disk_fills)
    else:
        monkeypatch.setattr(job.RunRecorder, "events", events_fill)
    failed = train_in_process(store, record)
    assert failed.state == RunState.FAILED and failed.phase is None
    assert failed.error.startswith("The disk is full: no space was left to save this run's files")
    assert store.get(other.id) == other  # the other run is untouched
    assert store._db().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list(Path(record.run_dir).glob(".*.tmp"))  # no half-written file is left
    point = resume_point(failed.last_checkpoint)  # the last good checkpoint survives
    assert point.epochs_done == 1 and failed.resumable

    monkeypatch.undo()  # space freed: resume it
    store.requeue(record.id, str(failed.last_checkpoint), point.step, point.epochs_done)
    store.claim_next("test-runner", "local")
    done = train_in_process(store, store.get(record.id), resume_from=str(failed.last_checkpoint))
    assert done.state == RunState.FINISHED, done.error
    assert store.steps(record.id, 10_000).step == list(range(1, done.total_steps + 1))
    assert [e["epoch"] for e in store.epochs(record.id)] == [1, 2, 3]


# ----------------------------------------------------- killed while writing a checkpoint

KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import torch
    from core.networks.checkpoints import CheckpointMeta, save_checkpoint
    from core.networks.models import build_model
    model = build_model("ffnn-small")
    path = sys.argv[1]
    save_checkpoint(path, model, CheckpointMeta.new("mnist", "ffnn-small", metrics={"save": 1}))
    real_save = torch.save
    def slow_save(obj, f):  # half the bytes, then the process is killed
        f.write(b"half a checkpoint" * 1000)
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
    torch.save = slow_save
    save_checkpoint(path, model, CheckpointMeta.new("mnist", "ffnn-small", metrics={"save": 2}))
""")


def test_a_process_killed_while_writing_a_checkpoint_leaves_the_last_good_one(tmp_path):
    path = tmp_path / "last.pt"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert load_checkpoint(path).meta.metrics == {"save": 1}
    assert len(list(tmp_path.glob(".last.pt.*.tmp"))) == 1  # the half file, never renamed


