"""Views that confused a new user, through AppTest on the fake data."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.networks.checkpoints import load_checkpoint
from core.predict.classify import classify
from core.predict.preprocess import from_canvas
from core.runs.compare import run_labels
from core.runs.api import RunService, get_service, shutdown_services
from core.train.config import TrainConfig
from core.server.visitors import Viewer
from tests.apptest import APP, PAGES, TIMEOUT, no_exception
from ui.classify import canvas
from ui.classify.canvas_component import Drawing, parse
from ui.common.identity import VISITOR
from ui.common.state import CANVAS_ROUND

VISITOR_ID = "v:views-test"
COMPARE = "pages/compare.py"
BASE = dict(dataset="mnist", model="ffnn-small", batch_size=64, device="cpu",
            schedule="constant")


def _finished_runs(env, *configs: dict) -> list[str]:
    """Runs trained to the end by the scheduler, then the service shut down (a restart).
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
    no_exception(at)
    assert at.selectbox(key="train_show").value == run_id
    assert any(s.value.startswith("**Finished**") for s in at.success), \
        [m.value for m in at.markdown]
    assert "Use this model" in {b.label for b in at.button}


def test_a_linked_run_with_the_whole_page(env):
    (run_id,) = _finished_runs(env, dict(epochs=1))
    at = _open(PAGES["train"], run=run_id).run()
    no_exception(at)
    assert at.selectbox(key="train_show").value == run_id
    assert any(s.value.startswith("**Finished**") for s in at.success)
    assert "Start training" in {b.label for b in at.button}
    assert any(c.value.startswith("Estimated training time: **") for c in at.caption)


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
    no_exception(at)
    assert at.multiselect(key="compare_runs").value == [good]
    at.multiselect(key="compare_runs").select(diverged).run()
    no_exception(at)
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


# ------------------------------------------------------------------ 12: Undo on the canvas

def _stroke(*points: tuple[float, float]) -> dict:
    """A freehand stroke as the canvas component sends it (a fabric.js Path)."""
    (x0, y0), rest = points[0], points[1:]
    return {"type": "Path", "stroke": "#FFFFFF", "strokeWidth": canvas.STROKE,
            "path": [["M", x0, y0], *[["L", x, y] for x, y in rest]]}


class FakeCanvas:
    """The canvas component's value, as the browser keeps it: a key's value is the last
    one the browser sent; a key just mounted has its initial strokes and no image (it
    sends one at its next stroke)."""

    def __init__(self) -> None:
        self.sent: dict[str, tuple[list[dict], np.ndarray]] = {}

    def __call__(self, key: str, size: int, stroke: int, initial: list | None = None,
                 on_stroke=None) -> Drawing:
        return parse(self.held(key), initial)

    def held(self, key: str) -> dict | None:
        """The component's state under its key (None: nothing sent yet)."""
        if key not in self.sent:
            return None
        objects, image = self.sent[key]
        url = "data:image/png;base64," + base64.b64encode(_png(image)).decode()
        return {"drawing": {"raw": {"objects": objects}, "data": url}}


def _png(rgba: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgba).save(out, format="PNG")
    return out.getvalue()


def _prediction(at: AppTest) -> list[str]:
    return [m.value for m in at.metric if m.label == "Prediction"]


def test_undo_after_two_quick_strokes_keeps_the_prediction_of_what_is_left(env, monkeypatch):
    """Two strokes less than 200 ms apart reach the app as one value with 2 objects; Undo
    then left one stroke on the canvas but no prediction and the "Draw a digit" hint."""
    fake = FakeCanvas()
    monkeypatch.setattr(canvas, "drawing_canvas", fake)
    monkeypatch.setattr(canvas, "held", fake.held)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    no_exception(at)
    assert not _prediction(at)  # an empty canvas: the hint

    bar, cross = _stroke((140, 40), (140, 240)), _stroke((60, 140), (220, 140))
    both = canvas.render_strokes([bar, cross])
    mounted = at.session_state[CANVAS_ROUND] if CANVAS_ROUND in at.session_state else 0
    fake.sent[f"canvas-{mounted}"] = ([bar, cross], both)  # one value for both strokes
    at.run()
    no_exception(at)
    assert len(_prediction(at)) == 1

    at.button(key="classify_undo").click().run()
    no_exception(at)
    ckpt = load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")
    left = classify(ckpt.model, from_canvas(canvas.render_strokes([bar]), "mnist"),
                    ckpt.meta.class_names)
    assert _prediction(at) == [left.label]
    assert not any(i.value.startswith("Draw a") for i in at.info)
    assert at.button(key="classify_undo").disabled is False  # one stroke left to undo

    at.button(key="classify_undo").click().run()
    no_exception(at)
    assert not _prediction(at) and any(i.value.startswith("Draw a") for i in at.info)
    assert at.button(key="classify_undo").disabled


def test_strokes_are_drawn_as_the_browser_draws_them():
    """A re-mounted canvas sends no image: the app draws its strokes itself, white on
    black, 10 px wide with round ends, like the browser's canvas."""
    image = canvas.render_strokes([_stroke((140, 40), (140, 240))])
    assert image.shape == (canvas.SIZE, canvas.SIZE, 4) and image.dtype == np.uint8
    assert (image[..., 3] == 255).all() and (image[..., 0] == image[..., 2]).all()
    # The browser inks the pixels whose centres lie within 5 px of the segment.
    y, x = np.mgrid[:canvas.SIZE, :canvas.SIZE] + 0.5
    capsule = np.hypot(x - 140, y - np.clip(y, 40, 240)) <= canvas.STROKE / 2
    ink = image[..., 0] > 127
    assert (ink & capsule).sum() / (ink | capsule).sum() > 0.95
    # A quadratic segment (the component's freehand strokes are Q segments) passes
    # through its end points, bending towards its control point.
    curve = {"type": "Path", "strokeWidth": 10,
             "path": [["M", 40, 200], ["Q", 140, 40, 240, 200]]}
    ink = canvas.render_strokes([curve])[..., 0] > 127
    assert ink[200, 40] and ink[200, 240] and ink[120, 140] and not ink[60, 140]
    assert canvas.render_strokes([]).max(axis=(0, 1)).tolist() == [0, 0, 0, 255]
