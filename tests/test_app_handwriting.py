"""The handwriting pieces of the app, through AppTest: "It's a 7" on Classify keeps the input
the model saw, the Your handwriting page shows it to its visitor only, deletes it, and
refuses a fine-tune it cannot do with a clear message."""
from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from core.data.handwriting import HandwritingSet
from core.predict.preprocess import from_canvas
from tests.apptest import new_session, digit_canvas, metric_value, no_exception
from tests.test_app_model_files import FLAG, weights_with_threshold
from ui.common.identity import VISITOR
from ui.common.state import CANVAS_RGBA

PAGE = "pages/handwriting.py"


def _drawn(visitor: str):
    at = new_session(visitor=visitor)
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    no_exception(at)
    return at


def _fix(at: AppTest, digit) -> None:
    """A click on one of the other digits' pills."""
    at.button_group(key="teach_fix").set_value(int(digit)).run()


def test_correcting_the_label_keeps_the_input_the_model_saw(env):
    at = _drawn("v:alice")
    predicted = metric_value(at, "Prediction")
    assert at.button(key="teach_confirm").label == f"It's a {predicted}"
    wrong = next(d for d in range(10) if str(d) != predicted)
    _fix(at, wrong)
    no_exception(at)
    assert at.button_group(key="teach_fix").value is None  # cleared for another click
    hw = HandwritingSet(env["runs"], "v:alice")
    item, = hw.items()
    assert item.label == wrong
    assert np.array_equal(item.image, from_canvas(digit_canvas(), "mnist").image)
    assert any(f"as a **{wrong}**" in c.value for c in at.caption)

    at.button(key="teach_confirm").click().run()  # a second click relabels, never duplicates
    item, = hw.items()
    assert str(item.label) == predicted


def test_the_page_shows_the_set_to_its_visitor_only_and_deletes(env):
    at = _drawn("v:alice")
    _fix(at, 3 if metric_value(at, "Prediction") != "3" else 4)
    at.switch_page(PAGE).run()
    no_exception(at)
    assert any(e.label.endswith("· 1 drawing") for e in at.expander)
    assert {b.label for b in at.get("download_button")} >= {".npz (images, labels)",
                                                             "IDX, like MNIST's (.zip)"}

    other = new_session(visitor="v:mallory")
    other.switch_page(PAGE).run()
    no_exception(other)
    assert not [e for e in other.expander if "drawing" in e.label]
    assert any("Your set is empty" in i.value for i in other.info)

    item_id = HandwritingSet(env["runs"], "v:alice").ids()[0]
    at.button(key=f"hw_del_{item_id}").click().run()
    no_exception(at)
    assert len(HandwritingSet(env["runs"], "v:alice")) == 0


def test_fine_tuning_too_few_drawings_says_how_many_are_needed(env):
    at = _drawn("v:alice")
    at.button(key="teach_confirm").click().run()
    at.switch_page(PAGE).run()
    at.button(key="hw_tune").click().run()
    no_exception(at)
    assert any("needs at least 2" in e.value for e in at.error), [e.value for e in at.error]
    # In the page's words: its choice is "none (no measure)", not the CLI's "holdout 0".
    (error,) = [e.value for e in at.error if "needs at least 2" in e.value]
    assert error.endswith("Or choose **none (no measure)** under *Held out to test on*.")
    assert "holdout 0" not in error
    assert at.session_state[VISITOR] == "v:alice"


def test_a_flagged_input_is_kept_only_after_a_question(env, tmp_path, monkeypatch):
    """A letter or a scribble that the model flags "I don't know" does not go into the set
    with one click: the click asks, "No" keeps nothing, "Yes, keep it as a 3" keeps it."""
    weights_with_threshold(env, tmp_path, monkeypatch, offset=-1e-3)  # the canvas is flagged
    at = _drawn("v:alice")
    assert any(FLAG in w.value for w in at.warning)
    hw = HandwritingSet(env["runs"], "v:alice")
    wrong = "3" if metric_value(at, "Prediction") != "3" else "4"
    _fix(at, wrong)
    no_exception(at)
    assert len(hw) == 0  # asked, not kept
    question, = [w.value for w in at.warning if "Is this really" in w.value]
    assert question.startswith(f"**Is this really a {wrong}?** The model flagged it")
    at.button(key="teach_no").click().run()
    assert len(hw) == 0 and not any("Is this really" in w.value for w in at.warning)

    _fix(at, wrong)
    assert at.button(key="teach_yes").label == f"Yes, keep it as a {wrong}"
    at.button(key="teach_yes").click().run()
    no_exception(at)
    item, = hw.items()
    assert str(item.label) == wrong
    assert any(f"as a **{wrong}**" in c.value for c in at.caption)
    # Kept: correcting its label again is one click, as for any kept drawing.
    at.button(key="teach_confirm").click().run()
    item, = hw.items()
    assert str(item.label) == metric_value(at, "Prediction")
