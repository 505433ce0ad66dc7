"""The run database: runs, owners, configs, states, epoch and step metrics, in SQLite (WAL).

It is the only channel between the web process and training. Pages insert
runs and read them; the runner process claims queued runs and the training
processes append metrics and change states. Every state change is one
transaction with a guard on the state it leaves (compare-and-set), so a
kill at any moment leaves each run in a state it really had.

Steps are all kept, each with a level: the number of trailing zero bits of
its step number. Reading a run thinned to K points asks for the levels at
and above log2(steps / K), through an index: about K rows whether the run
has 300 steps or 300,000.

The files of a run stay in its folder (runs/<id>/): best.pt, last.pt,
TensorBoard event files and run.json, a copy of its record (core/runs/manifest.py)
from which a damaged database is rebuilt (core/runs/recovery.py).

Writers wait for a lock held by another process with backoff, up to the store's
`busy_seconds` (long for the runner and workers: no step is lost; short for the
web process, whose page then says "busy"), then raise StoreBusy.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from core.runs.manifest import write_manifest
from core.runs.state import RunFolder, RunState

DB_NAME = "runs.sqlite"
MAX_LEVEL = 30
INTERRUPTED = "interrupted: the server stopped while this run trained"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created REAL NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL,
    phase TEXT,                      -- while active: loading, training, scoring
    error TEXT,
    request_id TEXT,                 -- the submit that made it: a replayed click finds it
    queued_at REAL,
    started_at REAL,
    finished_at REAL,
    total_steps INTEGER NOT NULL DEFAULT 0,
    step INTEGER NOT NULL DEFAULT 0,
    executor TEXT,
    node TEXT,
    device TEXT,
    runner TEXT,                     -- the runner process that claimed it
    stop_requested INTEGER NOT NULL DEFAULT 0,
    resume_from TEXT,
    estimate_minutes REAL,
    test TEXT,
    result TEXT,
    run_dir TEXT NOT NULL,
    pinned INTEGER NOT NULL DEFAULT 0, -- an admin keeps it from retention
    address TEXT                     -- the client address that submitted it (limits)
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_request ON runs(owner, request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_state ON runs(state, queued_at);
CREATE INDEX IF NOT EXISTS runs_owner ON runs(owner, state);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    level INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    loss REAL NOT NULL,
    lr REAL NOT NULL,
    samples_per_second REAL NOT NULL,
    elapsed REAL NOT NULL,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visitors (
    id TEXT PRIMARY KEY,             -- a visitor id (core/server/visitors.py)
    address TEXT,                    -- the client address it was last seen from
    first_seen REAL NOT NULL,
    first_address TEXT               -- the address that got this id (the new-id rate limit)
);
CREATE INDEX IF NOT EXISTS visitors_new ON visitors(first_address, first_seen);
CREATE INDEX IF NOT EXISTS steps_level ON steps(run_id, level, step);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,             -- its folder: <runs>/sweeps/<id> (spec, Optuna study)
    owner TEXT NOT NULL,
    created REAL NOT NULL,
    spec TEXT NOT NULL,              -- core.runs.sweeps.SweepSpec as JSON
    state TEXT NOT NULL,             -- running, finished, stopped
    finished_at REAL,
    address TEXT
);
CREATE INDEX IF NOT EXISTS sweeps_owner ON sweeps(owner, state);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
"""

# Columns added since the first schema: (name, declaration), added to an older file at open.
ADDED_COLUMNS = (("pinned", "INTEGER NOT NULL DEFAULT 0"), ("address", "TEXT"),
                 ("pruned", "INTEGER NOT NULL DEFAULT 0"))  # a sweep's pruner stopped it
BUSY_SECONDS = 120.0  # the runner's and workers' patience: a lock held that long is a fault
WEB_BUSY_SECONDS = 3.0  # a page's: past it, the page says "busy" instead of hanging
log = logging.getLogger("mnist_studio.runs")

STEP_FIELDS = ("step", "epoch", "loss", "lr", "samples_per_second", "elapsed")
SELECT_RUNS = ("SELECT runs.*, (SELECT COUNT(*) FROM epochs WHERE epochs.run_id = runs.id) "
               "AS epochs_done FROM runs")


class RunNotFound(KeyError):
    """No such run (or not one this viewer may see)."""

    def __str__(self) -> str:
        return f"run {self.args[0]!r} not found"


