"""Sweeps: one or two settings varied over values, times N seeds, each trial a normal run.

A SweepSpec is the Train form's settings (the base), the varied settings (each a
list of values or a log range) and the seeds. Every trial's TrainConfig is made
and checked when the sweep starts, so a bad value is refused before anything
is queued (core/runs/api.py, `start_sweep`).

Optuna does the search and the early stopping, in a study kept in the sweep's
folder (<runs>/sweeps/<id>/optuna.log, a JournalStorage file), so a restarted
runner goes on where it was. The grid is Optuna's GridSampler over the values
and seeds; its points are enqueued in the order the visitor wrote them, so
trials run in a predictable order. Optuna's MedianPruner reads each running
trial's validation accuracy per epoch (from the run store): a trial below the
median of the completed trials at the same epoch is stopped through the normal
stop path and marked pruned (the run's `pruned` column).

The scheduler process drives it (core/runs/scheduler.py calls `tick` about twice a
second): it queues a sweep's next trials while fewer than the sweep's `parallel`
are active and the server's queue has room, reports epochs, prunes, and marks
the sweep finished when every trial has ended.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.networks.models import CUSTOM
from core.runs.state import RunState
from core.machine.files import atomic_write
from core.runs.database import RunRecord, RunDatabase, StoreBusy, SweepNotFound, SweepRow, new_run_id
from core.server.settings import RunSettings
from core.networks.spec import SpecError, widths, with_width
from core.train.config import ConfigError, TrainConfig
from core.train.cost import estimate_minutes

log = logging.getLogger("mnist_studio.runs")

# Settings a sweep may vary: TrainConfig's numbers with a range (the seed has its own axis).
SWEEPABLE = ("lr", "batch_size", "epochs", "weight_decay", "label_smoothing", "erase")
# A custom model may also vary the width of one of its layers: "layer:3" is layer 3's
# channels or units (core.networks.spec.with_width).
LAYER = "layer:"


def layer_position(name: str) -> int | None:
    """3 for "layer:3"; None for a TrainConfig setting."""
    if name.startswith(LAYER) and name[len(LAYER):].isdigit():
        return int(name[len(LAYER):])
    return None
MAX_AXES = 2
MAX_SEEDS = 10
# MedianPruner: judged against 2 completed trials, from the end of the first epoch on.
STARTUP_TRIALS = 2
WARMUP_EPOCHS = 1
STUDY_FILE = "optuna.log"


class SweepError(ValueError):
    """The sweep cannot start as given; the message says why (nothing was queued)."""


@dataclass
class Axis:
    """One varied setting and its values, in the order they are tried."""
    name: str
    values: list[Any]
    log: bool = False  # made from a log range: charts use a log axis

    @classmethod
    def log_range(cls, name: str, low: float, high: float, count: int) -> "Axis":
        """`count` values from low to high, evenly spaced on a log scale (whole numbers
        for a whole-number setting, repeats dropped)."""
        if not (isinstance(count, int) and count >= 2):
            raise SweepError(f"a log range of {name} needs a count of 2 or more, got {count!r}")
        if not (low > 0 and high > low):
            raise SweepError(f"a log range of {name} needs 0 < low < high, got {low:g} to {high:g}")
        ratio = math.log(high / low) / (count - 1)
        values = [low * math.exp(ratio * i) for i in range(count)]
        whole = TrainConfig.types().get(name) is int or layer_position(name) is not None
        values = [round(v) if whole else float(f"{v:.4g}") for v in values]
        return cls(name, list(dict.fromkeys(values)), log=True)


def parse_values(text: str) -> list[float]:
    """'0.001, 0.003, 0.01' -> numbers; a word that is not a number is named."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            number = float(part)
        except ValueError:
            raise SweepError(f"{part!r} is not a number: write the values as numbers "
                             "separated by commas") from None
        values.append(int(number) if number.is_integer() and "." not in part and "e" not in
                      part.lower() else number)
    return values


