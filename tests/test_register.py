"""python -m core.train --register: a run trained from a shell shows up in the app."""
import sqlite3

import pytest

from core.networks.catalog import RUN, run_models
from core.networks.checkpoints import load_checkpoint
from core.data import load_split
from core.evaluate.predictions import load_predictions, predictions_path
from core.server.settings import load_settings
from core.train import cli as train_cli
from core.train.__main__ import main as train_main  # python -m core.train: --register wired in
from core.runs.register import CLI_OWNER
from core.runs.api import RunService
from core.runs.state import RunState
from core.server.visitors import Viewer

ADMIN, VISITOR = Viewer("v:admin", admin=True), Viewer("v:someone")


def train_registered(fake_data_root, tmp_path, *extra):
    return train_main(["--dataset", "mnist", "--model", "ffnn-small", "--epochs", "2",
                       "--batch-size", "64", "--device", "cpu",
                       "--data-dir", str(fake_data_root), "--out", str(tmp_path / "m.pt"),
                       "--register", "--runs", str(tmp_path / "runs"), *extra])


def service(tmp_path):
    return RunService(tmp_path / "runs", load_settings(tmp_path / "none.toml"), start_scheduler=False)


def test_a_registered_cli_run_is_listed_with_its_metrics_and_usable_by_an_admin(
        fake_data_root, tmp_path, capsys):
    assert train_registered(fake_data_root, tmp_path, "--json") == 0
    err = capsys.readouterr().err
    assert "registered in the app as run" in err

    runs = service(tmp_path).list_runs(VISITOR)
    assert len(runs) == 1
    run_id = runs[0].id
    snap = service(tmp_path).get(run_id, ADMIN)
    assert snap.owner == CLI_OWNER and snap.state == RunState.FINISHED and snap.error is None
    assert snap.config.model == "ffnn-small" and snap.config.epochs == 2
    assert snap.test is not None and 0 <= snap.test.accuracy <= 1
    assert snap.result.test_accuracy == snap.test.accuracy
    assert snap.result.checkpoint == str(tmp_path / "runs" / run_id / "best.pt")
    steps_per_epoch = 400 // 64 + 1  # 500 fake training images, 100 held out for validation
    assert snap.total_steps == snap.last_step == 2 * steps_per_epoch
    assert [s["step"] for s in service(tmp_path).steps(run_id, ADMIN, 10**6).rows()] == \
        list(range(1, 2 * steps_per_epoch + 1))
    assert [e["epoch"] for e in snap.epochs] == [1, 2]
    assert snap.executor == "cli" and snap.started_at <= snap.finished_at

    # The same weights as the command line wrote, and Evaluate opens it without a model pass.
    best = snap.best_checkpoint
    assert best is not None and best.read_bytes() == (tmp_path / "m.pt").read_bytes()
    assert not snap.last_checkpoint.exists() and not snap.resumable
    ckpt = load_checkpoint(best)
    test = load_split("mnist", False, fake_data_root)
    assert load_predictions(predictions_path(best), best, test, ckpt.meta.mean,
                            ckpt.meta.std) is not None

    # Listed read-only for a visitor; a model for the admin (the app offers only `mine`).
    as_visitor = service(tmp_path).list_runs(VISITOR)[0]
    assert not as_visitor.mine
    as_admin = service(tmp_path).list_runs(ADMIN)
    [model] = run_models([r for r in as_admin if r.mine])
    assert model.key == f"{RUN}:{run_id}" and model.path == best
    assert model.test_accuracy == snap.test.accuracy
    assert run_models([r for r in service(tmp_path).list_runs(VISITOR) if r.mine]) == []


def test_a_stopped_cli_run_is_registered_stopped_and_resumable_in_the_app(
        fake_data_root, tmp_path, monkeypatch):
    calls = {"n": 0}

    def stop_after_five():  # Ctrl-C after the fifth step
        def should_stop():
            calls["n"] += 1
            return calls["n"] > 5
        return should_stop
    monkeypatch.setattr(train_cli, "_stop_on_sigint", stop_after_five)
    assert train_registered(fake_data_root, tmp_path) == 0

    [snap] = service(tmp_path).list_runs(ADMIN)
    assert snap.state == RunState.CANCELLED and snap.last_step == 5
    assert snap.resumable and snap.best_checkpoint is not None
    assert (tmp_path / "m.last.pt").exists()  # the command line's own copy stays too
    assert [m.key for m in run_models([snap])] == [f"{RUN}:{snap.id}"]


def test_a_failed_registration_says_so_and_keeps_the_checkpoint(
        fake_data_root, tmp_path, monkeypatch, capsys):
    from core.runs import register

    def broken_store(*_):
        raise sqlite3.OperationalError("database is locked")
    monkeypatch.setattr(register, "RunDatabase", broken_store)
    assert train_registered(fake_data_root, tmp_path) == 1
    err = capsys.readouterr().err
    assert "could not register" in err and "database is locked" in err
    assert str(tmp_path / "m.pt") in err and (tmp_path / "m.pt").exists()


def test_without_the_flag_nothing_is_registered(fake_data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_RUNS", str(tmp_path / "runs"))
    assert train_cli.main(["--dataset", "mnist", "--model", "ffnn-small", "--epochs", "1",
                           "--device", "cpu", "--data-dir", str(fake_data_root),
                           "--out", str(tmp_path / "m.pt")]) == 0
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("env", [True, False])
def test_the_runs_folder_is_the_flag_else_the_apps(tmp_path, monkeypatch, env):
    from core.machine.paths import ROOT, runs_dir as runs_folder
    DEFAULT_RUNS_DIR = ROOT / "runs"
    if env:
        monkeypatch.setenv("MNIST_STUDIO_RUNS", str(tmp_path / "env-runs"))
        assert runs_folder() == tmp_path / "env-runs"
    else:
        monkeypatch.delenv("MNIST_STUDIO_RUNS", raising=False)
        assert runs_folder() == DEFAULT_RUNS_DIR
    assert runs_folder(tmp_path / "x") == tmp_path / "x"
