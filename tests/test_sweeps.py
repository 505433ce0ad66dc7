"""Sweeps (core/runs/sweeps.py): the spec's checks, the limits, ownership, Optuna's pruning
driven by `tick` over runs simulated in the store, and a real sweep through the scheduler."""
import time
from pathlib import Path

import pytest

from core.runs import sweeps
from core.runs.api import LimitReached, RunService
from core.runs.state import RunState
from core.runs.database import SweepNotFound
from core.runs.sweeps import Axis, SweepError, SweepSpec
from core.server.settings import load_settings
from core.train.config import TrainConfig
from core.server.visitors import Viewer
from tests.test_service import cfg

A, B = Viewer("v:alice"), Viewer("v:bob")
ADMIN = Viewer("u:teacher@example.org", admin=True)


def spec(*axes: Axis, seeds: int = 1, parallel: int = 1, **base) -> SweepSpec:
    return SweepSpec(base={**cfg().__dict__, **base}, axes=list(axes), seeds=seeds,
                     parallel=parallel)


def settings(**kw):
    return load_settings("/nonexistent/studio.toml", **kw)


# ------------------------------------------------------------------ the spec

def test_trials_are_the_grid_of_values_times_seeds_in_order():
    s = spec(Axis("lr", [1e-3, 1e-2]), Axis("batch_size", [32, 64]), seeds=2, seed=5)
    trials = s.trials()
    assert len(trials) == 8
    assert trials[:3] == [{"lr": 1e-3, "batch_size": 32, "seed": 5},
                          {"lr": 1e-3, "batch_size": 32, "seed": 6},
                          {"lr": 1e-3, "batch_size": 64, "seed": 5}]
    configs = s.check(settings())
    assert [(c.lr, c.batch_size, c.seed) for c in configs[-2:]] == [(1e-2, 64, 5), (1e-2, 64, 6)]
    assert all(c.model == "ffnn-small" and c.epochs == 2 for c in configs)


def test_a_log_range_is_evenly_spaced_on_a_log_scale():
    assert Axis.log_range("lr", 1e-4, 1e-2, 3) == Axis("lr", [1e-4, 1e-3, 1e-2], log=True)
    assert Axis.log_range("batch_size", 32, 256, 4).values == [32, 64, 128, 256]
    with pytest.raises(SweepError, match="0 < low < high"):
        Axis.log_range("lr", 0.01, 0.001, 3)
    with pytest.raises(SweepError, match="count of 2 or more"):
        Axis.log_range("lr", 1e-4, 1e-2, 1)


def test_values_are_parsed_and_a_word_is_named():
    assert sweeps.parse_values("0.001, 3e-3,, 64") == [0.001, 0.003, 64]
    with pytest.raises(SweepError, match="'fast' is not a number"):
        sweeps.parse_values("0.001, fast")


@pytest.mark.parametrize("bad, message", [
    (spec(Axis("optimizer", [1, 2])), "cannot vary 'optimizer': a sweep varies one of lr"),
    (spec(Axis("lr", [1e-3]), Axis("lr", [1e-2])), "lr is varied twice"),
    (spec(), "a sweep varies 1 or 2 settings, got 0"),
    (spec(Axis("lr", [])), "at least one value of lr"),
    (spec(Axis("lr", [1e-3, 1e-3])), "listed twice"),
    (spec(Axis("lr", [1e-3]), seeds=0), "seeds must be a whole number between 1 and 10"),
    (spec(Axis("lr", [1e-3, 5.0])), r"the trial with lr = 5 is invalid: lr must be between "
                                    r"1e-05 and 2, got 5"),
    (spec(Axis("epochs", [1, 2.5])), "the trial with epochs = 2.5 is invalid: epochs must be a "
                                     "whole number"),
    (spec(Axis("lr", [1e-3, 1e-2, 1e-1]), Axis("epochs", [1, 2]), seeds=3),
     r"this sweep has 18 trials \(3 values x 2 values x 3 seeds\); the limit on this server "
     r"is 12 per sweep"),
    (spec(Axis("lr", [1e-3]), parallel=2), "a sweep runs 1 to 1 trials at once"),
])
def test_a_bad_sweep_is_refused_with_its_reason(bad, message):
    with pytest.raises(SweepError, match=message):
        bad.check(settings())


# ------------------------------------------------------------------ limits and ownership

def test_sweep_limits_per_visitor_and_per_run_and_nothing_is_left(make_service):
    service = make_service(start_scheduler=False, max_sweep_trials=4, max_sweep_parallel=2)
    with pytest.raises(SweepError, match="5 trials .* the limit on this server is 4"):
        service.sweeps.start(spec(Axis("lr", [1e-3, 2e-3, 3e-3, 4e-3, 5e-3])), A)
    first = service.sweeps.start(spec(Axis("lr", [1e-3, 2e-3]), parallel=2), A)
    assert [t.state for t in first.trials] == ["waiting", "waiting"]
    with pytest.raises(LimitReached, match="1 sweep running; the limit is 1 per visitor"):
        service.sweeps.start(spec(Axis("lr", [1e-3])), A)
    assert [s.id for s in service.sweeps.list(A)] == [first.id]
    assert service.sweeps.start(spec(Axis("lr", [1e-3])), B).owner == B.id  # B has none
    costly = spec(Axis("epochs", [1, 150]), model="cnn")
    with pytest.raises(LimitReached, match="A trial of this sweep is estimated at"):
        service.sweeps.start(costly, Viewer("v:carol"))
    assert service.sweeps.list(Viewer("v:carol")) == []
    assert sorted(p.name for p in (service.runs_dir / "sweeps").iterdir()) == sorted(
        s.id for s in service.sweeps.list(ADMIN))  # a refused sweep keeps no folder