@dataclass
class SweepSpec:
    base: dict  # a TrainConfig's fields: every setting the trials share
    axes: list[Axis]
    seeds: int = 1  # each grid point trained with seeds base seed, +1, ...
    parallel: int = 1  # trials of this sweep queued or training at once

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "SweepSpec":
        return cls(base=d["base"], axes=[Axis(**a) for a in d["axes"]], seeds=d["seeds"],
                   parallel=d.get("parallel", 1))

    def trials(self) -> list[dict]:
        """Every trial's varied values and seed, in the order they run (values as listed,
        seeds innermost)."""
        first_seed = int(self.base.get("seed", 0))
        grid = itertools.product(*[a.values for a in self.axes], range(self.seeds))
        return [{**{a.name: v for a, v in zip(self.axes, point)}, "seed": first_seed + point[-1]}
                for point in grid]

    def search_space(self) -> dict[str, list]:
        """Optuna's GridSampler's grid: each axis's values, and the seeds."""
        first_seed = int(self.base.get("seed", 0))
        return {**{a.name: list(a.values) for a in self.axes},
                "seed": [first_seed + i for i in range(self.seeds)]}

    def config(self, params: dict) -> TrainConfig:
        """One trial's settings; ConfigError if a value is out of its setting's range."""
        base = dict(self.base)
        for name, value in params.items():
            position = layer_position(name)
            if position is not None:
                try:
                    base["layers"] = with_width(base.get("layers") or "", position, int(value))
                except SpecError as err:
                    raise ConfigError({"layers": str(err)}) from None
        settings = {k: v for k, v in params.items() if layer_position(k) is None}
        return TrainConfig.from_values({**base, **settings})

    def check(self, settings: RunSettings) -> list[TrainConfig]:
        """Every trial's TrainConfig, or SweepError naming the first problem."""
        if not 1 <= len(self.axes) <= MAX_AXES:
            raise SweepError(f"a sweep varies 1 or 2 settings, got {len(self.axes)}")
        names = [a.name for a in self.axes]
        for name in names:
            position = layer_position(name)
            if position is not None:
                if self.base.get("model") != CUSTOM:
                    raise SweepError(f"{name}: only a custom model's layer widths can vary")
                if position not in dict(widths(self.base.get("layers") or "")):
                    raise SweepError(f"{name}: layer {position} of "
                                     f"{self.base.get('layers')} has no width to vary")
                continue
            if name not in SWEEPABLE:
                raise SweepError(f"cannot vary {name!r}: a sweep varies one of "
                                 + ", ".join(SWEEPABLE) + " (and a custom model's layer:N)")
        if len(set(names)) != len(names):
            raise SweepError(f"{names[0]} is varied twice: choose two different settings")
        for axis in self.axes:
            if not axis.values:
                raise SweepError(f"give at least one value of {axis.name}")
            if len(set(axis.values)) != len(axis.values):
                raise SweepError(f"a value of {axis.name} is listed twice")
        if not (isinstance(self.seeds, int) and 1 <= self.seeds <= MAX_SEEDS):
            raise SweepError(f"seeds must be a whole number between 1 and {MAX_SEEDS}, "
                             f"got {self.seeds!r}")
        count = len(self.trials())
        if count > settings.max_sweep_trials:
            shape = " x ".join([f"{len(a.values)} values" for a in self.axes]
                               + [f"{self.seeds} seed" + ("s" if self.seeds > 1 else "")])
            raise SweepError(f"this sweep has {count} trials ({shape}); the limit on this "
                             f"server is {settings.max_sweep_trials} per sweep")
        if not 1 <= self.parallel <= settings.max_sweep_parallel:
            raise SweepError(f"a sweep runs 1 to {settings.max_sweep_parallel} trials at once "
                             f"on this server, got {self.parallel}")
        configs = []
        for params in self.trials():
            try:
                configs.append(self.config(params))
            except ConfigError as err:
                shown = ", ".join(f"{k} = {v:g}" for k, v in params.items() if k != "seed")
                raise SweepError(f"the trial with {shown} is invalid: {err}") from None
        return configs


@dataclass
class Trial:
    """One trial as the sweep view reads it."""
    number: int
    params: dict
    state: str  # waiting, queued, training, finished, pruned, stopped, failed, diverged
    run_id: str | None = None
    val_accuracy: float | None = None  # best so far
    epochs_done: int = 0
    seconds: float | None = None  # training time so far (or in all)
    usable: bool = False  # over, with a best checkpoint: "Use the best" can pick it


