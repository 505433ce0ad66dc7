"""Which models can be used: shipped checkpoints in weights/ plus finished training runs.

The app lists models on every rerun, so listing never opens a checkpoint:
shipped models are described by weights/manifest.json (or, without one, by
their file names `{dataset}-{architecture}.pt`), and runs by the run service's
snapshots. Loading happens later, once, in the app's cache.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from core.data import DATASETS
from core.evaluate.percent import percent_text
from core.networks.models import ARCHITECTURES, build_model, count_parameters
from core.machine.paths import configured_dir

ENV_WEIGHTS = "MNIST_STUDIO_WEIGHTS"
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
MANIFEST = "manifest.json"

SHIPPED, RUN, UPLOAD = "shipped", "run", "upload"


@dataclass(frozen=True)
class ModelEntry:
    """One selectable model. `key` is stable across reruns and sessions."""
    key: str  # "shipped:mnist-cnn.pt", "run:<run id>" or "upload:<sha1 of the file>"
    source: str  # SHIPPED, RUN or UPLOAD (core.server.uploads: a visitor's own checkpoint)
    dataset: str
    architecture: str
    path: Path
    test_accuracy: float | None = None
    val_accuracy: float | None = None
    created: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        """What a person reads in a select box: a run that did not finish, diverged or
        barely learned says so."""
        acc = f" · {percent_text(self.test_accuracy)}" if self.test_accuracy is not None else ""
        if self.source == SHIPPED:
            return f"{self.architecture} (shipped){acc}"
        if self.source == UPLOAD:
            return f"{self.architecture} (uploaded: {self.details.get('file_name', 'file')}){acc}"
        state = self.details.get("state")
        mine = "your handwriting, " if self.details.get("finetune") else ""
        flags = "" if state == "finished" else (
            " · diverged" if state == "diverged" else " · stopped")
        flags += " · near chance" if self.details.get("near_chance") else ""
        return (f"{self.architecture} ({mine}run {run_stamp(self.key.split(':', 1)[1])})"
                f"{acc}{flags}")


def run_stamp(run_id: str) -> str:
    """'20261122-081155-mnist-cnn-c571' -> '11-22 08:11:55 c571': short, and unique
    even for two runs started in the same second (the random suffix)."""
    parts = run_id.split("-")
    if len(parts) >= 3 and len(parts[0]) == 8 and len(parts[1]) == 6 and parts[0].isdigit():
        day, time = parts[0], parts[1]
        return f"{day[4:6]}-{day[6:8]} {time[:2]}:{time[2:4]}:{time[4:]} {parts[-1]}"
    return run_id


@dataclass(frozen=True)
class ArchitectureInfo:
    name: str
    description: str
    parameters: int
    reference: bool


def weights_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The argument, else $MNIST_STUDIO_WEIGHTS, else <repo>/weights."""
    return configured_dir(explicit, ENV_WEIGHTS, DEFAULT_WEIGHTS_DIR)