def test_a_sweep_is_its_owners_alone(make_service):
    service = make_service(start_scheduler=False)
    sweep = service.sweeps.start(spec(Axis("lr", [1e-3])), A)
    for action in (service.sweeps.get, service.sweeps.stop):
        with pytest.raises(SweepNotFound):
            action(sweep.id, B)
    assert service.sweeps.list(B) == []
    assert service.sweeps.get(sweep.id, ADMIN).owner == A.id
    assert service.sweeps.stop(sweep.id, A).state == "stopped"


# ------------------------------------------------------------------ tick over simulated runs

def _train(service: RunService, run_id: str, accuracies: list[float], end: RunState | None):
    """What a worker would record: epochs with these validation accuracies, then the end."""
    store = service.db
    epochs = [dict(epoch=i + 1, epochs=len(accuracies), step=i + 1, train_loss=1.0,
                   train_accuracy=a, val_loss=1.0, val_accuracy=a, lr=1e-3, elapsed=1.0,
                   best=True) for i, a in enumerate(accuracies)]
    store.add_metrics(run_id, [], epochs)
    if end is not None:
        store.transition(run_id, end, [RunState.RUNNING, RunState.STOPPING], phase=None,
                         finished_at=time.time())


def test_tick_queues_trials_one_at_a_time_and_prunes_a_hopeless_one(make_service):
    service = make_service(start_scheduler=False, max_queue=8)
    s = service.settings
    sweep = service.sweeps.start(spec(Axis("lr", [3e-3, 2e-3, 1e-3, 1e-5])), A)
    for accuracy in (0.90, 0.80, 0.85):
        sweeps.tick(service.db, s)
        sweeps.tick(service.db, s)  # again: still one trial at a time
        queued = service.db.queue()
        assert len(queued) == 1 and queued[0].owner == A.id
        run = service.db.claim_next("test", "local")
        _train(service, run.id, [accuracy / 2, accuracy], RunState.FINISHED)
    sweeps.tick(service.db, s)
    hopeless = service.db.claim_next("test", "local")
    assert hopeless.config["lr"] == 1e-5 and hopeless.config["sweep"]["trial"] == 3
    _train(service, hopeless.id, [0.1], None)  # at chance after its first epoch
    sweeps.tick(service.db, s)
    stopping = service.get(hopeless.id, A)
    assert stopping.state == RunState.STOPPING and stopping.pruned
    _train(service, hopeless.id, [], RunState.CANCELLED)  # the worker obeys
    sweeps.tick(service.db, s)
    done = service.sweeps.get(sweep.id, A)
    assert done.state == "finished"
    assert [t.state for t in done.trials] == ["finished", "finished", "finished", "pruned"]
    assert [t.val_accuracy for t in done.trials] == [0.90, 0.80, 0.85, 0.1]
    assert done.best.number == 0 and done.best.params == {"lr": 3e-3, "seed": 0}
    from ui.train.run_rows import run_row
    assert run_row(service.get(hopeless.id, A)).state == "pruned"  # the Train page's table


def test_tick_keeps_the_parallel_cap_and_leaves_a_full_queue_alone(make_service):
    service = make_service(start_scheduler=False, max_queue=2, max_sweep_parallel=2)
    store, s = service.db, service.settings
    service.sweeps.start(spec(Axis("lr", [1e-3, 2e-3, 3e-3]), parallel=2), A)
    sweeps.tick(store, s)
    assert len(store.queue()) == 2  # its cap of 2 at once, though 3 trials wait
    _train(service, store.claim_next("test", "local").id, [0.5], RunState.FINISHED)
    service.submit(cfg(), B)  # B's run fills the queue again (2)
    sweeps.tick(store, s)
    assert len(store.list(owner=A.id)) == 2  # a trial may start, but the queue is full
    store.claim_next("test", "local")
    sweeps.tick(store, s)
    assert len(store.list(owner=A.id)) == 3  # room in the queue: the third trial


def test_stopping_a_sweep_stops_its_trials(make_service):
    service = make_service(start_scheduler=False)
    sweep = service.sweeps.start(spec(Axis("lr", [1e-3, 2e-3])), A)
    sweeps.tick(service.db, service.settings)
    stopped = service.sweeps.stop(sweep.id, A)
    assert [t.state for t in stopped.trials] == ["stopped", "not run"]
    sweeps.tick(service.db, service.settings)
    assert service.db.queue() == []


