"""Checkpoints people upload: validated, stored per visitor, offered like any other model.

A file is accepted only if core.networks.checkpoints.load_checkpoint takes it (weights_only
load, a known architecture and dataset, every weight the right shape); it is then
kept under <runs folder>/.uploads/<visitor>/ with its digest in the name, so the
app's model cache and evaluation cache treat it like a shipped file.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

from core.networks.catalog import UPLOAD, ModelEntry
from core.networks.checkpoints import CheckpointError, load_checkpoint
from core.machine.files import atomic_write

UPLOADS = ".uploads"  # hidden: the runs folder's listing of runs never sees it
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # the largest shipped model is ~4 MB
SUFFIXES = (".pt", ".pth")  # what torch.save's files are called


def visitor_folder(runs_dir: str | os.PathLike, viewer_id: str) -> Path:
    """One folder per visitor, named by a hash: an id may hold '@' or '/'."""
    return Path(runs_dir) / UPLOADS / hashlib.sha1(viewer_id.encode()).hexdigest()[:16]


def _safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:40]
    return stem or "model"


def accept_upload(raw: bytes, name: str, folder: str | os.PathLike) -> ModelEntry:
    """Validate an uploaded checkpoint and store it; raises CheckpointError saying why not."""
    if Path(name).suffix.lower() not in SUFFIXES:
        raise CheckpointError(f"{name} is not a checkpoint: choose a .pt or .pth file written "
                              "by MNIST Studio")
    if not raw:
        raise CheckpointError(f"{name} is empty")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise CheckpointError(f"{name} is {len(raw) / 2**20:.0f} MB; checkpoints up to "
                              f"{MAX_UPLOAD_BYTES // 2**20} MB are accepted")
    try:
        ckpt = load_checkpoint(io.BytesIO(raw))
    except CheckpointError as err:
        raise CheckpointError(f"{name}: {err}") from None
    digest = hashlib.sha1(raw).hexdigest()
    path = Path(folder) / f"{_safe_stem(name)}-{digest[:12]}.pt"
    if not path.is_file():
        atomic_write(path, raw)
    meta = ckpt.meta
    test_accuracy = meta.metrics.get("test_accuracy") if isinstance(meta.metrics, dict) else None
    return ModelEntry(key=f"{UPLOAD}:{digest}", source=UPLOAD, dataset=meta.dataset,
                      architecture=meta.architecture, path=path,
                      test_accuracy=test_accuracy if isinstance(test_accuracy, float) else None,
                      created=meta.created, details={"file_name": name})
