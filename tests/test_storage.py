"""Storage quotas, the free-disk floor, retention and `python -m core.runs prune`.

The run service is used without its scheduler (nothing trains): runs are rows, their
folders files written here, so each rule is checked on exactly the bytes and ages
it is given.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from core.runs import quotas
from core.runs.__main__ import main as runs_cli
from core.runs.retention import DAY, apply_prune, prune, prune_plan
from core.runs.api import LimitReached, NotAllowed, RunService
from core.runs.state import RunState
from core.machine.files import folder_bytes
from core.runs.quotas import MB, VISITOR_FOLDERS, visitor_usage
from core.server.settings import RunSettings, load_settings, settings_table
from core.train.config import TrainConfig
from core.server.uploads import visitor_folder
from core.server.visitors import Viewer

A, B = Viewer("v:alice", address="10.0.0.1"), Viewer("v:bob", address="10.0.0.1")
ADMIN = Viewer("u:admin@example.org", admin=True)


def cfg() -> TrainConfig:
    return TrainConfig(dataset="mnist", model="ffnn-small", epochs=1, batch_size=32, device="cpu")


@pytest.fixture()
def make(tmp_path, monkeypatch):
    for name in ("MNIST_STUDIO_CONFIG", "RAY_ADDRESS", "MNIST_STUDIO_EXECUTOR"):
        monkeypatch.delenv(name, raising=False)

    def make(**overrides) -> RunService:
        settings = load_settings(tmp_path / "none.toml", **{"workers": 1, **overrides})
        return RunService(tmp_path / "runs", settings, start_scheduler=False)
    return make


def finished(service: RunService, viewer: Viewer, size: int = 0, age_days: float = 0.0,
             state: RunState = RunState.FINISHED) -> str:
    """A run of `viewer` that ended `age_days` ago, with `size` bytes in its folder."""
    run = service.submit(cfg(), viewer)
    folder = Path(run.run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "best.pt").write_bytes(b"\0" * size)
    created = time.time() - age_days * DAY
    service.db.update(run.id, created=created)
    if state != RunState.QUEUED:
        service.db.transition(run.id, RunState.RUNNING, [RunState.QUEUED])
        if state != RunState.RUNNING:
            service.db.transition(run.id, state, [RunState.RUNNING], finished_at=created)
    return run.id


# ------------------------------------------------------------------- settings

def test_storage_and_address_settings_have_laptop_defaults_and_read_the_environment(
        tmp_path, monkeypatch):
    s = RunSettings()
    assert (s.max_stored_mb, s.max_uploads_per_visitor, s.min_free_mb) == (2000.0, 20, 500.0)
    assert (s.keep_runs, s.keep_days, s.prune_minutes) == (50, 30.0, 10.0)
    assert not s.address_limits and s.trusted_proxies == 0  # off on a laptop
    monkeypatch.setenv("MNIST_STUDIO_MAX_STORED_MB", "12.5")
    monkeypatch.setenv("MNIST_STUDIO_MAX_ACTIVE_PER_ADDRESS", "3")
    monkeypatch.setenv("MNIST_STUDIO_TRUSTED_PROXIES", "1")
    s = load_settings(tmp_path / "none.toml")
    assert s.max_stored_mb == 12.5 and s.max_active_per_address == 3 and s.address_limits
    assert s.trusted_proxies == 1
    with pytest.raises(ValueError, match="keep_days must be >= 0"):
        RunSettings(keep_days=-1)
    names = {row[0] for row in settings_table()}
    assert {"max_stored_mb", "min_free_mb", "keep_runs", "max_new_visitors_per_address",
            "trusted_proxies"} <= names


def test_the_deploying_docs_table_lists_every_setting():
    text = (Path(__file__).resolve().parent.parent / "docs" / "deploying.md").read_text()
    for name, env, default, _ in settings_table():
        assert f"| `{name}` | `{env}` | `{default}` |" in text, name


# --------------------------------------------------------------------- quotas

def test_usage_counts_runs_uploads_and_every_per_visitor_folder(make, monkeypatch):
    service = make()
    finished(service, A, size=3 * MB)
    finished(service, A, size=1 * MB)
    finished(service, B, size=5 * MB)
    uploads = visitor_folder(service.runs_dir, A.id)
    uploads.mkdir(parents=True)
    (uploads / "mine-abc.pt").write_bytes(b"\0" * MB)
    usage = service.quotas.usage(A)
    assert usage.runs == 2 and usage.uploads == 1
    assert usage.run_bytes >= 4 * MB and usage.folder_bytes["uploads"] == MB
    assert 5 * MB <= usage.total_bytes < 5 * MB + 64 * 1024  # + the runs' run.json
    # A new per-visitor folder (the handwriting set) joins the quota by its rule alone.
    monkeypatch.setitem(VISITOR_FOLDERS, "handwriting",
                        lambda runs, visitor: runs / ".handwriting" / visitor.replace(":", "_"))
    drawings = service.runs_dir / ".handwriting" / "v_alice"
    drawings.mkdir(parents=True)
    (drawings / "7.png").write_bytes(b"\0" * 2 * MB)
    usage = service.quotas.usage(A)
    assert usage.folder_bytes["handwriting"] == 2 * MB and usage.total_bytes >= 7 * MB
    assert "handwriting 2.0 MB" in usage.text


def test_a_visitor_over_the_byte_quota_gets_no_new_run_or_upload(make):
    service = make(max_stored_mb=4)
    finished(service, A, size=4 * MB)
    with pytest.raises(LimitReached, match="a visitor may keep 4 MB"):
        service.submit(cfg(), A)
    with pytest.raises(LimitReached, match="a visitor may keep 4 MB"):
        service.quotas.check_upload(A, 1000)
    assert len(service.db.list(owner=A.id)) == 1  # nothing queued
    service.submit(cfg(), B)  # another visitor is not affected
    service.submit(cfg(), ADMIN)  # nor an admin


def test_an_upload_that_would_pass_the_quota_or_the_count_is_refused(make):
    service = make(max_stored_mb=2, max_uploads_per_visitor=2)
    service.quotas.check_upload(A, MB)  # fits
    with pytest.raises(LimitReached, match="cannot be stored"):
        service.quotas.check_upload(A, 3 * MB)
    folder = visitor_folder(service.runs_dir, A.id)
    folder.mkdir(parents=True)
    for i in range(2):
        (folder / f"m{i}.pt").write_bytes(b"x")
    with pytest.raises(LimitReached, match="uploaded 2 checkpoints, the most a visitor may keep here is 2"):
        service.quotas.check_upload(A, 10)


def test_below_the_free_disk_floor_new_runs_and_uploads_are_refused(make, monkeypatch):
    service = make(min_free_mb=500)
    monkeypatch.setattr(quotas, "free_bytes", lambda path: 499 * MB)
    with pytest.raises(LimitReached, match=r"disk is nearly full \(499 MB free, below its 500 MB"):
        service.submit(cfg(), A)
    with pytest.raises(LimitReached, match="no new uploads can be stored"):
        service.quotas.check_upload(A, 10)
    assert service.db.list() == []
    monkeypatch.setattr(quotas, "free_bytes", lambda path: 501 * MB)
    assert service.submit(cfg(), A).state == RunState.QUEUED


# ------------------------------------------------------------------ retention

def test_retention_keeps_the_newest_runs_the_recent_ones_pinned_and_active(make):
    service = make(keep_runs=2, keep_days=10, max_active_per_visitor=10)
    old = [finished(service, A, age_days=40 + i) for i in range(3)]  # A's oldest: old[2]
    newest = [finished(service, A, age_days=20 - i) for i in range(2)]  # A's two newest
    recent_b = finished(service, B, age_days=5)
    old_b = finished(service, B, age_days=60)  # B's only run but one: within B's 2 newest
    pinned = finished(service, A, age_days=50)
    service.pin(pinned, ADMIN)
    training = finished(service, A, age_days=70, state=RunState.RUNNING)
    queued = finished(service, A, age_days=70, state=RunState.QUEUED)
    stopped_scoring = finished(service, A, age_days=70, state=RunState.CANCELLED)
    service.db.update(stopped_scoring, phase="scoring")
    plan = prune_plan(service.db, service.settings)
    assert [p.run_id for p in plan] == [old[2], old[1], old[0]]  # oldest first
    assert all(p.bytes > 0 for p in plan)
    keep = set(newest) | {recent_b, old_b, pinned, training, queued, stopped_scoring}
    removed = apply_prune(service.db, plan)
    assert {p.run_id for p in removed} == set(old)
    assert {r.id for r in service.db.list()} == keep
    assert not any(Path(service.runs_dir, run_id).exists() for run_id in old)
    assert all(Path(service.runs_dir, run_id).exists() for run_id in keep)
    assert [p.run_id for p in service.quotas.prunable(A)] == []


def test_retention_off_keeps_everything_and_a_run_outside_the_runs_folder_is_never_removed(
        make, tmp_path):
    service = make(keep_runs=0, keep_days=0)
    finished(service, A, age_days=400)
    assert prune_plan(service.db, service.settings) == []
    service = make(keep_runs=0, keep_days=1)
    outside = finished(service, A, age_days=400)
    shipped = tmp_path / "weights"
    shipped.mkdir()
    (shipped / "model.pt").write_bytes(b"weights")
    service.db.update(outside, run_dir=str(shipped))
    plan = prune_plan(service.db, service.settings)
    assert outside not in [p.run_id for p in plan] and len(plan) == 1
    prune(service.db, service.settings)
    assert (shipped / "model.pt").read_bytes() == b"weights"


def test_a_run_resumed_or_pinned_after_the_plan_is_kept(make):
    service = make(keep_runs=0, keep_days=1)
    resumed, pinned = finished(service, A, age_days=9), finished(service, A, age_days=8)
    plan = prune_plan(service.db, service.settings)
    assert {p.run_id for p in plan} == {resumed, pinned}
    service.db.transition(resumed, RunState.QUEUED, [RunState.FINISHED])  # as a Resume does
    service.db.set_pinned(pinned, True)
    assert apply_prune(service.db, plan) == []
    assert {r.id for r in service.db.list()} == {resumed, pinned}


def test_only_an_admin_pins(make):
    service = make()
    run = finished(service, A)
    with pytest.raises(NotAllowed, match="Only an admin"):
        service.pin(run, A)
    assert service.pin(run, ADMIN).pinned and service.db.get(run).pinned


def test_the_runner_applies_retention_in_the_background(make, tmp_path, fake_data_root,
                                                        monkeypatch):
    from core.runs.scheduler import serve
    monkeypatch.setenv("MNIST_STUDIO_DATA", str(fake_data_root))
    service = make(keep_runs=1, keep_days=0)
    old, new = finished(service, A, age_days=3), finished(service, A, age_days=1)
    serve(service.runs_dir, service.settings, max_seconds=1.0)
    assert [r.id for r in service.db.list()] == [new]
    assert not Path(service.runs_dir, old).exists()


def test_the_prune_command_lists_then_removes(make, monkeypatch, capsys):
    service = make()
    old, new = finished(service, A, age_days=45, size=MB), finished(service, A, age_days=1)
    monkeypatch.setenv("MNIST_STUDIO_RUNS", str(service.runs_dir))
    monkeypatch.setenv("MNIST_STUDIO_KEEP_RUNS", "1")
    monkeypatch.setenv("MNIST_STUDIO_KEEP_DAYS", "30")
    assert runs_cli(["prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Would remove 1 run(s), 1.0 MB" in out and old in out and new not in out
    assert {r.id for r in service.db.list()} == {old, new}  # a dry run removes nothing
    assert runs_cli(["prune", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "Removed 1 run(s)" in out and old in out
    assert [r.id for r in service.db.list()] == [new]
    assert runs_cli(["prune"]) == 0 and "Nothing to remove." in capsys.readouterr().out
    assert runs_cli(["prune", "--runs", str(service.runs_dir / "nowhere")]) == 2


def test_folder_bytes_counts_nested_files_and_a_missing_folder_is_empty(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "x").write_bytes(b"12345")
    (tmp_path / "a" / "b" / "y").write_bytes(b"123")
    os.symlink(tmp_path / "a" / "x", tmp_path / "a" / "link")  # not followed
    assert folder_bytes(tmp_path / "a") == 8 and folder_bytes(tmp_path / "none") == 0


def test_per_address_caps_back_the_per_visitor_ones(make):
    """Two visitors from one address (a script that dropped its cookie) share its cap."""
    service = make(max_active_per_visitor=2, max_active_per_address=3)
    service.submit(cfg(), A)
    service.submit(cfg(), A)
    service.submit(cfg(), B)
    with pytest.raises(LimitReached, match="3 runs from your network address are queued or "
                                           "training; the limit is 3 per address"):
        service.submit(cfg(), B)
    service.submit(cfg(), Viewer("v:carol", address="10.0.0.2"))  # another address
    assert service.db.active_at("10.0.0.1") == 3


def test_uploads_per_address_count_every_visitor_seen_there(make):
    service = make(max_uploads_per_address=2)
    for viewer in (A, B):
        service.db.visitors.seen(viewer.id, viewer.address, new=True)
        folder = visitor_folder(service.runs_dir, viewer.id)
        folder.mkdir(parents=True)
        (folder / "m.pt").write_bytes(b"x")
    with pytest.raises(LimitReached, match="from your network address keep 2 uploaded"):
        service.quotas.check_upload(Viewer("v:dave", address="10.0.0.1"), 10)
    service.quotas.check_upload(Viewer("v:erin", address="10.9.9.9"), 10)


def test_a_database_from_before_pins_and_addresses_gets_their_columns(tmp_path):
    """An existing runs.sqlite (made by the previous schema) opens, and keeps its runs."""
    import sqlite3

    from core.runs.database import SCHEMA, RunDatabase
    old_schema = SCHEMA.replace("    run_dir TEXT NOT NULL,\n", "    run_dir TEXT NOT NULL\n")
    old_schema = old_schema[:old_schema.index("    pinned INTEGER")] + old_schema[
        old_schema.index(");", old_schema.index("    pinned INTEGER")):]
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    db.executescript(old_schema)
    assert "pinned" not in {r[1] for r in db.execute("PRAGMA table_info(runs)")}
    db.execute("INSERT INTO runs (id, owner, created, config, state, run_dir) "
               "VALUES ('r1', 'v:a', 1.0, '{}', 'finished', '/x')")
    db.commit()
    db.close()
    store = RunDatabase(tmp_path)
    old = store.get("r1")
    assert old.pinned is False and old.address is None
    assert store.set_pinned("r1", True).pinned


def test_the_handwriting_set_counts_and_a_full_quota_keeps_no_drawing(make):
    from core.data.handwriting import HandwritingSet
    service = make(max_stored_mb=1)
    mine = HandwritingSet(service.runs_dir, A.id)
    mine.add(np.zeros((28, 28), np.uint8) + 200, 7)
    usage = service.quotas.usage(A)
    assert 0 < usage.folder_bytes["handwriting"] == folder_bytes(mine.folder)
    assert service.quotas.usage(B).folder_bytes["handwriting"] == 0
    service.quotas.check_keep(A, 2048, "drawing")  # room left
    finished(service, A, size=MB)
    with pytest.raises(LimitReached, match="this drawing cannot be stored"):
        service.quotas.check_keep(A, 2048, "drawing")
    assert len(mine) == 1  # nothing lost
