"""`python -m core.train --register`: a run trained from a shell, listed in the app.

The command line trains outside the run system. With --register, its finished
(or stopped) run is recorded afterwards in the app's run database: one record, its step and
epoch metrics in the shapes the workers record, inserted in one transaction;
its checkpoints and test predictions are copied into runs/<id>/.

Such runs belong to CLI_OWNER, a visitor nobody is: an admin controls them
(use, resume, delete), and under the default visibility (show_others) every
visitor sees them read-only.
"""
from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterable

from core.evaluate.metrics import EvalResult
from core.evaluate.predictions import predictions_path
from core.machine.paths import runs_dir as runs_folder
from core.runs.database import STEP_FIELDS, RunRecord, RunDatabase, new_run_id
from core.runs.state import RunState
from core.train.cli import EventLog
from core.train.events import TrainResult
from core.train.summary import RunSummary

CLI_OWNER = "cli"
EXECUTOR = "cli"  # where it trained, as the run's page says it ("Trains on cli")


def register_run(result: TrainResult, test: EvalResult, summary: RunSummary, best: Path,
                 last: Path, log: EventLog, runs_dir: str | os.PathLike | None = None) -> str:
    """Record a run the command line trained in the app's run store; its new id.

    best.pt (and last.pt if the run was stopped, so it can be resumed in the app) and
    the test predictions beside best.pt are copied into the run's folder. A failure
    leaves no half-made run: the folder is removed again and the error raised.
    """
    root = runs_folder(runs_dir)
    store = RunDatabase(root)  # creates the folder and the database if need be
    cfg = result.config
    run_id = new_run_id(cfg)
    folder = root / run_id
    folder.mkdir(parents=True)  # exists already: raised before anything of it is touched
    try:
        shutil.copy2(best, folder / "best.pt")  # the same bytes: its predictions' key holds
        if predictions_path(best).is_file():
            predictions_path(folder / "best.pt").parent.mkdir()
            shutil.copy2(predictions_path(best), predictions_path(folder / "best.pt"))
        if result.stopped and Path(last).is_file():
            shutil.copy2(last, folder / "last.pt")
        steps, _ = split_events(log.events)
        _, epochs = split_events(asdict(h) for h in result.history)  # a resumed run's too
        record = RunRecord(
            id=run_id, owner=CLI_OWNER, created=log.started_at, config=asdict(cfg),
            state=RunState.CANCELLED if result.stopped else RunState.FINISHED,
            run_dir=str(folder), started_at=log.started_at, finished_at=time.time(),
            total_steps=_total_steps(log, result),
            step=max([s["step"] for s in steps] + [e["step"] for e in epochs] + [0]),
            executor=EXECUTOR, node=socket.gethostname(), device=result.device,
            test=test.summary().to_json(),
            result={**summary.to_json(), "checkpoint": str(folder / "best.pt"), "run": run_id})
        if not store.insert_imported(record, steps, epochs):
            raise RuntimeError(f"run id {run_id} is already taken")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return run_id


def split_events(events: Iterable[object]) -> tuple[list[dict], list[dict]]:
    """(steps, epochs) of the trainer's events as dicts (`asdict(event)`, a metrics.jsonl
    line), in the shapes the run database keeps; anything else is skipped."""
    steps, epochs = [], []
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("kind") == "step" and all(k in event for k in STEP_FIELDS):
            steps.append(event)
        elif event.get("kind") == "epoch" and "epoch" in event and "step" in event:
            epochs.append({k: v for k, v in event.items() if k != "kind"})  # as the worker stores them
    return steps, epochs


def _total_steps(log: EventLog, result: TrainResult) -> int:
    totals = [e["total_steps"] for e in log.events if e.get("kind") == "step"]
    return totals[-1] if totals else result.steps

