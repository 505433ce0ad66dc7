"""Views that confused a new user (issue 22, items 9-12), through AppTest on the fake data."""
from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.runs.service import RunService, get_service, shutdown_services
from core.train.config import TrainConfig
from core.visitors import Viewer
from tests.test_app import APP, PAGES, TIMEOUT, _no_exception, env, weights  # noqa: F401
from ui.common.identity import VISITOR

VISITOR_ID = "v:views-test"
BASE = dict(dataset="mnist", model="ffnn-small", batch_size=64, device="cpu",
            schedule="constant")


def _finished_runs(env, *configs: dict) -> list[str]:
    """Runs trained to the end by the runner, then the service shut down (a restart)."""
    svc, me = get_service(env["runs"]), Viewer(VISITOR_ID)
    ids = [svc.submit(TrainConfig(**BASE, data_dir=str(env["data"]), **c), me).id
           for c in configs]
    for run_id in ids:
        svc.wait(run_id, me, timeout=180)
    shutdown_services()
    return ids


def _open(page: str, **query: str) -> AppTest:
    """A new tab of the same visitor opening the page's URL directly."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[VISITOR] = VISITOR_ID
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(page)
    return at


# ------------------------------------------------------------------ 9: Train after a restart

def test_a_linked_run_is_drawn_before_the_settings_form(env, monkeypatch):
    """After a restart /train?run=<id> showed only the form for ~6 s: the form's cost
    estimate (torch counting FLOPs, ~2 s the first time) came before the run. Stopping the
    page where the estimate starts shows what the browser shows meanwhile."""
    (run_id,) = _finished_runs(env, dict(epochs=1))

    def still_counting(self, cfg):
        st.stop()

    monkeypatch.setattr(RunService, "estimate", still_counting)
    at = _open(PAGES["train"], run=run_id).run()
    _no_exception(at)
    assert at.selectbox(key="train_show").value == run_id
    assert any(s.value.startswith("**Finished**") for s in at.success), \
        [m.value for m in at.markdown]
    assert "Use this model" in {b.label for b in at.button}


def test_a_linked_run_with_the_whole_page(env):
    (run_id,) = _finished_runs(env, dict(epochs=1))
    at = _open(PAGES["train"], run=run_id).run()
    _no_exception(at)
    assert at.selectbox(key="train_show").value == run_id
    assert any(s.value.startswith("**Finished**") for s in at.success)
    assert "Start training" in {b.label for b in at.button}
