"""Sweeps as the web asks for them: start, watch, list, stop (`service.sweeps`).

A sweep is its owner's (and the admin's) alone: anyone else gets "not found".
Its trials are queued by the scheduler (core/runs/sweeps.py, `tick`), `parallel`
at a time; here a sweep is only checked, recorded and stopped.
"""
from __future__ import annotations

import shutil
import time

from core.runs import sweeps
from core.runs.database import RunDatabase, SweepNotFound, SweepRow, TransitionRefused
from core.runs.quotas import Quotas
from core.runs.scheduler import SchedulerProcess
from core.runs.sweeps import SweepSpec, SweepView
from core.server.settings import RunSettings
from core.server.visitors import Viewer, can_control
from core.train.config import TrainConfig


class SweepDesk:
    def __init__(self, db: RunDatabase, settings: RunSettings, quotas: Quotas,
                 scheduler: SchedulerProcess) -> None:
        self.db, self.settings, self.quotas, self.scheduler = db, settings, quotas, scheduler
        self.runs_dir = db.runs_dir

    def minutes(self, configs: list[TrainConfig], parallel: int = 1) -> float:
        """Estimated minutes for a sweep's trials: their sum, over the trials run at once."""
        at_once = max(1, min(parallel, self.settings.worker_count()))
        return sum(self.quotas.estimate(c) for c in configs) / at_once

    def start(self, spec: SweepSpec, viewer: Viewer) -> SweepView:
        """Check every trial and the sweep limits, then start the sweep. Raises SweepError
        or LimitReached, with nothing started."""
        for cfg in spec.check(self.settings):
            if not viewer.admin:  # each trial must pass the per-run limits on its own
                self.quotas.check_trial(cfg)
        row = SweepRow(id=sweeps.new_sweep_id(spec), owner=viewer.id, created=time.time(),
                       spec=spec.to_json(), address=viewer.address)
        sweeps.create_study(self.runs_dir, row.id, spec)
        check = None if viewer.admin else (lambda db, new: self.quotas.check_sweep(db, new.owner))
        try:
            self.db.sweeps.insert(row, check=check)
        except BaseException:
            shutil.rmtree(sweeps.sweep_dir(self.runs_dir, row.id), ignore_errors=True)
            raise
        sweeps.write_record(self.runs_dir, row)
        self.scheduler.ensure()
        return sweeps.view(self.db, row, mine=True)

    def _row(self, sweep_id: str, viewer: Viewer) -> SweepRow:
        row = self.db.sweeps.get(sweep_id)
        if not can_control(viewer, row.owner):
            raise SweepNotFound(sweep_id)
        return row

    def get(self, sweep_id: str, viewer: Viewer) -> SweepView:
        return sweeps.view(self.db, self._row(sweep_id, viewer), mine=True)

    def list(self, viewer: Viewer) -> list[SweepView]:
        """The viewer's sweeps (an admin's: everyone's), newest first."""
        rows = self.db.sweeps.list(owner=None if viewer.admin else viewer.id)
        return [sweeps.view(self.db, row, mine=True) for row in rows]

    def stop(self, sweep_id: str, viewer: Viewer) -> SweepView:
        """No more trials; its active ones are stopped (each keeps its best checkpoint)."""
        row = self._row(sweep_id, viewer)
        self.db.sweeps.end(row.id, "stopped")
        for record in self.db.sweeps.runs(row.id):
            if record.state.active:
                try:
                    self.db.request_stop(record.id)
                except TransitionRefused:
                    pass  # ended meanwhile
        return self.get(sweep_id, viewer)