class TransitionRefused(RuntimeError):
    """The run was no longer in the state the change expected."""


class SweepNotFound(KeyError):
    """No such sweep (or not one this viewer may see)."""

    def __str__(self) -> str:
        return f"sweep {self.args[0]!r} not found"


@dataclass
class SweepRow:
    """One row of `sweeps`: who started it, its spec (a SweepSpec's dict), its state."""
    id: str
    owner: str
    created: float
    spec: dict
    state: str = "running"  # running, finished, stopped
    finished_at: float | None = None
    address: str | None = None


def _sweep(row: sqlite3.Row) -> SweepRow:
    d = dict(row)
    d["spec"] = json.loads(d["spec"])
    return SweepRow(**d)


class StoreBusy(RuntimeError):
    """Another process held the run database's write lock for longer than this store waits."""


def is_busy(err: sqlite3.OperationalError) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


@dataclass
class RunRecord(RunFolder):
    """One row of `runs`, decoded."""
    id: str
    owner: str
    created: float
    config: dict
    state: RunState
    run_dir: str
    phase: str | None = None
    error: str | None = None
    request_id: str | None = None
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    total_steps: int = 0
    step: int = 0
    executor: str | None = None
    node: str | None = None
    device: str | None = None
    runner: str | None = None
    stop_requested: bool = False
    resume_from: str | None = None
    estimate_minutes: float | None = None
    test: dict | None = None
    result: dict | None = None
    pinned: bool = False
    address: str | None = None
    pruned: bool = False  # a sweep's trial its pruner stopped (core/runs/sweeps.py)
    epochs_done: int = 0


@dataclass
class StepSeries:
    """A run's per-step metrics, thinned: parallel lists, in step order."""
    step: list[int] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    samples_per_second: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    stride: int = 1  # every stride-th step is here (plus the last)

    def __len__(self) -> int:
        return len(self.step)

    def rows(self) -> list[dict]:
        """One dict per kept step, as the trainer's StepEvents."""
        return [dict(zip(STEP_FIELDS, values)) for values in
                zip(self.step, self.epoch, self.loss, self.lr, self.samples_per_second, self.elapsed)]