@dataclass
class SweepView:
    id: str
    owner: str
    state: str  # running, finished, stopped
    spec: SweepSpec
    created: str
    trials: list[Trial] = field(default_factory=list)
    mine: bool = True

    @property
    def best(self) -> Trial | None:
        """The trial with the best validation accuracy among those not pruned."""
        scored = [t for t in self.trials if t.val_accuracy is not None and t.state != "pruned"]
        return max(scored, key=lambda t: t.val_accuracy, default=None)


# ------------------------------------------------------------------ the study

def sweep_dir(runs_dir: str | Path, sweep_id: str) -> Path:
    return Path(runs_dir) / "sweeps" / sweep_id


RECORD_FILE = "sweep.json"  # who started it and its spec: what rebuilds its row


def write_record(runs_dir: str | Path, row: SweepRow) -> None:
    """The sweep's own record in its folder, as run.json is a run's: a damaged database
    is rebuilt from the folders (core/runs/recovery.py), sweeps included."""
    record = {k: v for k, v in asdict(row).items() if k not in ("state", "finished_at")}
    atomic_write(sweep_dir(runs_dir, row.id) / RECORD_FILE,
                 json.dumps(record, indent=1).encode())


def rebuild(store: RunDatabase) -> list[str]:
    """Put every sweep folder's sweep back into a rebuilt store (after its runs): finished
    if all its trials ran and ended, else stopped (the rebuild stopped what was active)."""
    rebuilt = []
    for path in sorted((store.runs_dir / "sweeps").glob(f"*/{RECORD_FILE}")):
        try:
            row = SweepRow(**json.loads(path.read_text()))
            spec = SweepSpec.from_json(row.spec)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        runs = store.sweeps.runs(row.id)
        done = len(runs) == len(spec.trials()) and not any(r.state.active for r in runs)
        try:
            store.sweeps.get(row.id)
            continue  # already there
        except SweepNotFound:
            pass
        store.sweeps.insert(row)  # running, then ended: its finish time is the rebuild's
        store.sweeps.end(row.id, "finished" if done else "stopped")
        rebuilt.append(row.id)
    return rebuilt


def new_sweep_id(spec: SweepSpec) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"sweep-{stamp}-{spec.base['model']}-{os.urandom(2).hex()}"


def _study(runs_dir: str | Path, sweep_id: str, spec: SweepSpec, create: bool = False):
    # optuna (0.44 s to import) where a study is opened, not in every page that lists sweeps
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per trial in scheduler.log
    folder = sweep_dir(runs_dir, sweep_id)
    folder.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    kw = dict(study_name=sweep_id, storage=storage,
              sampler=optuna.samplers.GridSampler(spec.search_space(), seed=0),
              pruner=optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS,
                                                 n_warmup_steps=WARMUP_EPOCHS))
    if not create:
        return optuna.load_study(**kw)
    study = optuna.create_study(direction="maximize", **kw)
    for params in spec.trials():
        study.enqueue_trial(params)
    return study


def create_study(runs_dir: str | Path, sweep_id: str, spec: SweepSpec) -> None:
    """The sweep's Optuna study, its trials enqueued in order (before the sweep's row exists,
    so the scheduler never sees a sweep without its study)."""
    _study(runs_dir, sweep_id, spec, create=True)


# ------------------------------------------------------------------ the scheduler's part

def tick(store: RunDatabase, settings: RunSettings) -> None:
    """Advance every running sweep: follow its trials, prune, queue the next, finish it."""
    for row in store.sweeps.list(state="running"):
        try:
            _advance(store, settings, row)
        except StoreBusy:
            raise
        except Exception:  # one broken sweep must not stop the scheduler, nor the other sweeps
            log.exception("sweep %s: this tick failed", row.id)


