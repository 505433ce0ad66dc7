"""Classify on a busy server: a stroke whose model queue is full is asked again (the page
says "Busy ... Retrying" meanwhile) and answered once there is room; past the retry time
it says so in words, with no traceback and no guess."""
from __future__ import annotations

import pytest

from core.predict.batching import Busy
from tests.apptest import digit_canvas, metric_value, new_session, no_exception
from ui.classify import view
from ui.common.state import CANVAS_RGBA


class _Crowded:
    """A batcher whose queue is full for the first `busy` calls, then answers."""

    def __init__(self, real, busy: int) -> None:
        self.real, self.busy, self.calls = real, busy, 0

    def answer(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.busy:
            raise Busy("48 inputs are waiting for the model")
        return self.real.answer(*args, **kwargs)


@pytest.fixture
def crowded(monkeypatch):
    """Swap the page's batcher for a crowded one; short retries (the page's own logic)."""
    made = {}

    def batcher(entry, busy):
        made["it"] = _Crowded(real_batcher(entry), busy)
        return made["it"]

    real_batcher = view.batcher
    monkeypatch.setattr(view, "RETRY_FIRST_S", 0.01)
    return monkeypatch, batcher, made


def test_a_busy_model_is_asked_again_and_the_answer_comes(env, crowded):
    monkeypatch, batcher, made = crowded
    monkeypatch.setattr(view, "batcher", lambda entry: made.get("it") or batcher(entry, 2))
    at = new_session()
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    no_exception(at)
    assert made["it"].calls == 3  # two refusals, then the answer
    assert metric_value(at, "Prediction")
    assert not [w for w in at.warning if w.value == view.TOO_BUSY]
    assert not [i for i in at.info if i.value == view.BUSY]  # the note went with the answer


def test_past_the_retry_time_it_says_so_and_guesses_nothing(env, crowded):
    monkeypatch, batcher, made = crowded
    monkeypatch.setattr(view, "RETRY_SECONDS", 0.3)
    monkeypatch.setattr(view, "batcher", lambda entry: made.get("it") or batcher(entry, 10**6))
    at = new_session()
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    no_exception(at)
    assert made["it"].calls >= 2  # it did retry
    assert [w for w in at.warning if w.value == view.TOO_BUSY]
    assert not [m for m in at.metric if m.label == "Prediction"]
