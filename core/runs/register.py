"""`python -m core.train --register`: a run trained from a shell, listed in the app.

The command line trains outside the run system. With --register, its finished
(or stopped) run is recorded afterwards in the app's run store the way a
legacy run folder is imported (core/runs/legacy.py): one record, in the same
shapes, and its step and epoch metrics, inserted in one transaction; its
checkpoints and test predictions are copied into runs/<id>/.

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

from core.evaluate.metrics import EvalResult
from core.evaluate.predictions import predictions_path
from core.paths import runs_dir as runs_folder
from core.runs.legacy import run_record, split_events
from core.runs.store import RunStore
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
    from core.runs.service import new_run_id

    root = runs_folder(runs_dir)
    store = RunStore(root)  # creates the folder and the database if need be
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
        status = {  # JobManager's status.json, as core/runs/legacy.py reads it
            "state": "cancelled" if result.stopped else "finished", "error": None,
            "started_at": log.started_at, "finished_at": time.time(),
            "total_steps": _total_steps(log, result), "device": result.device,
            "test": test.summary().to_json(),
            "result": {**summary.to_json(), "checkpoint": str(folder / "best.pt"), "run": run_id}}
        record = run_record(folder, CLI_OWNER, log.started_at, asdict(cfg), status, steps,
                            epochs, executor=EXECUTOR)
        record.node = socket.gethostname()
        if not store.insert_imported(record, steps, epochs):
            raise RuntimeError(f"run id {run_id} is already taken")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return run_id


def _total_steps(log: EventLog, result: TrainResult) -> int:
    totals = [e["total_steps"] for e in log.events if e.get("kind") == "step"]
    return totals[-1] if totals else result.steps

