"""The sidebar's choice lives in the page's URL (?dataset=...&model=...): a refresh, a
bookmark or a link opens the same model, on every page (AppTest: a new AppTest is a new
browser session, given the URL's query parameters the last one ended with)."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.apptest import APP, PAGES, TIMEOUT, digit_canvas, new_session, no_exception
from ui.common.state import CANVAS_RGBA, DATASET, MODEL

CHOSEN = "shipped:mnist-bn-cnn.pt"  # not the default (mnist-ffnn-small.pt)


def _open(query: dict, page: str = "classify") -> AppTest:
    """A new session on a URL with these query parameters (a refresh, a bookmark)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    if page != "classify":
        at.switch_page(PAGES[page]).run()
    no_exception(at)
    return at


def test_the_chosen_model_survives_a_refresh_on_every_page(env):
    at = new_session()
    assert at.query_params == {}  # the default: a plain URL
    at.sidebar.selectbox(key=MODEL).set_value(CHOSEN).run()
    assert at.query_params == {"model": CHOSEN}
    at.switch_page(PAGES["evaluate"]).run()  # a page switch drops the URL's parameters ...
    no_exception(at)
    assert at.query_params == {"model": CHOSEN}  # ... the page writes them

    for page in ("classify", "evaluate", "train"):  # refresh, or a bookmark of that page
        again = _open(dict(at.query_params), page)
        assert again.sidebar.selectbox(key=MODEL).value == CHOSEN, page
        assert again.query_params["model"] == CHOSEN

    # The page itself uses it, not only the sidebar: Classify's answer names the model.
    again = _open(dict(at.query_params))
    again.session_state[CANVAS_RGBA] = digit_canvas()
    again.run()
    assert any(c.value.startswith("bn-cnn") for c in again.caption), [c.value for c in again.caption]


def test_a_fashion_link_opens_on_fashion(env):
    at = _open({"dataset": "fashion", "model": "shipped:fashion-ffnn-small.pt"})
    assert at.session_state[DATASET] == "fashion"
    assert at.sidebar.selectbox(key=MODEL).value == "shipped:fashion-ffnn-small.pt"
    assert at.query_params == {"dataset": "fashion"}  # fashion's default model: left out
    at.sidebar.selectbox(key=DATASET).set_value("mnist").run()
    assert at.query_params == {}


def test_a_link_to_a_model_this_visitor_does_not_have_says_so(env):
    at = _open({"dataset": "mnist", "model": "run:20260101-000000-mnist-cnn-dead"})
    assert at.sidebar.selectbox(key=MODEL).value == "shipped:mnist-ffnn-small.pt"
    note, = [i.value for i in at.sidebar.info if "link" in i.value]
    assert "`run:20260101-000000-mnist-cnn-dead`" in note and "another visitor's run" in note
    assert "model" not in at.query_params  # the URL tells the truth: the default
    at.run()
    assert not [i for i in at.sidebar.info if "link" in i.value]  # said once
