"""The two long waits of a first visit, through AppTest: Evaluate's accuracy under attack and
Inside the model's embedding map run in the background with their progress on the page
(count of images done, a bar), and go on while the visitor is on another page.

The computation is held half-way by the test (an Event), so the page can be looked at
while it runs; on the fake data it would otherwise be over in a blink."""
from __future__ import annotations

import threading
import time

import pytest

import core.evaluate.embedding as embedding_module
import core.evaluate.robust as robust_module
from tests.apptest import PAGES, metric_value, new_session, no_exception

INSIDE = "pages/inside.py"


def _until(check, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.1)


@pytest.fixture
def held(monkeypatch):
    """Hold the attack and the map's pass after their first 40 images until released."""
    release, started = threading.Event(), []
    real_attack, real_features = robust_module.robust_accuracy, embedding_module.penultimate_features

    def hold(real):
        def held_call(*args, progress=None, **kwargs):
            started.append(real.__name__)
            if progress is not None:
                progress(40, 100)
            assert release.wait(120), "never released"
            return real(*args, progress=progress, **kwargs)
        return held_call

    monkeypatch.setattr(robust_module, "robust_accuracy", hold(real_attack))
    monkeypatch.setattr(embedding_module, "penultimate_features", hold(real_features))
    yield release, started
    release.set()  # never leave a thread waiting


def test_the_attack_shows_its_progress_and_goes_on_while_the_visitor_is_away(env, held):
    release, started = held
    at = new_session("evaluate")
    at.select_slider(key="eval_eps").set_value(0.2).run()
    at.button(key="eval_robust").click().run()  # returns at once: the attack is not done
    no_exception(at)
    assert at.progress
    _until(lambda: started)  # its thread has reported 40 images (a busy machine: later)
    at.run()
    bar, = at.progress
    assert bar.text == ("Attacking at ε=0.2: 40 of 100 test images (it goes on if you leave "
                        "this page)") and bar.value == 40
    assert not [b for b in at.button if b.key == "eval_robust"]  # nothing to start twice
    other = new_session("evaluate")  # another session (or tab) sees the same attack, not a button
    other.select_slider(key="eval_eps").set_value(0.2).run()
    assert other.progress and not [b for b in other.button if b.key == "eval_robust"]

    at.switch_page(PAGES["explore"]).run()  # the visitor leaves ...
    release.set()
    _until(lambda: list((env["cache"] / "robust").glob("*.json")))  # ... it finishes meanwhile
    at.switch_page(PAGES["evaluate"]).run()  # ... and comes back to the result
    no_exception(at)
    assert not at.progress and metric_value(at, "Under attack, ε=0.2").endswith("%")
    assert started == ["robust_accuracy"]  # computed once


def test_the_map_shows_its_progress_and_goes_on_while_the_visitor_is_away(env, held):
    release, started = held
    at = new_session()
    at.switch_page(INSIDE).run()
    no_exception(at)
    assert at.title[0].value.endswith("Inside the model")  # the rest of the page is there
    assert at.progress
    _until(lambda: started)
    at.run()
    bar, = at.progress
    assert bar.text.startswith("Mapping the test images: 40 of 100") and bar.value == 40
    assert not any(c.proto.id and "inside_map" in c.proto.id for c in at.get("plotly_chart"))

    at.switch_page(PAGES["train"]).run()
    release.set()
    _until(lambda: list((env["cache"] / "embeddings").glob("*.npz")))
    at.switch_page(INSIDE).run()
    no_exception(at)
    assert not at.progress
    assert any(c.proto.id and "inside_map" in c.proto.id for c in at.get("plotly_chart"))
    assert started == ["penultimate_features"]
