"""Classify's "Fool it" panel through AppTest: closed it costs nothing; open, it fools the
drawn digit within the budget, shows the change and the transfer to the other models, and
says so when the budget is too small or zero."""
from __future__ import annotations

import json
import time
from pathlib import Path

from core.networks.checkpoints import load_checkpoint
from core.data import load_split
from core.evaluate.robust import robust_accuracy
from core.runs.api import get_service
from tests.apptest import ADMIN, new_session, digit_canvas, metric_value, no_exception
from core.predict.attacks import DEFAULT_EPS
from ui.classify.fool import OPEN
from ui.common.state import CANVAS_RGBA

SHIPPED = Path(__file__).resolve().parent.parent / "weights"


def _drawn_and_open(eps: float):
    at = new_session()
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.session_state[OPEN] = True  # as a click on the expander leaves it
    at.session_state["fool_eps"] = eps
    at.run()
    no_exception(at)
    return at


def test_closed_the_panel_runs_no_attack(env):
    at = new_session()
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    no_exception(at)
    assert any(e.label.startswith("Fool it") for e in at.expander)
    assert not [m for m in at.metric if m.label == "Now it says"]


def test_the_panel_fools_the_drawing_within_its_budget(env):
    at = _drawn_and_open(0.3)
    before = metric_value(at, "Prediction")
    assert [s.value for s in at.success if s.value.startswith("Fooled: it now says")]
    assert metric_value(at, "Now it says") != before
    assert float(metric_value(at, "L∞ size")) <= 0.3
    titles = {json.loads(c.proto.spec)["layout"]["title"]["text"]
              for c in at.get("plotly_chart") if "fool" in c.proto.id}
    assert {"Original", "Perturbed"} <= titles
    assert any(t.startswith("Change ×") for t in titles)
    transfer, = [d.value for d in at.dataframe]
    assert len(transfer) == 2  # both mnist models of the test weights
    assert transfer["fooled"].any()
    assert any("Transfer:" in m.value for m in at.markdown)


def _shipped(tmp_path, monkeypatch, name: str) -> None:
    """The app's weights: one shipped model (the test weights barely learned the fake
    data, so the smallest budget fools them)."""
    (tmp_path / "shipped").mkdir()
    (tmp_path / "shipped" / name).symlink_to(SHIPPED / name)
    monkeypatch.setenv("MNIST_STUDIO_WEIGHTS", str(tmp_path / "shipped"))


def test_a_budget_too_small_says_so_without_a_transfer_table(env, tmp_path, monkeypatch):
    # The shipped cnn reads the drawn 1 with confidence.
    _shipped(tmp_path, monkeypatch, "mnist-cnn.pt")
    at = _drawn_and_open(0.01)
    assert any(w.value.startswith("Not fooled at eps=0.01") for w in at.warning), \
        [w.value for w in at.warning]
    # A failed attack has nothing to transfer: no table of models "not fooled".
    assert not at.dataframe and not any("Transfer:" in m.value for m in at.markdown)
    # The slider starts above 0 (0 was offered, then refused: nothing may change at 0).
    assert at.slider(key="fool_eps").min == 0.01


def test_the_panel_opens_on_a_budget_that_fools_the_default_model(env, tmp_path, monkeypatch):
    """It opened on eps 0.1: "Not fooled at eps=0.1 in 40 steps" for the default resnet."""
    _shipped(tmp_path, monkeypatch, "mnist-resnet.pt")
    at = new_session()
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.session_state[OPEN] = True
    at.run()
    no_exception(at)
    assert at.slider(key="fool_eps").value == DEFAULT_EPS
    assert any(s.value.startswith("Fooled: it now says") for s in at.success), \
        [w.value for w in at.warning]
    assert any(m.value.startswith("**Transfer:** the same perturbed image fools 1 of 1 MNIST "
                                  "digits model") for m in at.markdown)


def test_aiming_at_the_answer_it_already_gives_is_refused(env):
    at = _drawn_and_open(0.3)
    answer = metric_value(at, "Prediction")
    at.selectbox(key="fool_target").set_value(int(answer)).run()
    no_exception(at)
    assert any(f"already answers {answer}" in w.value for w in at.warning)


def test_evaluate_shows_accuracy_under_attack_once_computed(env):
    at = new_session("evaluate")
    assert not [m for m in at.metric if m.label.startswith("Under attack")]
    at.select_slider(key="eval_eps").set_value(0.2).run()
    at.button(key="eval_robust").click().run()
    no_exception(at)
    deadline = time.monotonic() + 60  # it runs in the background: rerun until it is done
    while not [m for m in at.metric if m.label.startswith("Under attack")]:
        assert time.monotonic() < deadline and at.progress, "no result, no progress"
        time.sleep(0.2)
        at.run()
    ckpt = load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")
    direct = robust_accuracy(ckpt.model, load_split("mnist", False), ckpt.meta.mean,
                             ckpt.meta.std, 0.2, samples=100)  # the fake test split: 100
    assert metric_value(at, "Under attack, ε=0.2") == f"{direct.robust_accuracy:.2%}"
    assert metric_value(at, "Clean, first 100") == f"{direct.clean_accuracy:.2%}"
    assert not [b for b in at.button if b.key == "eval_robust"]  # done: no button left
    again = new_session("evaluate")  # a new session reads it from the disk cache, no button
    again.select_slider(key="eval_eps").set_value(0.2).run()
    assert metric_value(again, "Under attack, ε=0.2") == f"{direct.robust_accuracy:.2%}"


def test_the_train_form_starts_an_adversarial_run(env):
    at = new_session("train")
    at.number_input(key="train_epochs").set_value(1)
    at.selectbox(key="train_model").set_value("ffnn-small")
    at.selectbox(key="train_adversarial").set_value("fgsm").run()  # the budget turns on
    at.number_input(key="train_adv_eps").set_value(0.9).run()
    assert any("adv_eps must be between 0.01 and 0.5, got 0.9" in w.value for w in at.warning)
    at.number_input(key="train_adv_eps").set_value(0.2)
    at.button(key="train_start").click().run()
    no_exception(at)
    assert any("Started run" in s.value for s in at.success)
    (run,) = get_service().list_runs(ADMIN)
    assert (run.config.adversarial, run.config.adv_eps) == ("fgsm", 0.2)
