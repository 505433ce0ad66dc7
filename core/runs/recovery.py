"""A damaged run database at start: kept aside, and rebuilt from the run folders.

`open_database(runs_dir)` (what the web app and `python -m core.runs` open) asks
SQLite for a quick integrity check first. A file that is not a database,
was cut short, or fails the check is renamed `runs.sqlite.damaged-<time>` (with
its -wal file), a new database is made, and every run folder is read back:

- `run.json` (core/runs/manifest.py, kept by the store after every change): the
  whole record, its epoch metrics, and its steps' loss and learning rate from the
  TensorBoard files (their speed and elapsed time are not kept there);
- `status.json` (runs of the JobManager days): left to core/runs/legacy.py's import;
- only `best.pt` / `last.pt` (a folder from before run.json): a run of
  RECOVERED_OWNER (an admin controls it), its settings from the checkpoint, stopped.

A run that was queued or training comes back stopped (resumable where its last.pt
is). Nothing in a run folder is changed. Visitors' ids (their cookies) stay valid:
the signing secret is a file of its own.
"""
from __future__ import annotations

import fcntl
import logging
import sqlite3
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.runs.manifest import read_manifest
from core.runs.state import RunState
from core.runs.database import BUSY_SECONDS, RunRecord, RunDatabase, is_busy

RECOVERED_OWNER = "recovered"
REBUILT = "interrupted: the run database was rebuilt while this run was queued or training"
LOCK_NAME = ".recovery.lock"
log = logging.getLogger("mnist_studio.runs")


@dataclass
class Recovery:
    """What a start found and did: shown on the Train page and in the server log."""
    problem: str  # SQLite's words for what was wrong
    kept_as: Path  # the damaged file, renamed
    rebuilt: list[str] = field(default_factory=list)  # run ids rebuilt from their folders
    at: float = field(default_factory=time.time)
    sweeps: list[str] = field(default_factory=list)  # sweep ids rebuilt from their folders

    @property
    def message(self) -> str:
        return (f"The run database was damaged ({self.problem}). It was kept aside as "
                f"{self.kept_as.name}, and {len(self.rebuilt)} run(s)"
                + (f" and {len(self.sweeps)} sweep(s)" if self.sweeps else "")
                + " were rebuilt from their folders; step speeds and times of rebuilt runs are "
                "not kept.")


_recoveries: dict[Path, Recovery] = {}  # this process's, by runs folder


def last_recovery(runs_dir: Path) -> Recovery | None:
    """The recovery this process made of a runs folder, if any."""
    return _recoveries.get(Path(runs_dir))


def database_problem(path: Path) -> str | None:
    """What is wrong with the database file, or None (fine, missing, or busy: a lock
    is not damage)."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(path, timeout=5)
    except sqlite3.DatabaseError as err:
        return str(err)
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as err:
        return None if is_busy(err) else str(err)
    except sqlite3.DatabaseError as err:
        return str(err)
    finally:
        db.close()
    bad = [str(r[0]) for r in rows if r and r[0] != "ok"]
    return "; ".join(bad[:3]) or None


def keep_aside(path: Path) -> Path:
    """Rename the damaged file (and its WAL) out of the way; the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    path.rename(kept)
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        wal.rename(kept.with_name(kept.name + "-wal"))
    path.with_name(path.name + "-shm").unlink(missing_ok=True)
    return kept


def open_database(runs_dir: str | Path, busy_seconds: float = BUSY_SECONDS) -> RunDatabase:
    """The runs folder's store, its file checked first (and rebuilt if damaged: the
    store's `recovery` then says how)."""
    store = RunDatabase(runs_dir, busy_seconds=busy_seconds, schema=False)
    store.recovery = open_checked(store)
    return store


