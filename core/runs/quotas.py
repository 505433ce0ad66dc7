"""What a visitor keeps on disk, and the storage limits a new run or upload must pass.

A visitor's bytes are their runs' folders plus their per-visitor folders under the
runs folder (uploaded checkpoints today). Something new a visitor keeps in a folder
of their own (a personal handwriting set) joins the quota by adding its folder rule
to VISITOR_FOLDERS: `(runs_dir, visitor_id) -> Path`.

The checks raise LimitReached with a message that says what to do; nothing is kept.
`Quotas` is how the web asks (core/runs/api.py holds one as `service.quotas`): a run's
limits, checked in the transaction that queues it, a sweep's, an upload's, a kept drawing's.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.data import handwriting
from core.machine.files import folder_bytes
from core.networks.spec import SpecError, check as check_spec
from core.runs.database import RunDatabase, RunRecord
from core.runs.retention import Prunable, prune_plan
from core.server.settings import RunSettings
from core.server.uploads import visitor_folder
from core.server.visitors import Viewer
from core.train.config import TrainConfig
from core.train.cost import estimate_minutes

MB = 1024 * 1024
log = logging.getLogger("mnist_studio.runs")
UPLOAD_GLOB = "*.pt"


class LimitReached(RuntimeError):
    """A submit or upload refused by a fair-use limit; the message says which and why."""


# Per-visitor folders under the runs folder whose bytes count against the visitor's quota,
# by name (the name is how the usage line labels them).
VISITOR_FOLDERS: dict[str, Callable[[Path, str], Path]] = {
    "uploads": visitor_folder, "handwriting": handwriting.visitor_folder}


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


def visitor_usage(store: RunDatabase, visitor_id: str, settings: RunSettings) -> Usage:
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


def check_address_uploads(store: RunDatabase, address: str | None, settings: RunSettings) -> None:
    """Uploads kept by every visitor last seen from one client address."""
    cap = settings.max_uploads_per_address
    if not cap or not address:
        return
    kept = sum(upload_count(store.runs_dir, v) for v in store.visitors.at(address))
    if kept >= cap:
        raise LimitReached(
            f"Visitors from your network address keep {kept} uploaded checkpoints, the most "
            f"this server allows for one address is {cap}.")


class Quotas:
    """The limits of one runs folder, as the web asks them; each check raises LimitReached."""

    def __init__(self, db: RunDatabase, settings: RunSettings) -> None:
        self.db, self.settings = db, settings
        self.runs_dir = db.runs_dir

    def estimate(self, cfg: TrainConfig) -> float:
        """Estimated minutes of training on the executing device."""
        return estimate_minutes(cfg, self.settings)

    def check_model(self, layers: str, minutes: float | None, what: str = "This run") -> None:
        """A run's own limits: its model's size and its estimated minutes."""
        s = self.settings
        if layers:
            try:
                s.model_bounds.check(check_spec(layers))
            except SpecError as err:
                raise LimitReached(f"This model is too large for this server: {err}.") from None
        if minutes is not None and minutes > s.max_run_minutes:
            raise LimitReached(
                f"{what} is estimated at {minutes:.1f} minutes of training; "
                f"the limit on this server is {s.max_run_minutes:g} minutes per run. "
                "Use fewer epochs or a smaller model.")

    def check_run(self, db: RunDatabase, record: RunRecord) -> None:
        """Everything a new run must pass, read in the transaction that queues it (`db`)."""
        s = self.settings
        layers = record.config.get("layers") if isinstance(record.config, dict) else ""
        self.check_model(layers, record.estimate_minutes)
        mine = db.active_count(record.owner)
        if mine >= s.max_active_per_visitor:
            raise LimitReached(
                f"You already have {mine} runs queued or training; the limit is "
                f"{s.max_active_per_visitor} per visitor. Wait for one to finish, or stop one.")
        if s.max_active_per_address and record.address:
            here = db.active_at(record.address)
            if here >= s.max_active_per_address:
                raise LimitReached(
                    f"{here} runs from your network address are queued or training; the limit "
                    f"is {s.max_active_per_address} per address. Wait for one to finish.")
        queued = len(db.queue())
        if queued >= s.max_queue:
            raise LimitReached(f"The server's queue is full ({queued} runs waiting, the limit is "
                               f"{s.max_queue}). Please try again in a few minutes.")
        check_disk(self.runs_dir, s, "runs")
        check_stored(visitor_usage(db, record.owner, s), 0, "run")

    def check_trial(self, cfg: TrainConfig) -> None:
        """A sweep's trial must pass the per-run limits on its own."""
        self.check_model(cfg.layers, self.estimate(cfg), what="A trial of this sweep")

    def check_sweep(self, db: RunDatabase, owner: str) -> None:
        """A new sweep: the visitor's running sweeps and the disk floor."""
        cap = self.settings.max_active_sweeps
        mine = len(db.sweeps.list(owner=owner, state="running"))
        if mine >= cap:
            raise LimitReached(f"You already have {mine} sweep{'s' if mine > 1 else ''} running; "
                               f"the limit is {cap} per visitor. Wait for it to finish, or "
                               "stop it.")
        check_disk(self.runs_dir, self.settings, "runs")

    def check_upload(self, viewer: Viewer, size: int) -> None:
        """Raises LimitReached if the viewer may not keep an upload of `size` bytes."""
        check_disk(self.runs_dir, self.settings, "uploads")
        if viewer.admin:
            return
        usage = self.usage(viewer)
        check_upload_count(usage)
        check_stored(usage, size, "upload")
        check_address_uploads(self.db, viewer.address, self.settings)

    def check_keep(self, viewer: Viewer, size: int, what: str) -> None:
        """Raises LimitReached if the viewer may not keep `size` more bytes of `what`
        (a labelled drawing of their handwriting set): the disk floor and their quota."""
        check_disk(self.runs_dir, self.settings, what)
        if not viewer.admin:
            check_stored(self.usage(viewer), size, what)

    def usage(self, viewer: Viewer) -> Usage:
        """What the viewer keeps on this server, against the limits."""
        return visitor_usage(self.db, viewer.id, self.settings)

    def prunable(self, viewer: Viewer) -> list[Prunable]:
        """The viewer's runs that retention removes at its next pass."""
        return prune_plan(self.db, self.settings, owner=viewer.id)
