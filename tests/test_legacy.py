"""Runs folders written by the old JobManager are imported into the run database once."""
import datetime as dt
import json
import time

import pytest

from core.data import load_bundle
from core.settings import load_settings
from core.train import legacy
from core.train.config import TrainConfig
from core.train.jobs import JobManager
from core.train.legacy import LEGACY_OWNER, import_legacy
from core.train.service import RunService
from core.train.state import RunState
from core.train.store import RunStore
from core.visitors import Viewer


def cfg(**kw):
    return TrainConfig(**{**dict(dataset="mnist", model="ffnn-small", epochs=2, batch_size=32,
                                 lr=3e-3, device="cpu"), **kw})


@pytest.fixture(scope="module")
def legacy_runs(tmp_path_factory, fake_data_root):
    """A finished run, and a run that was killed while training (status "running", its
    metrics.jsonl's last line cut short), both made by the old JobManager."""
    runs = tmp_path_factory.mktemp("legacy") / "runs"
    manager = JobManager(runs, load_data=lambda c: load_bundle(c.dataset, fake_data_root))
    finished = manager.submit(cfg())
    manager.wait(finished, 60)
    killed = manager.submit(cfg(epochs=50))
    while manager.snapshot(killed).step < 20:
        time.sleep(0.005)
    manager.stop(killed)
    manager.wait(killed, 60)
    status_path = runs / killed / "status.json"
    status = json.loads(status_path.read_text())
    status_path.write_text(json.dumps({**status, "state": "running", "finished_at": None}))
    with open(runs / killed / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "step": 99, "total_steps": 650, "lo')  # the crash
    (runs / "not-a-run").mkdir()  # folders without config.json and status.json are left alone
    return runs, finished, killed


def lines(path):
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_legacy_runs_are_imported_once_with_their_history(legacy_runs):
    runs, finished, killed = legacy_runs
    store = RunStore(runs)
    assert sorted(import_legacy(store)) == sorted([finished, killed])
    assert import_legacy(store) == []  # idempotent

    done = store.get(finished)
    status = json.loads((runs / finished / "status.json").read_text())
    assert done.owner == LEGACY_OWNER and done.state == RunState.FINISHED and done.error is None
    assert done.created == dt.datetime.fromisoformat(status["created"]).timestamp()
    assert done.started_at == status["started_at"] and done.finished_at == status["finished_at"]
    assert done.test == status["test"] and done.result == status["result"]
    assert done.device == status["device"] and done.config == cfg().__dict__
    assert done.total_steps == done.step == 26 and done.run_dir == str(runs / finished)
    assert store.steps(finished, 1000).step == list(range(1, 27))
    assert [e["epoch"] for e in store.epochs(finished)] == [1, 2]
    assert done.best_checkpoint is not None and not done.resumable

    cut = store.get(killed)
    events = lines(runs / killed / "metrics.jsonl")  # the cut-short line does not parse
    steps = [e["step"] for e in events if e["kind"] == "step"]
    assert cut.state == RunState.CANCELLED and "interrupted" in cut.error and cut.resumable
    assert store.steps(killed, 10**6).step == steps == list(range(1, len(steps) + 1))
    assert cut.step == steps[-1] and cut.total_steps == 650
    assert store.get(killed).finished_at is None


def test_nothing_to_import_reads_no_run_folder(legacy_runs, monkeypatch):
    runs, *_ = legacy_runs
    store = RunStore(runs)
    import_legacy(store)

    def must_not_read(folder):
        raise AssertionError(f"read {folder} again")
    monkeypatch.setattr(legacy, "legacy_record", must_not_read)
    t0 = time.perf_counter()
    assert import_legacy(store) == []
    print(f"\nnothing to import: {(time.perf_counter() - t0) * 1e3:.2f} ms")


def test_the_service_imports_on_open_and_shows_legacy_runs_read_only(legacy_runs, tmp_path):
    runs, finished, killed = legacy_runs
    service = RunService(runs, load_settings(tmp_path / "none.toml"), start_runner=False)
    visitor = Viewer("v:someone")
    seen = {v.id: v for v in service.list_runs(visitor)}
    assert {finished, killed} <= set(seen)
    assert not seen[killed].mine and service.get(killed, Viewer("v:admin", admin=True)).mine
