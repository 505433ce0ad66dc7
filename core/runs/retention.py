"""Retention: which runs are removed to keep the disk bounded, and removing them.

The rule, per owner (settings `keep_runs`, `keep_days`): a run is kept while it is
one of its owner's `keep_runs` newest, or newer than `keep_days` days; a run that
is neither is pruned (its record and its folder). Never pruned, whatever its age:
a run queued, training, stopping or still being scored (a Resume makes a run
queued again, in the same transaction that would refuse its deletion); a run an
admin pinned; anything outside the runs folder (the shipped models in weights/
are never a run's folder). With both settings 0, nothing is pruned.

Applied by the scheduler every `prune_minutes` (core/runs/scheduler.py) and by
`python -m core.runs prune --dry-run|--apply` (core/runs/__main__.py).
"""
from __future__ import annotations

import logging
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from core.machine.files import folder_bytes
from core.runs.database import RunNotFound, RunRecord, RunDatabase, TransitionRefused
from core.server.settings import RunSettings

DAY = 86400.0
log = logging.getLogger("mnist_studio.runs")


@dataclass(frozen=True)
class Prunable:
    run_id: str
    owner: str
    created: float
    run_dir: str
    bytes: int

    def age_days(self, now: float | None = None) -> float:
        return ((now or time.time()) - self.created) / DAY


def rule_text(settings: RunSettings) -> str:
    """The rule in words, for the Train page and the prune command."""
    if not settings.retention:
        return "Runs are kept until their owner deletes them."
    keep = []
    if settings.keep_runs:
        keep.append(f"each visitor's {settings.keep_runs} newest runs")
    if settings.keep_days:
        keep.append(f"every run newer than {settings.keep_days:g} days")
    return (f"Kept: {' and '.join(keep)}, runs queued or training, and runs an admin "
            "pinned. Older runs are removed with their checkpoints and curves.")


def _inside(folder: str, root: Path) -> bool:
    try:
        return Path(folder).resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _kept(record: RunRecord, index: int, settings: RunSettings, now: float, root: Path) -> bool:
    if settings.keep_runs and index < settings.keep_runs:
        return True
    if settings.keep_days and now - record.created < settings.keep_days * DAY:
        return True
    return (record.state.active or record.phase is not None or record.pinned
            or not _inside(record.run_dir, root) or Path(record.run_dir).resolve() == root.resolve())


def prune_plan(store: RunDatabase, settings: RunSettings, owner: str | None = None,
               now: float | None = None) -> list[Prunable]:
    """The runs the rule removes now (of one owner, or everyone's), oldest first."""
    if not settings.retention:
        return []
    now = time.time() if now is None else now
    by_owner: dict[str, list[RunRecord]] = defaultdict(list)
    for record in store.list(owner=owner, limit=10_000_000):  # newest first
        by_owner[record.owner].append(record)
    plan = [Prunable(r.id, r.owner, r.created, r.run_dir, folder_bytes(r.run_dir))
            for runs in by_owner.values() for i, r in enumerate(runs)
            if not _kept(r, i, settings, now, store.runs_dir)]
    return sorted(plan, key=lambda p: p.created)


def apply_prune(store: RunDatabase, plan: list[Prunable]) -> list[Prunable]:
    """Remove the planned runs; those removed. A run that became active or pinned
    since the plan is refused by the store's transaction and kept."""
    removed = []
    for item in plan:
        try:
            store.delete(item.run_id, keep_pinned=True)
        except (RunNotFound, TransitionRefused) as err:
            log.info("retention kept %s: %s", item.run_id, err)
            continue
        if _inside(item.run_dir, store.runs_dir):
            shutil.rmtree(item.run_dir, ignore_errors=True)
        removed.append(item)
    if removed:
        log.info("retention removed %d run(s), %.1f MB", len(removed),
                 sum(p.bytes for p in removed) / 2**20)
    return removed


def prune(store: RunDatabase, settings: RunSettings) -> list[Prunable]:
    """Plan and apply: what the scheduler does every prune_minutes."""
    return apply_prune(store, prune_plan(store, settings))
