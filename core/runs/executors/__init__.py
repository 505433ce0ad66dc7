"""Executors: where the scheduler's claimed runs train. There are two:

    processes.py  one worker process per run on this machine (the default)
    ray.py        one Ray task per run on a Ray cluster (executor = "ray", or RAY_ADDRESS)

The scheduler (core/runs/scheduler.py) claims queued runs from the store and hands
each to its one executor, which it polls about 10 times a second. An executor
must: say how many more runs it can take now (`free_slots`); train each run it
is given, with core.runs.job.execute, recording through a RunRecorder into
the same store and run folder as any other executor; pass a Stop on
(store.stop_requested) so the run ends after its current step, resumably; mark
a run whose process or task died without recording its end
(store.fail_unfinished), in `poll`; and on `shutdown` stop its runs
resumably, as a Stop does.

A third (a batch queue, say) is a module here with a class that has the
`Executor` methods below, its name in core.server.settings.EXECUTORS, and a branch in
`make_executor` that picks it from the settings.
"""
from __future__ import annotations

from typing import Protocol

from core.runs.database import RunRecord, RunDatabase
from core.server.settings import RunSettings


class Executor(Protocol):
    name: str

    def free_slots(self) -> int: ...
    def start(self, record: RunRecord) -> None: ...
    def poll(self) -> None: ...
    def shutdown(self) -> None: ...


def make_executor(store: RunDatabase, settings: RunSettings) -> Executor:
    if settings.uses_ray:  # only the chosen executor's module: Ray's (and Ray) for a cluster
        from core.runs.executors.ray import RayExecutor  # see above
        return RayExecutor(store, settings)
    from core.runs.executors.processes import LocalExecutor  # as above
    return LocalExecutor(store, settings.worker_count())
