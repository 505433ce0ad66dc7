"""Runs from before the run database: folders written by core/train/jobs.py's JobManager.

    runs/<id>/config.json, status.json, metrics.jsonl, best.pt, last.pt

`import_legacy` copies each such folder that the database does not know into
it, once: its files stay where they are (the run's folder is the same). The
imported runs belong to LEGACY_OWNER, a visitor nobody is: an admin controls
them (resume, delete), and under the default visibility (show_others) every
visitor sees them read-only.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Iterable

from core.runs.state import RunState
from core.runs.store import STEP_FIELDS, RunRecord, RunStore

LEGACY_OWNER = "legacy"
INTERRUPTED = "interrupted: the app stopped while this run was queued or training"  # as JobManager


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_events(path: Path) -> tuple[list[dict], list[dict]]:
    """(steps, epochs) of a metrics.jsonl; lines cut short by a crash are skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return [], []
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return split_events(events)


def split_events(events: Iterable[object]) -> tuple[list[dict], list[dict]]:
    """(steps, epochs) of the trainer's events as dicts (`asdict(event)`, a metrics.jsonl
    line), in the shapes the run store keeps; anything else is skipped."""
    steps, epochs = [], []
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("kind") == "step" and all(k in event for k in STEP_FIELDS):
            steps.append(event)
        elif event.get("kind") == "epoch" and "epoch" in event and "step" in event:
            epochs.append({k: v for k, v in event.items() if k != "kind"})  # as the worker stores them
    return steps, epochs


def _created(status: dict, folder: Path) -> float:
    try:
        return dt.datetime.fromisoformat(status["created"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return (folder / "status.json").stat().st_mtime


def legacy_record(folder: Path) -> tuple[RunRecord, list[dict], list[dict]] | None:
    """A JobManager run folder as a record and its metrics; None if it is not one."""
    config, status = _read_json(folder / "config.json"), _read_json(folder / "status.json")
    if config is None or status is None:
        return None
    steps, epochs = read_events(folder / "metrics.jsonl")
    record = run_record(folder, LEGACY_OWNER, _created(status, folder), config, status,
                        steps, epochs)
    return record, steps, epochs


def run_record(folder: Path, owner: str, created: float, config: dict, status: dict,
               steps: list[dict], epochs: list[dict], executor: str = "local") -> RunRecord:
    """A run that trained outside the run system, as a record of the store: `status` is
    JobManager's status.json (state, error, started_at, finished_at, total_steps, device,
    test, result). A run it left queued or training comes back stopped (interrupted)."""
    try:
        state = RunState(status.get("state"))
        error = status.get("error")
    except ValueError:
        state, error = RunState.FAILED, f"unknown state {status.get('state')!r} in status.json"
    if state.active:
        state, error = RunState.CANCELLED, INTERRUPTED
    last_step = max([s["step"] for s in steps] + [e["step"] for e in epochs] + [0])
    return RunRecord(
        id=folder.name, owner=owner, created=created, config=config,
        state=state, run_dir=str(folder), error=error, started_at=status.get("started_at"),
        finished_at=status.get("finished_at"), total_steps=int(status.get("total_steps") or 0),
        step=last_step, executor=executor, device=status.get("device"),
        test=status.get("test"), result=status.get("result"))


def import_legacy(store: RunStore) -> list[str]:
    """Import every legacy run folder the store does not know yet; the ids imported.

    Idempotent, and cheap when there is nothing new: one SELECT of the known ids,
    a listing of the runs folder, and a stat of each unknown folder's status.json."""
    known = store.known_ids()
    imported = []
    for folder in sorted(store.runs_dir.iterdir()):
        if folder.name in known or not (folder / "status.json").is_file():
            continue  # known, or not a run of JobManager's (a stat, no read)
        found = legacy_record(folder)
        if found is not None and store.insert_imported(*found):
            imported.append(folder.name)
    return imported
