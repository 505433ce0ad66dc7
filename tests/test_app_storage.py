"""What a visitor sees of the storage limits (AppTest): an upload past a cap refused with
a message, and the Train page's storage line with the runs retention removes next."""
from __future__ import annotations

import time
from dataclasses import asdict

from core.runs.retention import DAY
from core.runs.api import get_service
from core.runs.state import RunState
from core.train.config import TrainConfig
from core.server.visitors import Viewer
from tests.apptest import new_session, no_exception
from tests.apptest import upload_model
from ui.common.identity import VISITOR
from ui.common.state import MODEL


def test_an_upload_past_the_visitors_cap_is_refused_and_changes_nothing(env, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_MAX_UPLOADS", "1")
    at = upload_model(new_session(), "first.pt", (env["weights"] / "mnist-bn-cnn.pt").read_bytes())
    chosen = at.selectbox(key=MODEL).value
    assert chosen.startswith("upload:")
    upload_model(at, "second.pt", (env["weights"] / "mnist-ffnn-small.pt").read_bytes())
    errors = [e.value for e in at.error]
    assert any(e.startswith("Not added. You have uploaded 1 checkpoints, the most a visitor "
                            "may keep here is 1") for e in errors), errors
    assert at.selectbox(key=MODEL).value == chosen
    assert len(list((env["runs"] / ".uploads").rglob("*.pt"))) == 1


def test_the_train_page_shows_usage_and_the_runs_retention_removes_next(env, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_KEEP_RUNS", "1")
    monkeypatch.setenv("MNIST_STUDIO_KEEP_DAYS", "7")
    monkeypatch.setenv("MNIST_STUDIO_PRUNE_MINUTES", "0")  # the scheduler leaves them: shown only
    me = Viewer("v:storage")
    service = get_service(env["runs"])
    ids = []
    for age in (30, 20, 1):  # days: the oldest two go, the newest stays
        cfg = TrainConfig(dataset="mnist", model="ffnn-small", epochs=1, device="cpu")
        run = service.submit(cfg, me)
        service.db.transition(run.id, RunState.CANCELLED, [RunState.QUEUED])
        service.db.update(run.id, created=time.time() - age * DAY)
        ids.append(run.id)
    at = new_session("train", visitor=me.id)
    no_exception(at)
    assert at.session_state[VISITOR] == me.id
    (box,) = [e for e in at.expander if e.label.startswith("Your storage:")]
    assert "3 runs" in box.label and "2 runs due for removal" in box.label, box.label
    assert "of 2,000 MB" in box.label
    table = box.dataframe[0].value
    assert sorted(table["Run"]) == sorted(ids[:2])
    text = " ".join(c.value for c in box.caption)
    assert "each visitor's 1 newest runs and every run newer than 7 days" in text