# ------------------------------------------------------------------ a real sweep

def wait_sweep(service: RunService, sweep_id: str, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while True:
        view = service.sweeps.get(sweep_id, A)
        if view.state != "running" and all(not t.run_id or not service.get(
                t.run_id, A, metrics=False).state.active for t in view.trials):
            return view
        assert time.monotonic() < deadline, [(t.state, t.val_accuracy) for t in view.trials]
        time.sleep(0.2)


def test_a_sweep_of_4_trials_through_the_runner_prunes_the_hopeless_one(make_service):
    """The real scheduler and workers on the fake data: a learning rate that learns and one
    (1e-5) that stays near chance, 2 seeds each. The first two trials complete (the median
    rule's 2 startup trials: never pruned); the two hopeless ones are pruned.
    (Three different good rates made it flaky: 1e-3 learns slower on the fake data and
    was sometimes below the median of the other two at the epoch the scheduler looked at.)
    Long enough (40 epochs of 320 images: seconds) that the scheduler sees the first epochs
    of a hopeless trial well before its last (with 12, a loaded machine once let one
    finish unpruned)."""
    service = make_service()
    started = time.monotonic()
    sweep = service.sweeps.start(spec(Axis("lr", [3e-3, 1e-5]), seeds=2, epochs=40,
                                     schedule="constant"), A)
    done = wait_sweep(service, sweep.id)
    print(f"4 trials in {time.monotonic() - started:.1f} s:",
          [(t.params["lr"], t.state, t.epochs_done, round(t.val_accuracy, 3)) for t in done.trials])
    assert [t.state for t in done.trials] == ["finished", "finished", "pruned", "pruned"]
    assert [t.params["seed"] for t in done.trials] == [0, 1, 0, 1]
    assert [t.epochs_done for t in done.trials[:2]] == [40, 40]
    assert all(t.epochs_done < 40 for t in done.trials[2:])
    assert done.best is not None and done.best.number in (0, 1)
    assert done.best.val_accuracy > max(t.val_accuracy for t in done.trials[2:])
    pruned = service.get(done.trials[3].run_id, A)  # a normal run: listed, stopped, usable
    assert pruned.state == RunState.CANCELLED and pruned.pruned and pruned.sweep["trial"] == 3
    assert {t.run_id for t in done.trials} <= {r.id for r in service.list_runs(A)}


def test_a_custom_models_layer_width_can_vary():
    layers = "conv8k3,pool2,relu,fc32,fc10"
    sweep = spec(Axis("layer:1", [4, 16]), Axis("layer:4", [8, 64]), model="custom",
                 layers=layers)
    configs = sweep.check(settings())
    assert [c.layers for c in configs] == [
        "conv4k3,pool2,relu,fc8,fc10", "conv4k3,pool2,relu,fc64,fc10",
        "conv16k3,pool2,relu,fc8,fc10", "conv16k3,pool2,relu,fc64,fc10"]
    assert Axis.log_range("layer:1", 8, 64, 4).values == [8, 16, 32, 64]
    with pytest.raises(SweepError, match="layer 3 of .* has no width to vary"):
        spec(Axis("layer:3", [4]), model="custom", layers=layers).check(settings())
    with pytest.raises(SweepError, match="only a custom model's layer widths"):
        spec(Axis("layer:1", [4])).check(settings())


def test_a_damaged_database_is_rebuilt_with_its_sweeps(make_service):
    """Each sweep folder keeps sweep.json (like a run's run.json): a database rebuilt from
    the folders (core/runs/recovery.py) has its sweeps back, with their trials."""
    import sqlite3

    from core.runs.recovery import open_database
    service = make_service(start_scheduler=False, max_queue=8)
    s = service.settings
    finished = service.sweeps.start(spec(Axis("lr", [3e-3, 1e-3])), A)
    for accuracy in (0.9, 0.8):
        sweeps.tick(service.db, s)
        run = service.db.claim_next("test", "local")
        Path(run.run_dir).mkdir(parents=True)  # as the worker makes it: then run.json is kept
        _train(service, run.id, [accuracy], RunState.FINISHED)
    sweeps.tick(service.db, s)
    assert service.sweeps.get(finished.id, A).state == "finished"
    # A second visitor's sweep, cut short by the damage (its first trial queued).
    going = service.sweeps.start(spec(Axis("lr", [3e-3, 1e-3])), B)
    sweeps.tick(service.db, s)
    db = service.runs_dir / "runs.sqlite"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    db.write_bytes(b"this is not a database" * 500)

    store = open_database(service.runs_dir)
    assert sorted(store.recovery.sweeps) == sorted([finished.id, going.id])
    assert "and 2 sweep(s) were rebuilt" in store.recovery.message
    back = sweeps.view(store, store.sweeps.get(finished.id), mine=True)
    assert back.state == "finished" and back.spec.axes[0].values == [3e-3, 1e-3]
    assert [t.val_accuracy for t in back.trials] == [0.9, 0.8] and store.sweeps.get(finished.id).owner == A.id
    assert store.sweeps.get(going.id).state == "stopped"  # its queued trial was stopped too
