"""Runs folders written by the old JobManager are imported into the run database once."""
import datetime as dt
import math
import json
import time
from dataclasses import asdict

import pytest

from core.data import load_bundle
from core.settings import load_settings
from core.runs import legacy
from core.train.config import TrainConfig
from core.train.loop import finish, train
from core.runs.legacy import LEGACY_OWNER, import_legacy
from core.runs.service import RunService
from core.runs.state import RunState
from core.runs.store import RunStore
from core.visitors import Viewer


def cfg(**kw):
    return TrainConfig(**{**dict(dataset="mnist", model="ffnn-small", epochs=2, batch_size=32,
                                 lr=3e-3, device="cpu"), **kw})


def write_legacy_run(runs, run_id, config, data, stop_after=None):
    """A run folder exactly as the old in-process JobManager left it: config.json,
    status.json, metrics.jsonl (one event per line), best.pt and, if stopped, last.pt,
    trained by the real trainer."""
    folder = runs / run_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(asdict(config), indent=1))
    started = time.time()
    with open(folder / "metrics.jsonl", "w") as events:
        def on_event(ev):
            events.write(json.dumps(asdict(ev)) + "\n")
        steps = {"n": 0}

        def should_stop():
            steps["n"] += 1
            return stop_after is not None and steps["n"] > stop_after
        result = train(config, data, on_event, should_stop, folder / "best.pt", folder / "last.pt")
    test, summary = finish(result, data, folder / "best.pt", run=run_id)
    if not result.stopped:
        (folder / "last.pt").unlink()
    status = {"state": "cancelled" if result.stopped else "finished",
              "created": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
              "total_steps": math.ceil(len(data.train) / config.batch_size) * config.epochs,
              "error": None,
              "started_at": started, "finished_at": time.time(), "device": result.device,
              "test": test.summary().to_json(), "result": summary.to_json()}
    (folder / "status.json").write_text(json.dumps(status, indent=1))
    return run_id


@pytest.fixture(scope="module")
def legacy_runs(tmp_path_factory, fake_data_root):
    """A finished run, and a run that was killed while training (status "running", its
    metrics.jsonl's last line cut short), both in the old JobManager's layout."""
    runs = tmp_path_factory.mktemp("legacy") / "runs"
    data = load_bundle("mnist", fake_data_root)
    finished = write_legacy_run(runs, "20260101-000000-mnist-ffnn-small-aaaa", cfg(), data)
    killed = write_legacy_run(runs, "20260101-000001-mnist-ffnn-small-bbbb", cfg(epochs=50), data,
                              stop_after=20)
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