def _advance(store: RunDatabase, settings: RunSettings, row: SweepRow) -> None:
    from optuna.trial import TrialState  # as in _study
    spec = SweepSpec.from_json(row.spec)
    study = _study(store.runs_dir, row.id, spec)
    runs = {r.config["sweep"]["trial"]: r for r in store.sweeps.runs(row.id)}
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        _follow(store, study, frozen, runs.get(frozen.number))
    active = sum(r.state.active for r in runs.values())
    waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    # A sweep queues at most `parallel` trials at a time, and none into a full queue: the
    # server's other visitors keep their places.
    while waiting and active < spec.parallel and len(store.queue()) < settings.max_queue:
        _submit(store, settings, row, spec, study.ask())
        waiting, active = waiting - 1, active + 1
    if not waiting and not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        store.sweeps.end(row.id, "finished")


def _submit(store: RunDatabase, settings: RunSettings, row: SweepRow, spec: SweepSpec,
            trial) -> RunRecord:
    """Queue one trial as an ordinary run of the sweep's owner."""
    space = spec.search_space()
    params = {name: trial.suggest_categorical(name, values) for name, values in space.items()}
    cfg = spec.config(params)
    run_id = new_run_id(cfg)
    record = RunRecord(id=run_id, owner=row.owner, created=time.time(),
                       config={**asdict(cfg), "sweep": {"id": row.id, "trial": trial.number,
                                                        "params": params}},
                       state=RunState.QUEUED, run_dir=str(store.runs_dir / run_id),
                       estimate_minutes=estimate_minutes(cfg, settings), address=row.address)
    trial.set_user_attr("run_id", run_id)
    return store.insert(record)


def _follow(store: RunDatabase, study, frozen, run: RunRecord | None) -> None:
    """Report a trial's new epochs to Optuna; prune it, or record how it ended."""
    import optuna  # as in _study
    from optuna.trial import TrialState
    if run is None:  # asked for, never queued (the scheduler stopped in between)
        study.tell(frozen.number, state=TrialState.FAIL)
        return
    trial = optuna.trial.Trial(study, frozen._trial_id)
    epochs = store.epochs(run.id)
    new = [e for e in epochs if e["epoch"] not in frozen.intermediate_values]
    for e in new:
        trial.report(float(e["val_accuracy"]), int(e["epoch"]))
    if run.state.active:
        if new and run.state == RunState.RUNNING and trial.should_prune():
            stopped = store.request_stop(run.id)
            if stopped.state in (RunState.STOPPING, RunState.CANCELLED):  # not ended meanwhile
                store.update(run.id, pruned=1)
                study.tell(frozen.number, state=TrialState.PRUNED)
                log.info("sweep trial %s pruned after epoch %s", run.id, new[-1]["epoch"])
        return
    if run.state == RunState.FINISHED and epochs:
        study.tell(frozen.number, max(float(e["val_accuracy"]) for e in epochs))
    else:  # stopped by its owner, failed or diverged: no value to compare
        study.tell(frozen.number, state=TrialState.FAIL)


# ------------------------------------------------------------------ the view

def view(store: RunDatabase, row: SweepRow, mine: bool) -> SweepView:
    """The sweep and each planned trial's state, best validation accuracy and time."""
    spec = SweepSpec.from_json(row.spec)
    runs = {r.config["sweep"]["trial"]: r for r in store.sweeps.runs(row.id)}
    trials = [_trial(store, n, params, runs.get(n), row.state)
              for n, params in enumerate(spec.trials())]
    created = dt.datetime.fromtimestamp(row.created).isoformat(timespec="seconds")
    return SweepView(id=row.id, owner=row.owner, state=row.state, spec=spec, created=created,
                     trials=trials, mine=mine)


def _trial(store: RunDatabase, number: int, params: dict, run: RunRecord | None,
           sweep_state: str) -> Trial:
    if run is None:
        return Trial(number, params, "waiting" if sweep_state == "running" else "not run")
    epochs = store.epochs(run.id)
    best = max((float(e["val_accuracy"]) for e in epochs), default=None)
    seconds = (run.result or {}).get("train_seconds")
    if seconds is None and run.started_at:
        seconds = (run.finished_at or time.time()) - run.started_at
    return Trial(number, params, "pruned" if run.pruned else run.state.label, run.id, best,
                 len(epochs), seconds,
                 usable=run.state.usable and run.best_checkpoint is not None)
