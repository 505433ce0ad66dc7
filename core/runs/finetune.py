"""Fine-tune runs from the app: a visitor's handwriting set, fine-tuned as an ordinary run.

The run is queued through the run service like any other (limits, ownership, the
Train page's list, live progress, Stop), with a `finetune` entry in its config
and a copy of the set in its folder (core/train/finetune.py says what the worker
does with them). The set's copy belongs to the run: deleting the run deletes it.
"""
from __future__ import annotations

from pathlib import Path

from core.data.imageset import ImageSet, npz_bytes
from core.runs.api import RunService
from core.runs.snapshot import RunSnapshot
from core.train.cost import estimate_minutes
from core.train.finetune import (SET_FILE, FinetuneOptions, base_model, check_set,
                                 estimate_samples, run_entry, train_config)
from core.server.visitors import Viewer


def submit_finetune(service: RunService, viewer: Viewer, imageset: ImageSet,
                    base_path: str | Path, base_name: str, dataset: str = "mnist",
                    options: FinetuneOptions | None = None,
                    request_id: str | None = None) -> RunSnapshot:
    """Queue a fine-tune of `base_path` on the set for the viewer.

    Raises FinetuneError (the set or the model will not do) or LimitReached, with
    nothing queued."""
    options = options or FinetuneOptions()
    ckpt = base_model(base_path, dataset)
    check_set(imageset.labels, options)
    cfg = train_config(ckpt, options)
    n_train, n_val = estimate_samples(len(imageset), options)
    return service.submit(
        cfg, viewer, request_id, extra={"finetune": run_entry(base_path, base_name, options)},
        files={SET_FILE: npz_bytes(imageset.images, imageset.labels)},
        estimate_minutes=estimate_minutes(cfg, service.settings, n_train, n_val))


def finetune_runs(service: RunService, viewer: Viewer) -> list[RunSnapshot]:
    """The viewer's own fine-tune runs, newest first."""
    return [r for r in service.list_runs(viewer, controlled=True) if r.finetune]