def new_run_id(config: Any) -> str:
    """<date>-<time>-<dataset>-<model>-<4 hex>: a run's id and its folder's name."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config.dataset}-{config.model}-{os.urandom(2).hex()}"


def step_level(step: int) -> int:
    """Trailing zero bits of a (1-based) step number: step 8 has level 3."""
    return min(MAX_LEVEL, (step & -step).bit_length() - 1) if step > 0 else 0


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _record(row: sqlite3.Row) -> RunRecord:
    d = dict(row)
    d["config"] = json.loads(d["config"])
    d["state"] = RunState(d["state"])
    d["stop_requested"] = bool(d["stop_requested"])
    d["pinned"] = bool(d.get("pinned"))
    d["pruned"] = bool(d.get("pruned"))
    d["test"], d["result"] = _loads(d["test"]), _loads(d["result"])
    return RunRecord(**d)


class RunDatabase:
    """One SQLite file per runs folder; safe to use from many threads and processes."""

    def __init__(self, runs_dir: str | os.PathLike, busy_seconds: float = BUSY_SECONDS,
                 schema: bool = True) -> None:
        """`busy_seconds`: how long a write waits for another process's lock before
        StoreBusy. To check the file for damage first, open it with
        core.runs.recovery.open_database (the web app does), which passes schema=False."""
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.runs_dir / DB_NAME
        self.busy_seconds = busy_seconds
        self._local = threading.local()
        self.recovery = None  # a core.runs.recovery.Recovery when open_database rebuilt the file
        self.sweeps = SweepTable(self)
        self.visitors = VisitorTable(self)
        if schema:
            self.create_schema()

    def create_schema(self) -> None:
        """Tables and indexes, and the columns an older file lacks (idempotent)."""
        db = self._db()
        db.executescript(SCHEMA)  # executescript commits by itself
        have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        for name, declaration in ADDED_COLUMNS:
            if name not in have:
                try:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {name} {declaration}")
                except sqlite3.OperationalError as err:  # another process added it first
                    if "duplicate column" not in str(err):
                        raise

    def close(self) -> None:
        """Close this thread's connection (a recovery moves the file it had open)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ---------------------------------------------------------- connections

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            # One connection per thread and process: sqlite3 objects must not cross either.
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=True)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            # SQLite's own wait, per attempt; _write retries with backoff up to busy_seconds.
            db.execute(f"PRAGMA busy_timeout={int(min(self.busy_seconds, 0.5) * 1000)}")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once (IMMEDIATE) so checks and writes see one state."""
        db = self._db()
        self._begin(db)
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _begin(self, db: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, retried with backoff while another process holds the write lock."""
        deadline = time.monotonic() + self.busy_seconds
        delay = 0.05
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if not is_busy(err):
                    raise
                if time.monotonic() + delay > deadline:
                    raise StoreBusy(f"the run database is busy: another process has held it "
                                    f"for over {self.busy_seconds:g} s") from None
                log.warning("run database locked by another process; retrying in %.2f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    # ---------------------------------------------------------------- reads

    def get(self, run_id: str) -> RunRecord:
        row = self._db().execute(f"{SELECT_RUNS} WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return _record(row)

    def list(self, owner: str | None = None, states: Sequence[RunState] | None = None,
             limit: int = 1000) -> list[RunRecord]:
        """Newest first."""
        where, args = [], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args += [str(s.value) for s in states]
        sql = (SELECT_RUNS + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY created DESC, id DESC LIMIT ?")
        return [_record(r) for r in self._db().execute(sql, (*args, limit))]

    def queue(self) -> list[RunRecord]:
        """Queued runs, first come first."""
        rows = self._db().execute(f"{SELECT_RUNS} WHERE state = ? ORDER BY queued_at, id",
                                  (RunState.QUEUED.value,))
        return [_record(r) for r in rows]

    def active_count(self, owner: str | None = None) -> int:
        active = [s.value for s in RunState if s.active]
        sql = f"SELECT COUNT(*) FROM runs WHERE state IN ({','.join('?' * len(active))})"
        args: list[Any] = list(active)
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        return self._db().execute(sql, args).fetchone()[0]

    def stop_requested(self, run_id: str) -> bool:
        row = self._db().execute("SELECT stop_requested FROM runs WHERE id = ?",
                                 (run_id,)).fetchone()
        return bool(row and row[0])

    def steps(self, run_id: str, max_points: int = 400) -> StepSeries:
        """The run's steps thinned to at most about max_points, always with the first and last."""
        last = self._db().execute("SELECT MAX(step) FROM steps WHERE run_id = ?",
                                  (run_id,)).fetchone()[0]
        if not last:
            return StepSeries()
        level = max(0, math.ceil(math.log2(last / max(1, max_points)))) if last > max_points else 0
        # An indexed range of levels, then the last step if it was not in it. (One query
        # with OR, or a UNION, makes SQLite walk the whole run: 50x slower at 300k steps.)
        cols = ", ".join(STEP_FIELDS)
        rows = self._db().execute(f"SELECT {cols} FROM steps WHERE run_id = ? AND level >= ?",
                                  (run_id, level)).fetchall()
        ends = self._db().execute(f"SELECT {cols} FROM steps WHERE run_id = ? AND step IN (?, ?)",
                                  (run_id, 1, last)).fetchall()  # the chart's first and last point
        rows = sorted({r["step"]: r for r in [*rows, *ends]}.values(), key=lambda r: r["step"])
        series = StepSeries(stride=2 ** level)
        for row in rows:
            for name in STEP_FIELDS:
                getattr(series, name).append(row[name])
        return series

    def epochs(self, run_id: str) -> list[dict]:
        rows = self._db().execute("SELECT data FROM epochs WHERE run_id = ? ORDER BY epoch",
                                  (run_id,))
        return [json.loads(r[0]) for r in rows]

    # --------------------------------------------------------------- writes

    def insert(self, record: RunRecord, check: Any = None) -> RunRecord:
        """Add a queued run. `check(db)` runs inside the same transaction first (quotas),
        so two visitors submitting at once cannot both slip under a limit. A repeated
        (owner, request_id) returns the run that request made instead."""
        with self._write() as db:
            if record.request_id:
                row = db.execute(f"{SELECT_RUNS} WHERE owner = ? AND request_id = ?",
                                 (record.owner, record.request_id)).fetchone()
                if row is not None:
                    return _record(row)
            if check is not None:
                check(self, record)
            db.execute(
                "INSERT INTO runs (id, owner, created, config, state, request_id, queued_at, "
                "run_dir, estimate_minutes, total_steps, address) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.owner, record.created, json.dumps(record.config),
                 record.state.value, record.request_id, record.queued_at or time.time(),
                 record.run_dir, record.estimate_minutes, record.total_steps, record.address))
        return self._changed(record.id)

    def insert_imported(self, record: RunRecord, steps: Sequence[dict],
                        epochs: Sequence[dict]) -> bool:
        """Add a run made elsewhere (core/runs/legacy.py), every column and metric in one
        transaction. False when its id is already known (another process imported it first)."""
        columns = dict(vars(record))
        columns.pop("epochs_done")  # counted from the epochs table, not stored
        columns["config"] = json.dumps(record.config)
        columns["state"] = record.state.value
        columns["stop_requested"] = int(record.stop_requested)
        columns["pinned"] = int(record.pinned)
        columns["pruned"] = int(record.pruned)
        columns["test"] = None if record.test is None else json.dumps(record.test)
        columns["result"] = None if record.result is None else json.dumps(record.result)
        with self._write() as db:
            cur = db.execute(f"INSERT OR IGNORE INTO runs ({', '.join(columns)}) "
                             f"VALUES ({', '.join('?' * len(columns))})", list(columns.values()))
            if cur.rowcount != 1:
                return False
            self._add_metrics(db, record.id, steps, epochs)
        self._note(record.id)
        return True

    def _transition(self, db: sqlite3.Connection, run_id: str, to: RunState,
                    expect: Sequence[RunState], **columns: Any) -> None:
        sets = ", ".join(["state = ?"] + [f"{k} = ?" for k in columns])
        values = [to.value] + [json.dumps(v) if k in ("test", "result") and v is not None else v
                               for k, v in columns.items()]
        cur = db.execute(
            f"UPDATE runs SET {sets} WHERE id = ? AND state IN ({','.join('?' * len(expect))})",
            (*values, run_id, *[s.value for s in expect]))
        if cur.rowcount != 1:
            row = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            raise TransitionRefused(f"run {run_id} is {row[0]}, not "
                                    f"{' or '.join(s.value for s in expect)}")

    def transition(self, run_id: str, to: RunState, expect: Sequence[RunState],
                   **columns: Any) -> RunRecord:
        with self._write() as db:
            self._transition(db, run_id, to, expect, **columns)
        return self._changed(run_id)

    def update(self, run_id: str, **columns: Any) -> None:
        """Columns that are not the state (phase, placement, progress, results)."""
        sets = ", ".join(f"{k} = ?" for k in columns)
        values = [json.dumps(v) if k in ("test", "result", "config") and v is not None else v
                  for k, v in columns.items()]
        with self._write() as db:
            db.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*values, run_id))
        self._note(run_id)

    def request_stop(self, run_id: str) -> RunRecord:
        """A queued run is cancelled at once; a training one is asked to stop."""
        with self._write() as db:
            row = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            state = RunState(row[0])
            if state == RunState.QUEUED:
                self._transition(db, run_id, RunState.CANCELLED, [RunState.QUEUED],
                                 finished_at=time.time(), stop_requested=1)
            elif state == RunState.RUNNING:
                self._transition(db, run_id, RunState.STOPPING, [RunState.RUNNING],
                                 stop_requested=1)
        return self._changed(run_id)

    def claim_next(self, runner: str, executor: str) -> RunRecord | None:
        """The oldest queued run, now RUNNING and owned by this runner; None if none is queued."""
        with self._write() as db:
            row = db.execute("SELECT id FROM runs WHERE state = ? ORDER BY queued_at, id LIMIT 1",
                             (RunState.QUEUED.value,)).fetchone()
            if row is None:
                return None
            self._transition(db, row[0], RunState.RUNNING, [RunState.QUEUED], runner=runner,
                             executor=executor, phase="loading", started_at=time.time(),
                             finished_at=None, error=None, stop_requested=0)
        return self._changed(row[0])

    def requeue(self, run_id: str, resume_from: str, step: int, epochs_done: int) -> RunRecord:
        """Queue a stopped run again. Metrics past its saved step are discarded in the same
        transaction, so the resumed run never repeats (or drops) a step."""
        with self._write() as db:
            self._transition(db, run_id, RunState.QUEUED, [RunState.CANCELLED, RunState.FAILED],
                             queued_at=time.time(), finished_at=None, error=None,
                             stop_requested=0, resume_from=resume_from, step=step, phase=None,
                             test=None, result=None)
            db.execute("DELETE FROM steps WHERE run_id = ? AND step > ?", (run_id, step))
            db.execute("DELETE FROM epochs WHERE run_id = ? AND epoch > ?", (run_id, epochs_done))
        return self._changed(run_id)

    def add_metrics(self, run_id: str, steps: Sequence[dict], epochs: Sequence[dict],
                    total_steps: int | None = None) -> None:
        """Append step and epoch events (dicts as core.train.loop's events) in one transaction."""
        if not steps and not epochs:
            return
        with self._write() as db:
            self._add_metrics(db, run_id, steps, epochs)
            last = steps[-1]["step"] if steps else max(e["step"] for e in epochs)
            db.execute("UPDATE runs SET step = MAX(step, ?), total_steps = COALESCE(?, total_steps), "
                       "phase = 'training' WHERE id = ? AND phase IS NOT 'scoring'",
                       (last, total_steps, run_id))

    @staticmethod
    def _add_metrics(db: sqlite3.Connection, run_id: str, steps: Sequence[dict],
                     epochs: Sequence[dict]) -> None:
        if steps:
            db.executemany(
                "INSERT OR REPLACE INTO steps (run_id, step, level, epoch, loss, lr, "
                "samples_per_second, elapsed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, s["step"], step_level(s["step"]), s["epoch"], s["loss"], s["lr"],
                  s["samples_per_second"], s["elapsed"]) for s in steps])
        if epochs:
            db.executemany("INSERT OR REPLACE INTO epochs (run_id, epoch, data) VALUES (?, ?, ?)",
                           [(run_id, e["epoch"], json.dumps(e)) for e in epochs])

    def fail_unfinished(self, run_id: str, started_at: float | None, message: str) -> bool:
        """The process that ran the claim started at `started_at` ended without recording
        its end: a run still active from that claim becomes FAILED, a stopped one still
        scoring keeps its state and gets the message. A run queued (or claimed) again
        since is another claim's and is left alone. True if the run was changed."""
        with self._write() as db:
            row = db.execute("SELECT state, phase, started_at FROM runs WHERE id = ?",
                             (run_id,)).fetchone()
            if row is None or row["started_at"] != started_at:
                return False
            state = RunState(row["state"])
            if state in (RunState.RUNNING, RunState.STOPPING):
                self._transition(db, run_id, RunState.FAILED, [state], phase=None,
                                 error=message, finished_at=time.time())
            elif not state.active and row["phase"] is not None:
                db.execute("UPDATE runs SET phase = NULL, error = ? WHERE id = ?",
                           (message, run_id))
            else:
                return False
        self._note(run_id)
        return True

    def interrupt_orphans(self, runner: str) -> list[str]:
        """Runs left RUNNING or STOPPING by a runner other than this one (a killed server)
        become CANCELLED with a note; their last.pt makes them resumable."""
        active = [RunState.RUNNING, RunState.STOPPING]
        with self._write() as db:
            rows = db.execute(
                "SELECT id FROM runs WHERE state IN (?, ?) AND COALESCE(runner, '') != ?",
                (*[s.value for s in active], runner)).fetchall()
            for (run_id,) in rows:
                self._transition(db, run_id, RunState.CANCELLED, active, phase=None,
                                 finished_at=time.time(),
                                 error=INTERRUPTED)
        for (run_id,) in rows:
            self._note(run_id)
        return [r[0] for r in rows]

    def _note(self, run_id: str) -> None:
        """_changed for a change that returns nothing: a run deleted meanwhile is no error."""
        try:
            self._changed(run_id)
        except RunNotFound:
            pass

    def _changed(self, run_id: str) -> RunRecord:
        """The run's record after a change, also kept in its folder as run.json, from which
        a damaged database is rebuilt. Best effort: a full disk must not fail the change.
        Two processes changing one run at once may write it in either order; the next
        change of the run (its end is the last) puts the newest back."""
        record = self.get(run_id)
        try:
            write_manifest(record, self.epochs(run_id))
        except OSError as err:
            log.warning("could not write %s's run.json: %s", run_id, err)
        return record

    def set_pinned(self, run_id: str, pinned: bool) -> RunRecord:
        with self._write() as db:
            if db.execute("UPDATE runs SET pinned = ? WHERE id = ?",
                          (int(pinned), run_id)).rowcount != 1:
                raise RunNotFound(run_id)
        return self._changed(run_id)

    def active_at(self, address: str) -> int:
        """Queued or training runs submitted from a client address."""
        active = [s.value for s in RunState if s.active]
        return self._db().execute(
            f"SELECT COUNT(*) FROM runs WHERE address = ? AND state IN "
            f"({','.join('?' * len(active))})", (address, *active)).fetchone()[0]

    def delete(self, run_id: str, keep_pinned: bool = False) -> None:
        """Remove a run's record and metrics (not an active one; with keep_pinned, not a
        pinned one either: retention's delete)."""
        with self._write() as db:
            row = db.execute("SELECT state, pinned, phase FROM runs WHERE id = ?",
                             (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            if RunState(row[0]).active:
                raise TransitionRefused(f"run {run_id} is {row[0]}: stop it before deleting it")
            if keep_pinned and (row[1] or row[2] is not None):
                raise TransitionRefused(f"run {run_id} is pinned or still being scored")
            db.execute("DELETE FROM steps WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM epochs WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))


class SweepTable:
    """The sweeps of the database (`db.sweeps`): a sweep's row, its spec and state; its
    trials are ordinary runs whose config names the sweep."""

    def __init__(self, db: RunDatabase) -> None:
        self.db = db

    def insert(self, row: "SweepRow", check: Any = None) -> None:
        """Add a running sweep; `check(store, row)` runs first in the same transaction
        (the visitor's cap on active sweeps)."""
        with self.db._write() as db:
            if check is not None:
                check(self.db, row)
            db.execute("INSERT INTO sweeps (id, owner, created, spec, state, address) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (row.id, row.owner, row.created,
                                                     json.dumps(row.spec), row.state, row.address))

    def get(self, sweep_id: str) -> "SweepRow":
        row = self.db._db().execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            raise SweepNotFound(sweep_id)
        return _sweep(row)

    def list(self, owner: str | None = None, state: str | None = None) -> list[SweepRow]:
        """Newest first."""
        where, args = [], []
        for column, value in (("owner", owner), ("state", state)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = ("SELECT * FROM sweeps" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY created DESC, id DESC")
        return [_sweep(r) for r in self.db._db().execute(sql, args)]

    def end(self, sweep_id: str, state: str) -> bool:
        """A running sweep becomes finished or stopped; False if it was not running."""
        with self.db._write() as db:
            cur = db.execute("UPDATE sweeps SET state = ?, finished_at = ? WHERE id = ? AND "
                             "state = 'running'", (state, time.time(), sweep_id))
        return cur.rowcount == 1

    def runs(self, sweep_id: str) -> list[RunRecord]:
        """The runs of a sweep's trials (their config's `sweep` entry), oldest first."""
        rows = self.db._db().execute(
            f"{SELECT_RUNS} WHERE json_extract(config, '$.sweep.id') = ? ORDER BY created, id",
            (sweep_id,))
        return [_record(r) for r in rows]


class VisitorTable:
    """Where visitors were seen (`db.visitors`): the record behind the limits per client
    address."""

    def __init__(self, db: RunDatabase) -> None:
        self.db = db

    def seen(self, visitor_id: str, address: str | None, new: bool = False) -> None:
        """Record where a visitor was seen (a new id: also where and when it was made)."""
        now = time.time()
        with self.db._write() as db:
            db.execute("INSERT INTO visitors (id, address, first_seen, first_address) "
                       "VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET address = ?",
                       (visitor_id, address, now, address if new else None, address))

    def new_since(self, address: str, since: float) -> int:
        """Visitor ids made for a client address since a time."""
        return self.db._db().execute(
            "SELECT COUNT(*) FROM visitors WHERE first_address = ? AND first_seen >= ?",
            (address, since)).fetchone()[0]

    def at(self, address: str) -> list[str]:
        """Visitors last seen from a client address."""
        return [r[0] for r in self.db._db().execute("SELECT id FROM visitors WHERE address = ?",
                                                 (address,))]
