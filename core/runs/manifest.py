"""run.json: a run's record kept in its own folder, so a damaged database can be rebuilt.

The store writes it after every change of the run's row (core/runs/database.py,
`_changed`): the record's columns and its epoch metrics, atomically. Per-step
metrics are too many to rewrite each time; a rebuild reads them back from the
run's TensorBoard files (loss and learning rate; core/runs/recovery.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.machine.files import atomic_write

MANIFEST = "run.json"
VERSION = 1
NOT_KEPT = ("epochs_done",)  # counted from the epochs, not a column


def write_manifest(record: Any, epochs: list[dict]) -> Path | None:
    """Into the run's folder once it exists (the recorder makes it when the run is placed):
    a run that never started has no files to rebuild it from, nor needs any."""
    if not Path(record.run_dir).is_dir():
        return None
    data = {k: v for k, v in vars(record).items() if k not in NOT_KEPT}
    data["state"] = str(record.state.value)
    data["version"], data["epochs"] = VERSION, epochs
    return atomic_write(Path(record.run_dir) / MANIFEST,
                        json.dumps(data, indent=1, sort_keys=True).encode())


def read_manifest(folder: Path) -> tuple[dict, list[dict]] | None:
    """(record's columns, epochs) from a run folder's run.json; None if it has none or it
    is unreadable. The columns' run_dir is the folder where it was found (a runs folder
    may have moved); core/runs/recovery.py makes them a record."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
        epochs = [e for e in data.pop("epochs", []) if isinstance(e, dict)]
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(data, dict) or data.get("id") != folder.name:
        return None
    data.pop("version", None)
    data["run_dir"] = str(folder)
    return data, epochs
