"""Views that confused a new user (issue 22, items 9-12), through AppTest on the fake data."""
from __future__ import annotations

import json

import streamlit as st
from streamlit.testing.v1 import AppTest

from core.runs.compare import run_labels
from core.runs.service import RunService, get_service, shutdown_services
from core.train.config import TrainConfig
from core.visitors import Viewer
from tests.test_app import APP, PAGES, TIMEOUT, _no_exception, env, weights  # noqa: F401
from ui.common.identity import VISITOR

VISITOR_ID = "v:views-test"
COMPARE = "pages/compare.py"
BASE = dict(dataset="mnist", model="ffnn-small", batch_size=64, device="cpu",
            schedule="constant")


def _finished_runs(env, *configs: dict) -> list[str]:
    """Runs trained to the end by the runner, then the service shut down (a restart).
    Submitted as an admin of the visitor's own id: past the per-visitor limit of 2."""
    svc, me = get_service(env["runs"]), Viewer(VISITOR_ID, admin=True)
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


# ------------------------------------------------------------------ 10: Compare runs

def test_compare_opens_on_the_best_run_names_runs_and_says_why_a_run_has_no_curve(env):
    """The newest runs were a diverged and a near-chance one, the legend said only time
    stamps and a diverged run said "No validation accuracy recorded yet"."""
    good, near_chance, diverged = _finished_runs(
        env, dict(epochs=2, lr=3e-3), dict(epochs=1, lr=1e-5, optimizer="sgd"), dict(epochs=2, lr=2.0))
    svc, me = get_service(env["runs"]), Viewer(VISITOR_ID)
    snaps = {i: svc.get(i, me) for i in (good, near_chance, diverged)}
    assert snaps[diverged].state == "diverged" and not snaps[diverged].epochs
    assert snaps[near_chance].result.near_chance and not snaps[good].result.near_chance

    at = _open(COMPARE).run()
    _no_exception(at)
    assert at.multiselect(key="compare_runs").value == [good]
    at.multiselect(key="compare_runs").select(diverged).run()
    _no_exception(at)
    chart = next(c for c in at.get("plotly_chart") if "compare_chart" in c.proto.id)
    figure = json.loads(chart.proto.spec)
    names = [t["name"] for t in figure["data"]]
    assert names == run_labels([snaps[good], snaps[diverged]])
    assert names[0].startswith("ffnn-small · mnist · lr 0.003 · 2 epochs · val ")
    assert names[1].startswith("ffnn-small · mnist · lr 2 · 2 epochs · diverged")
    assert figure["layout"]["yaxis"]["tickformat"] in (".0%", ".1%")
    captions = [c.value for c in at.caption]
    assert f"**{names[1]}**: diverged before its first validation." in captions, captions
    assert not any("recorded yet" in c for c in captions)
    assert list(at.dataframe[0].value.columns) == ["differs", *names]
