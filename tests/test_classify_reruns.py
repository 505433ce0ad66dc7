"""What a stroke's rerun builds, counted on the real server (`streamlit run`, driven over its
websocket as the browser does: bench/protocol.py): the answer reruns alone with the
canvas's buttons (not the panel with its canvas and options, not the page, not the
sidebar), preprocesses once, asks the model once, builds each figure once, and sends no
canvas; a click on the teach buttons or the "every model" toggle reruns its own
fragment, not the model.

The counts are the app's own (ui.common.timings: counts per script run)."""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from bench.appserver import REAL_DATA, SHIPPED_WEIGHTS, AppSetup, serve, snapshot_shipped_weights
from bench.protocol import Session
from bench.strokes import canvas_value
from tests.conftest import real_data_present
from ui.common import timings

pytestmark = pytest.mark.skipif(
    not (real_data_present() and (SHIPPED_WEIGHTS / "manifest.json").is_file()),
    reason="needs the real MNIST data and the shipped weights")

STROKE_COUNTS = {"preprocess": 1, "model answer": 1, "figure": 3}


def _runs_after(path, n: int, want: int, timeout: float = 20) -> list[dict]:
    """The timings records after the first n, once `want` of them are written."""
    deadline = time.monotonic() + timeout
    while True:
        records = timings.read(path)[n:]
        if len(records) >= want or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


async def _visit(app) -> dict:
    s = Session(app.url)
    try:
        reply = await s.open()
        canvas = s.widget("bidi_component", "canvas")
        panel = next(iter(reply.fragments))
        rng = np.random.default_rng(0)
        seen: dict[str, list] = {}

        async def step(name: str, runs: int = 1, **rerun) -> None:
            before = len(timings.read(app.timings))
            got = await s.rerun(**rerun)
            assert not got.exceptions, got.exceptions
            # guarded(): a failure shown in words (a fragment's misplaced write, say)
            assert not [t for t in got.texts if "Something went wrong" in t], got.texts
            time.sleep(0.3)  # any further run's record
            seen[name] = [got, _runs_after(app.timings, before, runs)]

        for i in (1, 2):
            s.set_json(canvas, canvas_value(1, rng))
            await step(f"stroke {i}", runs=2, fragment_id=s.fragment_of.get(canvas, panel))
        teach = s.widget("button", "It's a")
        await step("teach", trigger=teach, fragment_id=s.fragment_of[teach])
        compare = s.widget("checkbox", "Compare all")
        s.set_bool(compare, True)
        await step("every model", fragment_id=s.fragment_of[compare])
        return seen
    finally:
        await s.close()


def test_a_stroke_reruns_the_panel_alone_and_builds_each_thing_once(tmp_path):
    snapshot_shipped_weights(tmp_path / "weights")
    (tmp_path / "runs").mkdir()
    setup = AppSetup(data_root=REAL_DATA, real_data=True, weights=tmp_path / "weights",
                     shipped_weights=True, runs=tmp_path / "runs")
    with serve(setup, tmp_path, "reruns") as app:
        seen = asyncio.run(_visit(app))

    for name in ("stroke 1", "stroke 2"):
        reply, records = seen[name]
        assert reply.metrics["Prediction"] == "1"
        assert not {"bidi_component", "radio", "selectbox"} & set(reply.elements), reply.elements
        # The answer and the canvas's buttons: not the panel (its canvas, its options),
        # not a full run.
        assert sorted(r["run"] for r in records) == ["canvas tools", "classify"], records
        records = [r for r in records if r["run"] == "classify"]
        counts = records[0]["counts"]
        assert {k: counts.get(k) for k in STROKE_COUNTS} == STROKE_COUNTS, counts
        assert not {"every model", "explanation pass", "busy"} & set(counts), counts
        stages = {s[0] for s in records[0]["stages"]}
        assert "identity" not in stages and "page" not in stages  # the entry script's
        assert "canvas" not in stages and "options" not in stages  # the panel's

    reply, records = seen["teach"]
    assert [r["run"] for r in records] == ["teach"], records  # its fragment alone
    assert not records[0]["counts"], records[0]["counts"]  # no model, no figure
    assert any("In your handwriting as a **1**" in t for t in reply.texts), reply.texts

    reply, records = seen["every model"]
    assert [r["run"] for r in records] == ["every model"], records
    assert records[0]["counts"] == {"every model": 1}
    assert any("models say" in t or "disagree" in t for t in reply.texts), reply.texts