def open_checked(store: RunDatabase) -> Recovery | None:
    """Make the store's file sound, then its schema; a Recovery if it had to be rebuilt."""
    with open(store.runs_dir / LOCK_NAME, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process checks and rebuilds at a time
        problem = database_problem(store.path)
        if problem is None:
            try:
                store.create_schema()
                return None
            except sqlite3.OperationalError as err:
                if is_busy(err):
                    raise
                problem = str(err)
            except sqlite3.DatabaseError as err:
                problem = str(err)
        store.close()
        kept = keep_aside(store.path)
        store.create_schema()
        from core.runs import sweeps  # after the runs: a sweep's state comes from its trials
        runs = rebuild(store)
        recovery = Recovery(problem, kept, runs, sweeps=sweeps.rebuild(store))
        log.error("%s", recovery.message)
        _recoveries[store.runs_dir] = recovery
        return recovery


def rebuild(store: RunDatabase) -> list[str]:
    """Put every run folder's run back into an empty store; the ids rebuilt."""
    rebuilt = []
    for folder in sorted(p for p in store.runs_dir.iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            continue  # .uploads and other per-visitor folders
        found = read_manifest(folder)
        record = _record(found[0]) if found is not None else None
        if record is not None:
            epochs = found[1]
            steps = tensorboard_steps(folder, epochs, record.step)
        elif (folder / "status.json").is_file():
            continue  # a JobManager run: core.runs.legacy.import_legacy takes it
        else:
            made = from_checkpoint(folder)
            if made is None:
                continue
            record, steps, epochs = made
        if record.state.active:
            record.state, record.error = RunState.CANCELLED, REBUILT
        record.phase, record.stop_requested = None, False
        if store.insert_imported(record, steps, epochs):
            rebuilt.append(record.id)
    return rebuilt


def _record(columns: dict) -> RunRecord | None:
    known = {f.name for f in fields(RunRecord)} - {"epochs_done"}
    try:
        record = RunRecord(**{k: v for k, v in columns.items() if k in known})
        record.state = RunState(record.state)
    except (TypeError, ValueError):
        return None
    return record if isinstance(record.config, dict) else None


def tensorboard_steps(folder: Path, epochs: list[dict], last_step: int) -> list[dict]:
    """A run's steps from its TensorBoard files: loss and learning rate per step (speed
    and elapsed time are not there: 0 and wall-clock time since the first step)."""
    if not any(folder.glob("events.out.tfevents.*")):
        return []
    try:
        # Only a rebuild reads TensorBoard files: not 0.45 s on every start of the web app.
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        board = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        board.Reload()
        losses = board.Scalars("train/loss")
        lrs = {e.step: e.value for e in board.Scalars("train/lr")}
    except Exception as err:  # unreadable or partial files: the record without its steps
        log.warning("no steps from %s's TensorBoard files: %s", folder.name, err)
        return []
    ends = sorted((int(e["step"]), int(e["epoch"])) for e in epochs)
    start = losses[0].wall_time if losses else 0.0
    by_step = {}
    for e in losses:  # a resumed run wrote some steps twice: the later one counts
        if 0 < e.step <= (last_step or e.step):
            epoch = next((n for end, n in ends if e.step <= end), len(ends) + 1)
            by_step[e.step] = {"step": e.step, "epoch": epoch, "loss": e.value,
                               "lr": lrs.get(e.step, 0.0), "samples_per_second": 0.0,
                               "elapsed": max(0.0, e.wall_time - start)}
    return [by_step[s] for s in sorted(by_step)]


def from_checkpoint(folder: Path) -> tuple[RunRecord, list[dict], list[dict]] | None:
    """A folder with only checkpoints: a stopped run of RECOVERED_OWNER, or None."""
    # Here: torch, only for a folder that needs it.
    from core.networks.checkpoints import CheckpointError, read_payload
    from core.train.config import TrainConfig
    step = 0
    for name in ("last.pt", "best.pt"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            payload = read_payload(path)
            config = TrainConfig.from_dict(payload["meta"]["hyperparameters"])
        except (CheckpointError, KeyError, TypeError, ValueError):
            continue
        progress = payload.get("progress") or {}
        step = int(progress.get("global_step", 0))
        record = RunRecord(id=folder.name, owner=RECOVERED_OWNER, created=path.stat().st_mtime,
                           config=asdict(config), state=RunState.CANCELLED, run_dir=str(folder),
                           error="recovered from its checkpoint: its record was lost",
                           step=step, executor="local")
        return record, [], []
    return None