def read_manifest(folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest as a dict; {} when it is missing or unreadable (never raises)."""
    path = weights_dir(folder) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _parse_file_name(name: str) -> tuple[str, str] | None:
    """'fashion-bn-cnn.pt' -> ('fashion', 'bn-cnn'); None for names that do not fit."""
    stem = name[:-3] if name.endswith(".pt") else name
    dataset, _, architecture = stem.partition("-")
    if dataset in DATASETS and architecture in ARCHITECTURES:
        return dataset, architecture
    return None


def shipped_models(folder: str | os.PathLike | None = None) -> list[ModelEntry]:
    """Checkpoints in the weights folder, described by the manifest when there is one.

    Files the manifest names but that are missing are skipped; .pt files the
    manifest does not list are still offered when their name says what they are.
    """
    root = weights_dir(folder)
    if not root.is_dir():
        return []
    manifest = read_manifest(root)
    entries: dict[str, ModelEntry] = {}
    for item in manifest.get("checkpoints", []) or []:
        if not isinstance(item, dict) or not item.get("file"):
            continue
        path = root / str(item["file"])
        parsed = _parse_file_name(path.name)
        dataset = item.get("dataset") or (parsed[0] if parsed else None)
        architecture = item.get("architecture") or (parsed[1] if parsed else None)
        if not path.is_file() or dataset not in DATASETS or architecture not in ARCHITECTURES:
            continue
        entries[path.name] = ModelEntry(
            key=f"{SHIPPED}:{path.name}", source=SHIPPED, dataset=dataset,
            architecture=architecture, path=path,
            test_accuracy=_float_or_none(item.get("test_accuracy")),
            val_accuracy=_float_or_none(item.get("val_accuracy")),
            details={k: v for k, v in item.items() if k not in ("file", "dataset", "architecture")})
    for path in sorted(root.glob("*.pt")):
        parsed = _parse_file_name(path.name)
        if path.name in entries or parsed is None:
            continue
        entries[path.name] = ModelEntry(key=f"{SHIPPED}:{path.name}", source=SHIPPED,
                                        dataset=parsed[0], architecture=parsed[1], path=path)
    return sorted(entries.values(), key=lambda e: (e.dataset, -(e.test_accuracy or 0), e.key))


def run_models(runs: Iterable[Any]) -> list[ModelEntry]:
    """Usable models from run snapshots (finished runs and stopped ones with a best.pt).

    A run's best.pt is usable once the run is over (RunState.usable): a live run's
    is rewritten while it trains. Takes core.runs.snapshot.RunSnapshot, in the order
    given (newest first).
    """
    out = []
    for run in runs:
        best = run.best_checkpoint
        if not run.state.usable or best is None:  # a core.runs.state.RunState
            continue
        config, test, result = run.config, run.test, run.result
        out.append(ModelEntry(
            key=f"{RUN}:{run.id}", source=RUN, dataset=config.dataset,
            architecture=config.model, path=Path(best),
            test_accuracy=_float_or_none(test.accuracy if test else None),
            val_accuracy=_float_or_none(result.val_accuracy if result else None),
            created=run.created,
            details={"state": run.state, "near_chance": bool(result and result.near_chance),
                     "epochs": config.epochs,
                     "train_seconds": result.train_seconds if result else None,
                     "device": run.device,
                     # a fine-tune of the visitor's handwriting (core.runs.finetune)
                     "finetune": bool(getattr(run, "finetune", None))}))
    return out


def list_models(dataset: str | None = None, folder: str | os.PathLike | None = None,
                runs: Iterable[Any] = ()) -> list[ModelEntry]:
    """Shipped models first (best first), then runs (newest first); optionally one dataset."""
    entries = shipped_models(folder) + run_models(runs)
    return [e for e in entries if dataset is None or e.dataset == dataset]


def default_model(entries: list[ModelEntry], dataset: str,
                  folder: str | os.PathLike | None = None) -> ModelEntry | None:
    """The manifest's default for the dataset, else its most accurate shipped model, else
    the newest run; None when the dataset has no model at all."""
    mine = [e for e in entries if e.dataset == dataset]
    if not mine:
        return None
    wanted = (read_manifest(folder).get("default") or {}).get(dataset)
    for entry in mine:
        if entry.source == SHIPPED and entry.path.name == wanted:
            return entry
    return mine[0]  # list_models' order puts the best shipped model first


def find_model(entries: list[ModelEntry], key: str | None) -> ModelEntry | None:
    return next((e for e in entries if e.key == key), None)


@lru_cache(maxsize=None)
def architecture_infos() -> tuple[ArchitectureInfo, ...]:
    """Every architecture with its parameter count (built once per process)."""
    return tuple(ArchitectureInfo(a.name, a.description, count_parameters(build_model(a.name)),
                                  a.reference) for a in ARCHITECTURES.values())


def no_model_help(dataset: str) -> str:
    """What to tell a person when a dataset has no model yet."""
    return (f"No {DATASETS[dataset].title} model is available yet. Train one on the **Train** "
            f"page, or from a shell: `python -m core.train --dataset {dataset} --model cnn "
            f"--out weights/{dataset}-cnn.pt` (models in `weights/`, or in the folder named by "
            f"${ENV_WEIGHTS}, are picked up automatically).")
