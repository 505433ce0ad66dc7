"""What a visitor keeps on disk, and the storage limits a new run or upload must pass.

A visitor's bytes are their runs' folders plus their per-visitor folders under the
runs folder (uploaded checkpoints today). Something new a visitor keeps in a folder
of their own (a personal handwriting set) joins the quota by adding its folder rule
to VISITOR_FOLDERS: `(runs_dir, visitor_id) -> Path`.

The checks raise LimitReached with a message that says what to do; nothing is kept.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.runs.store import RunStore
from core.settings import RunSettings
from core import handwriting
from core.uploads import visitor_folder

MB = 1024 * 1024
log = logging.getLogger("mnist_studio.runs")
UPLOAD_GLOB = "*.pt"


class LimitReached(RuntimeError):
    """A submit or upload refused by a fair-use limit; the message says which and why."""


# Per-visitor folders under the runs folder whose bytes count against the visitor's quota,
# by name (the name is how the usage line labels them).
VISITOR_FOLDERS: dict[str, Callable[[Path, str], Path]] = {
    "uploads": visitor_folder, "handwriting": handwriting.visitor_folder}


def folder_bytes(path: str | os.PathLike) -> int:
    """Bytes of the files under a folder (0 if it is missing); links are not followed."""
    total = 0
    try:
        entries = list(os.scandir(path))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                total += folder_bytes(entry.path)
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:  # removed meanwhile
            continue
    return total


@dataclass
class Usage:
    """One visitor's stored bytes, against the limits."""
    run_bytes: int = 0
    runs: int = 0
    uploads: int = 0
    folder_bytes: dict[str, int] = field(default_factory=dict)  # VISITOR_FOLDERS' bytes by name
    max_bytes: int = 0  # 0: no cap
    max_uploads: int = 0  # 0: no cap

    @property
    def total_bytes(self) -> int:
        return self.run_bytes + sum(self.folder_bytes.values())

    @property
    def text(self) -> str:
        """E.g. '12.3 MB of 2,000 MB: 4 runs 11.1 MB, uploads 1.2 MB (2 of 20 checkpoints)'."""
        cap = f" of {self.max_bytes / MB:,.0f} MB" if self.max_bytes else ""
        parts = [f"{self.runs} run{'s' if self.runs != 1 else ''} {_mb(self.run_bytes)}"]
        parts += [f"{name} {_mb(n)}" for name, n in self.folder_bytes.items()]
        uploads = f"{self.uploads}" + (f" of {self.max_uploads}" if self.max_uploads else "")
        return f"{_mb(self.total_bytes)}{cap}: {', '.join(parts)} ({uploads} uploaded checkpoints)"


def _mb(n: int) -> str:
    return f"{n / MB:,.1f} MB"


def upload_count(runs_dir: Path, visitor_id: str) -> int:
    folder = visitor_folder(runs_dir, visitor_id)
    return sum(1 for _ in folder.glob(UPLOAD_GLOB)) if folder.is_dir() else 0


def visitor_usage(store: RunStore, visitor_id: str, settings: RunSettings) -> Usage:
    """Bytes of the visitor's runs (their folders) and per-visitor folders, and uploads."""
    runs = store.list(owner=visitor_id, limit=1_000_000)
    return Usage(run_bytes=sum(folder_bytes(r.run_dir) for r in runs), runs=len(runs),
                 uploads=upload_count(store.runs_dir, visitor_id),
                 folder_bytes={name: folder_bytes(rule(store.runs_dir, visitor_id))
                               for name, rule in VISITOR_FOLDERS.items()},
                 max_bytes=int(settings.max_stored_mb * MB),
                 max_uploads=settings.max_uploads_per_visitor)


def free_bytes(path: str | os.PathLike) -> int:
    return shutil.disk_usage(path).free


def check_disk(runs_dir: Path, settings: RunSettings, what: str) -> None:
    """The server-wide floor of free disk: below it, nothing new is stored."""
    if not settings.min_free_mb:
        return
    free = free_bytes(runs_dir)
    if free < settings.min_free_mb * MB:
        log.warning("disk nearly full: %.0f MB free on %s, below min_free_mb %.0f; new %s refused",
                    free / MB, runs_dir, settings.min_free_mb, what)
        raise LimitReached(
            f"The server's disk is nearly full ({free / MB:,.0f} MB free, below its "
            f"{settings.min_free_mb:,.0f} MB floor), so no new {what} can be stored. "
            "Please try again later; the server's admin has been told in its log.")


def check_stored(usage: Usage, adding: int, what: str) -> None:
    """The visitor's byte quota, with `adding` more bytes (0 for a run: its size is not
    known before it trains, so a run is refused once the quota is used up)."""
    if usage.max_bytes and usage.total_bytes + adding > usage.max_bytes - (0 if adding else 1):
        raise LimitReached(
            f"You keep {_mb(usage.total_bytes)} on this server, and a visitor may keep "
            f"{usage.max_bytes / MB:,.0f} MB, so this {what} cannot be stored. Delete runs "
            "you no longer need (Train page, Delete) and try again.")


def check_upload_count(usage: Usage) -> None:
    if usage.max_uploads and usage.uploads >= usage.max_uploads:
        raise LimitReached(
            f"You have uploaded {usage.uploads} checkpoints, the most a visitor may keep "
            f"here is {usage.max_uploads}.")


def check_address_uploads(store: RunStore, address: str | None, settings: RunSettings) -> None:
    """Uploads kept by every visitor last seen from one client address."""
    cap = settings.max_uploads_per_address
    if not cap or not address:
        return
    kept = sum(upload_count(store.runs_dir, v) for v in store.visitors_at(address))
    if kept >= cap:
        raise LimitReached(
            f"Visitors from your network address keep {kept} uploaded checkpoints, the most "
            f"this server allows for one address is {cap}.")
