"""The Streamlit app, page by page, through streamlit.testing.v1.AppTest.

Everything runs on the tiny fake datasets (tests/fakedata.py): a weights folder
with two quickly trained checkpoints is made once per module, and each test
points MNIST_STUDIO_DATA / _WEIGHTS / _RUNS / _CACHE at its own folders.
The drawing canvas is a browser component; tests put an RGBA array in
st.session_state["classify_canvas_rgba"] instead (see ui/classify/canvas.py).
"""
from __future__ import annotations

import io
import json
import logging
import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.networks.checkpoints import load_checkpoint
from core.predict.classify import classify
from core.data import DATASETS, load_split
from core.evaluate.metrics import evaluate
from core.runs.api import get_service
from core.server.visitors import Viewer
from core.predict.preprocess import from_canvas, from_image
from core.train.config import TrainConfig
from ui.common.state import CANVAS_RGBA, MODEL
from ui.common.identity import VISITOR
from tests.apptest import (ADMIN, APP, PAGES, TIMEOUT, digit_canvas, fill_train_form, metric_value,
                           new_session, no_exception, worst_pair)

def _labels(at: AppTest, kind: str) -> set[str]:
    return {w.label for w in getattr(at, kind)}


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


# ------------------------------------------------------------------ every page

EXPECTED = {
    "classify": {"radio": {"Input"}, "selectbox": {"Explain with"}, "button": {"Clear"}},
    "train": {"selectbox": {"Dataset", "Architecture", "Batch size", "Optimizer", "Schedule",
                            "Device"},
              "number_input": {"Epochs", "Learning rate", "Seed", "Cutout (px)"},
              "toggle": {"Augmentation"}, "button": {"Start training"}},
    "evaluate": {"toggle": {"Row-normalised (share of each true class)"},
                 "selectbox": {"True class", "Predicted as"},
                 "button": {"Show these mistakes"}},
    "mistakes": {"selectbox": {"True class", "Predicted as", "Order", "Per page"},
                 "button": {"Inspect"}},
    "explore": {"slider": {"Samples per class"}, "button": {"Shuffle"}},
}


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_with_its_widgets_and_the_shared_sidebar(env, page):
    at = new_session(page)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value.endswith({"classify": "Classify", "train": "Train",
                                       "evaluate": "Evaluate", "mistakes": "Mistakes",
                                       "explore": "Dataset explorer"}[page])
    for kind, labels in EXPECTED[page].items():
        assert labels <= _labels(at, kind), (kind, _labels(at, kind))
    assert [s.label for s in at.sidebar.selectbox] == ["Dataset", "Model"]
    assert "CPU (" in at.sidebar.markdown[-1].value or "GPU" in at.sidebar.markdown[-1].value


def test_page_drawn_when_another_session_left_the_legacy_pass_first(env, monkeypatch):
    """Tabs reconnecting to a restarted server start their first runs together: each
    run is Streamlit's legacy pages/ pass, and the first to reach ui.common.deep_links clears
    the process-wide flag before the others get there. Those must still leave the
    legacy pass for the entry script, not stop with an empty page."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import script_runner

    legacy_pass = script_runner._mpa_v1

    def other_session_cleared_the_flag(main_script_path: str) -> None:
        PagesManager.uses_pages_directory = False  # as another session's first run does
        legacy_pass(main_script_path)

    monkeypatch.setattr(script_runner, "_mpa_v1", other_session_cleared_the_flag)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(PAGES["train"]).run()  # a new session's first run, on /train
    no_exception(at)
    assert at.title and at.title[0].value.endswith("Train"), [t.value for t in at.title]
    assert "Start training" in _labels(at, "button")


def test_sidebar_selection_is_remembered_across_pages(env):
    at = new_session()
    at.sidebar.selectbox(key="dataset").set_value("fashion").run()
    assert at.sidebar.selectbox(key=MODEL).value == "shipped:fashion-ffnn-small.pt"
    at.sidebar.selectbox(key="dataset").set_value("mnist").run()
    at.sidebar.selectbox(key=MODEL).set_value("shipped:mnist-bn-cnn.pt").run()
    for page in ("evaluate", "mistakes", "train", "classify"):
        at.switch_page(PAGES[page]).run()
        no_exception(at)
        assert at.sidebar.selectbox(key="dataset").value == "mnist"
        assert at.sidebar.selectbox(key=MODEL).value == "shipped:mnist-bn-cnn.pt"


def test_no_model_available_says_how_to_get_one(env, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_STUDIO_WEIGHTS", str(tmp_path / "empty"))
    for page in ("classify", "evaluate", "mistakes"):
        at = new_session(page)
        assert any("python -m core.train" in i.value for i in at.info), page
        assert any("Train" in w.value for w in at.sidebar.warning)


def test_missing_data_is_a_message_not_a_traceback(env, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_STUDIO_DATA", str(tmp_path / "no-data"))
    for page in ("evaluate", "mistakes", "explore"):
        at = new_session(page)  # asserts no exception
        assert any("dataset is not available" in e.value for e in at.error), page


def test_broken_checkpoint_is_a_message_not_a_traceback(env, monkeypatch, tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "mnist-cnn.pt").write_bytes(b"PK\x03\x04 truncated zip")
    monkeypatch.setenv("MNIST_STUDIO_WEIGHTS", str(folder))
    for page in ("classify", "evaluate"):
        at = new_session(page)
        assert any("model file cannot be used" in e.value for e in at.error), page


# ------------------------------------------------------------------ classify

def test_drawing_gives_the_models_prediction(env):
    at = new_session()
    assert any(el.type == "bidi_component" for el in at.main)  # the real canvas is there
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    no_exception(at)
    ckpt = load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")
    expected = classify(ckpt.model, from_canvas(digit_canvas(), "mnist"), ckpt.meta.class_names)
    assert metric_value(at, "Prediction") == expected.label
    assert metric_value(at, "Confidence") == f"{expected.confidence:.1%}"
    figures = " ".join(str(h.proto.body) for h in at.get("html"))
    assert "Top 5" in figures and "What the model saw" in figures and "Where it looks" in figures


def test_a_new_visitors_first_run_lays_out_the_page_as_later_runs_do(env):
    """The visitor cookie's script used to be an extra element in a new visitor's first
    run only: every element after it moved on the next run, so the browser mounted them
    all afresh, and the first stroke on the canvas vanished (tests/e2e/test_canvas.py)."""
    def layout(at: AppTest) -> list[str]:  # the cookie's slot: its script, then empty
        return ["slot" if el.type in ("html", "empty") else el.type for el in at.main]

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    no_exception(at)
    assert any("mnist_studio_visitor=" in str(getattr(el, "proto", "")) for el in at.main)
    first = layout(at)
    at.run()
    no_exception(at)
    assert layout(at) == first


def test_blank_canvas_asks_for_a_drawing(env):
    at = new_session()
    at.session_state[CANVAS_RGBA] = np.zeros((280, 280, 4), np.uint8)
    at.run()
    assert not [m for m in at.metric if m.label == "Prediction"]
    assert any("Draw a digit" in i.value for i in at.info)


def test_before_a_drawing_the_answer_shows_its_model_and_the_teach_link(env):
    """The answer's element kinds (metrics, a page link) are on the page before the first
    stroke, so the browser has their code when the first answer comes."""
    at = new_session()
    at.run()
    no_exception(at)
    assert not [m for m in at.metric if m.label == "Prediction"]
    model = metric_value(at, "Model")
    assert model and model != "—"
    assert re.fullmatch(r"\d+\.\d\d%", metric_value(at, "Right on test images"))
    assert any(el.proto.label == "Teach it your handwriting" and el.proto.page == "handwriting"
               for el in at.main if el.type == "page_link")


def test_upload_tab_asks_for_an_upload_not_a_drawing(env):
    at = new_session()
    at.radio(key="classify_source").set_value("upload").run()
    no_exception(at)
    hints = [i.value for i in at.info]
    assert any("Upload a photo of a digit" in h for h in hints)
    assert not any("Draw a digit" in h for h in hints)  # there is no canvas on this tab


def test_compare_all_models_on_the_same_input(env):
    at = new_session()
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()  # the toggle comes with an answer, under it
    at.toggle(key="classify_compare").set_value(True).run()
    no_exception(at)
    assert any(s.value == "Every model on this input" for s in at.subheader)
    assert at.success or at.warning  # agree / disagree summary


def test_uploaded_image_is_classified(env):
    at = new_session()
    at.radio(key="classify_source").set_value("upload").run()
    image = np.full((120, 90), 255, np.uint8)  # dark ink on white paper
    image[20:100, 40:52] = 0
    at.file_uploader(key="classify_upload_mnist").upload("one.png", _png(image), "image/png")
    at.run()
    no_exception(at)
    ckpt = load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")
    expected = classify(ckpt.model, from_image(_png(image), "mnist"), ckpt.meta.class_names)
    assert metric_value(at, "Prediction") == expected.label


def test_fashion_upload_names_the_garment(env):
    at = new_session()
    at.sidebar.selectbox(key="dataset").set_value("fashion").run()
    options = at.radio(key="classify_source").options
    assert len(options) == 2 and not any("Draw" in o for o in options)  # no canvas
    # ...and the page says so, instead of leaving Draw to be looked for.
    assert any(c.value.startswith("No Draw for Fashion-MNIST garments: its models learned "
                                  "photos") for c in at.caption), [c.value for c in at.caption]
    image = np.zeros((64, 64), np.uint8)
    image[10:54, 20:44] = 200
    at.file_uploader(key="classify_upload_fashion").upload("shirt.png", _png(image), "image/png")
    at.run()
    no_exception(at)
    assert metric_value(at, "Prediction") in DATASETS["fashion"].classes


def test_non_image_upload_gives_an_error_message(env):
    at = new_session()
    at.radio(key="classify_source").set_value("upload").run()
    at.file_uploader(key="classify_upload_mnist").upload("notes.png", b"just some text",
                                                         "image/png")
    at.run()
    no_exception(at)
    assert any("not an image" in e.value for e in at.error), [e.value for e in at.error]
    assert not [m for m in at.metric if m.label == "Prediction"]


def test_a_text_file_is_refused_in_words_and_taken_off_the_uploader(env):
    """A .txt got the browser's own refusal: a red icon, its message cut off; the file
    stayed listed."""
    at = new_session()
    at.radio(key="classify_source").set_value("upload").run()
    at.file_uploader(key="classify_upload_mnist").upload("notes.txt", b"my notes", "text/plain")
    at.run()
    no_exception(at)
    errors = [e.value for e in at.error]
    assert errors == ["**This file cannot be classified.** notes.txt is not an image (PNG, "
                      "JPEG, GIF, BMP or WebP)."], errors
    (uploader,) = [u for u in at.get("file_uploader") if u.key.startswith("classify_upload")]
    assert uploader.key != "classify_upload_mnist" and uploader.value is None  # new, empty
    at.run()
    assert not at.error  # said once, not kept beside the next file


def _classify_upload(name: str, data: bytes) -> AppTest:
    at = new_session()
    at.radio(key="classify_source").set_value("upload").run()
    at.file_uploader(key="classify_upload_mnist").upload(name, data, "image/jpeg")
    at.run()
    no_exception(at)
    return at


def test_noise_photo_is_called_too_noisy_not_blank(env):
    """a 640x480 noise JPEG has no clear object; it is not blank."""
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="JPEG", quality=90)
    warnings = [w.value for w in _classify_upload("noise.jpg", buf.getvalue()).warning]
    assert any("too noisy" in w for w in warnings), warnings
    assert not any("blank" in w for w in warnings), warnings


def test_blank_photo_is_called_blank(env):
    at = _classify_upload("paper.png", _png(np.full((480, 640), 255, np.uint8)))
    warnings = [w.value for w in at.warning]
    assert any("it looks blank" in w for w in warnings), warnings
    assert not [m for m in at.metric if m.label == "Prediction"]


def test_upload_names_are_shown_exactly_as_uploaded(env):
    """"not_an_image.png" was shown as "Not_an_image.png"."""
    from tests.test_preprocess import png_header
    for name, data in [("not_an_image.png", b"just some text"),
                       ("huge_48mp_digit1.png", png_header(8000, 6000))]:
        at = _classify_upload(name, data)
        errors = [e.value for e in at.error]
        assert any(f"** {name} is " in e for e in errors), (name, errors)
        assert not any(name.capitalize() in e for e in errors), errors


# ------------------------------------------------------------------ train

def test_training_runs_to_completion_and_its_metrics_appear(env):
    at = new_session("train")
    fill_train_form(at, epochs=1)
    at.button(key="train_start").click().run()
    no_exception(at)
    assert any("Started run" in s.value for s in at.success)
    svc = get_service()
    (run,) = svc.list_runs(ADMIN)
    snap = svc.wait(run.id, ADMIN, timeout=120)
    assert snap.state == "finished", snap.error
    at.run()
    no_exception(at)
    assert metric_value(at, "Test accuracy") == f"{snap.test.accuracy:.2%}"
    # How it trained: device, step mode and precision, as the summary recorded them.
    assert any(c.value.startswith(f"Trained on {snap.result.device} · eager · ")
               for c in at.caption)
    assert {"Use this model"} <= _labels(at, "button")
    assert at.get("download_button")
    assert len(at.get("plotly_chart")) >= 4  # loss, accuracy, per-class, confusion
    runs_table = at.dataframe[-1].value
    assert runs_table["Run"].tolist() == [run.id] and runs_table["State"].tolist() == ["finished"]
    # The new run is a model everywhere; "Use this model" selects it.
    key = f"run:{run.id}"
    assert any(run.id[-4:] in label for label in at.sidebar.selectbox(key=MODEL).options)
    at.button(key="train_use").click().run()
    assert at.sidebar.selectbox(key=MODEL).value == key


def test_second_start_queues_and_stop_keeps_the_best_checkpoint(env):
    at = new_session("train")
    fill_train_form(at, epochs=200)  # long enough to still be training below
    at.button(key="train_start").click().run()
    at.button(key="train_start").click().run()  # a double click: not a second run
    (started,) = get_service().list_runs(ADMIN)
    # A worker process has taken it (the scheduler may still be starting on a busy machine).
    get_service().wait(started.id, ADMIN, until=lambda s: s.state == "running", timeout=60)
    at.number_input(key="train_seed").set_value(1)
    at.button(key="train_start").click().run()
    no_exception(at)
    assert any(i.value.startswith("Queued") for i in at.info), [i.value for i in at.info]
    svc = get_service()
    (second,) = [r for r in svc.list_runs(ADMIN) if r.state == "queued"]
    (first,) = [r for r in svc.list_runs(ADMIN) if r.id != second.id]
    assert first.state == "running"
    assert svc.get(second.id, ADMIN).queue_position == 1
    # A second tab (a new session of the same visitor) picks the live run up by itself.
    me = at.session_state[VISITOR]
    other_tab = new_session("train", visitor=me)
    assert other_tab.selectbox(key="train_show").value == first.id
    assert "Stop" in _labels(other_tab, "button")
    # Another visitor sees the run read-only: no Stop, and a word on whose it is.
    stranger = new_session("train")
    assert stranger.session_state[VISITOR] != me
    listed = [r.id for r in svc.list_runs(ADMIN)]  # the select box's order, newest first
    stranger.selectbox(key="train_show").select_index(listed.index(first.id)).run()
    assert "Stop" not in _labels(stranger, "button")
    assert any("another visitor's run" in c.value for c in stranger.caption)
    # A third Start of the same visitor is refused: one training and one waiting is the limit.
    at.number_input(key="train_seed").set_value(2)
    at.button(key="train_start").click().run()
    assert any("the limit is 2 per visitor" in e.value for e in at.error), [e.value for e in at.error]
    assert len(svc.list_runs(ADMIN)) == 2  # nothing queued
    svc.stop(second.id, ADMIN)  # cancel the queued one
    at.selectbox(key="train_show").set_value(first.id).run()
    svc.wait(first.id, ADMIN, until=lambda s: s.step > 0, timeout=60)  # first step done
    at.run()
    at.button(key="train_stop").click().run()
    no_exception(at)
    snap = svc.wait(first.id, ADMIN, timeout=60)
    assert snap.state == "cancelled" and snap.best_checkpoint is not None
    assert snap.resumable
    at.run()
    assert "Resume" in _labels(at, "button")
    assert any(w.value.startswith("**Stopped**") for w in at.warning)


def test_train_page_reruns_with_another_visitors_run_listed(env):
    """The Run select box's labels must not read the session when formatted: AppTest
    formats them outside the script run, where a label naming another visitor's run
    failed and the session's next rerun raised "ValueError: '<run id>' is not in list"."""
    cfg = TrainConfig(dataset="mnist", model="ffnn-small", epochs=1, batch_size=64, device="cpu")
    theirs = get_service().submit(cfg, Viewer("v:someone-else"))
    at = new_session("train")
    at.run()  # the rerun that failed
    no_exception(at)
    assert at.selectbox(key="train_show").value == theirs.id
    assert any("visitor someon" in o for o in at.selectbox(key="train_show").options)


def test_out_of_range_setting_is_refused_not_replaced(env):
    """Streamlit resets an out-of-range number input to its default without a word; the
    form must keep what was typed, say what is wrong, and start nothing."""
    at = new_session("train")
    fill_train_form(at, epochs=500)
    at.run()
    assert at.number_input(key="train_epochs").value == 500  # kept as typed
    assert any("epochs must be between 1 and 200, got 500" in w.value for w in at.warning)
    at.button(key="train_start").click().run()
    no_exception(at)
    said = [e.value for e in at.error] + [w.value for w in at.warning]
    # Once, as the refusal (not a yellow and a red box).
    assert len([m for m in said if "epochs must be between 1 and 200, got 500" in m]) == 1, said
    assert any("epochs must be between 1 and 200, got 500" in e.value for e in at.error)
    assert get_service().list_runs(ADMIN) == []  # nothing queued
    at.run()  # the next rerun is back to the warning, still once
    said = [e.value for e in at.error] + [w.value for w in at.warning]
    assert [m for m in said if "got 500" in m] == [w.value for w in at.warning if "got 500" in w.value]
    assert len([m for m in said if "got 500" in m]) == 1
    at.number_input(key="train_epochs").set_value(1)
    at.number_input(key="train_lr").set_value(5.0)
    at.button(key="train_start").click().run()
    assert any("lr must be between 1e-05 and 2, got 5" in e.value for e in at.error)
    assert get_service().list_runs(ADMIN) == []
    at.number_input(key="train_lr").set_value(0.003)
    at.button(key="train_start").click().run()
    assert any("Started run" in s.value for s in at.success)
    (run,) = get_service().list_runs(ADMIN)
    assert (run.config.epochs, run.config.lr) == (1, 0.003)


@pytest.mark.parametrize("field, value", [("epochs", 2.5), ("epochs", 0), ("seed", 1.5),
                                          ("erase", 3.5)])
def test_a_fraction_or_zero_in_a_whole_number_setting_is_refused(env, field, value):
    """epochs 2.5 was turned into 2 and a run started."""
    at = new_session("train")
    fill_train_form(at, epochs=1)
    at.toggle(key="train_augment").set_value(True).run()  # cutout: only with augmentation
    at.number_input(key=f"train_{field}").set_value(value)
    at.button(key="train_start").click().run()
    no_exception(at)
    said = [e.value for e in at.error] + [w.value for w in at.warning]
    about = [m for m in said if f"{field} must be" in m]
    assert len(about) == 1 and about[0] in [e.value for e in at.error], said
    assert get_service().list_runs(ADMIN) == []  # nothing started
    assert at.number_input(key=f"train_{field}").value == value  # kept as typed


def test_routine_input_errors_are_one_info_line_in_the_server_log(env, caplog):
    """epochs 0 and a bad upload wrote full tracebacks to the log."""
    with caplog.at_level(logging.INFO, logger="mnist_studio"):
        _classify_upload("not_an_image.png", b"just some text")
        at = new_session("train")
        fill_train_form(at, epochs=0)
        at.button(key="train_start").click().run()
        no_exception(at)
    ours = [r for r in caplog.records if r.name == "mnist_studio"]
    said = [r.getMessage() for r in ours]
    assert any("InputError: not_an_image.png is not an image" in m for m in said), said
    assert any("ConfigError: epochs must be" in m for m in said), said
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in ours), said


# ------------------------------------------------------------------ evaluate

def test_evaluation_numbers_equal_core_evaluate(env):
    at = new_session("evaluate")
    ckpt = load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")
    res = evaluate(ckpt.model, load_split("mnist", False), ckpt.meta.mean, ckpt.meta.std)
    assert metric_value(at, "Test accuracy") == f"{res.accuracy:.2%}"
    assert metric_value(at, "Test loss") == f"{res.loss:.4f}"
    assert metric_value(at, "Mistakes") == f"{len(res.mistake_indices):,}"
    table = at.dataframe[0].value
    assert table["accuracy"].tolist() == res.per_class_accuracy
    assert table["correct"].tolist() == [res.confusion_matrix[c][c] for c in range(10)]
    # Comparison with the other mnist model.
    other = load_checkpoint(env["weights"] / "mnist-bn-cnn.pt")
    res_b = evaluate(other.model, load_split("mnist", False), other.meta.mean, other.meta.std)
    assert metric_value(at, "B: test accuracy") == f"{res_b.accuracy:.2%}"


def test_evaluate_shows_the_reliability_and_the_calibration(env):
    """The sidebar model's test ECE (as core computes it), its reliability diagram, and
    whether a temperature was fitted (the fixture's models were saved uncalibrated)."""
    from core.networks.calibration import expected_calibration_error
    from core.evaluate.metrics import predict_split
    at = new_session("evaluate")
    ckpt = load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")
    pred = predict_split(ckpt.model, load_split("mnist", False), ckpt.meta.mean, ckpt.meta.std)
    ece = expected_calibration_error(pred.probabilities, pred.labels)
    assert metric_value(at, "Expected calibration error (test)") == f"{ece:.2%}"
    assert any("Not calibrated (temperature 1)" in m.value for m in at.markdown)
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")
              for c in at.get("plotly_chart")]
    assert any(t.startswith("Reliability") for t in titles), titles
    assert any(c.value.startswith("Each bar is the test images whose confidence fell in its "
                                  "bin, the number on it how many") for c in at.caption)


TILE = re.compile(r"^(.+) → \*\*(.+)\*\* · ([\d.]+)%$")  # "true → **predicted** · 97.1%"


def _tiles(at: AppTest) -> list[tuple[str, str]]:
    return [m.group(1, 2) for cap in at.caption if (m := TILE.match(cap.value))]


def test_choosing_a_pair_in_evaluate_opens_those_mistakes(env):
    true, pred = worst_pair(env)
    at = new_session("evaluate")
    at.selectbox(key="eval_true").set_value(true)
    at.selectbox(key="eval_pred").set_value(pred)
    at.button(key="eval_go").click().run()
    no_exception(at)
    assert at.title[0].value.endswith("Mistakes")
    at.switch_page(PAGES["mistakes"])  # AppTest's own page pointer still says Evaluate
    assert at.selectbox(key="mistakes_true").value == true
    assert at.selectbox(key="mistakes_pred").value == pred
    tiles = _tiles(at)
    assert tiles and set(tiles) == {(str(true), str(pred))}


# ------------------------------------------------------------------ mistakes

def test_mistake_filters_return_only_matching_samples(env):
    true, pred = worst_pair(env)
    at = new_session("mistakes")
    everything = _tiles(at)
    assert everything and any(t != p for t, p in everything)
    at.selectbox(key="mistakes_true").set_value(true).run()
    tiles = _tiles(at)
    assert tiles and all(t == str(true) for t, _ in tiles)
    at.selectbox(key="mistakes_pred").set_value(pred).run()
    tiles = _tiles(at)
    assert tiles and all((t, p) == (str(true), str(pred)) for t, p in tiles)
    at.selectbox(key="mistakes_true").set_value(None).run()
    assert all(p == str(pred) for _, p in _tiles(at))
    # Most confident first by default; inspecting a tile shows it large.
    confidences = [float(m.group(3)) for c in at.caption if (m := TILE.match(c.value))]
    assert confidences == sorted(confidences, reverse=True)
    at.button(key=at.button[-1].key).click().run()
    assert any(md.value.startswith("**Test image #") for md in at.markdown)


# ------------------------------------------------------------------ explore

def test_dataset_explorer_shows_every_class(env):
    at = new_session("explore")
    assert len(at.image) == 10


def test_a_diverged_run_is_flagged_and_not_offered_plainly(env):
    """lr 2.0 ended at 11% test accuracy under a green "Finished" and "Use this model"."""
    at = new_session("train")
    fill_train_form(at, epochs=2)
    at.number_input(key="train_lr").set_value(2.0)
    at.button(key="train_start").click().run()
    (run,) = get_service().list_runs(ADMIN)
    snap = get_service().wait(run.id, ADMIN, timeout=120)
    assert snap.state == "diverged" and snap.result.diverged
    at.run()
    no_exception(at)
    assert any("Diverged" in m.value for m in at.markdown), [m.value for m in at.markdown]
    (message,) = [e.value for e in at.error]
    assert message.startswith("**Diverged:** the loss rose to ")
    assert "learning rate 2 is too high for adam; try <= 0.01" in message
    assert not any(s.value.startswith("**Finished**") for s in at.success)
    buttons = _labels(at, "button")
    assert "Use this model" not in buttons and "Use anyway" in buttons
    assert "Resume" not in buttons  # it would diverge again
    assert any(run.id[-4:] in label and label.endswith(" · diverged · near chance")
               for label in at.sidebar.selectbox(key=MODEL).options)


def test_per_class_numbers_have_one_format_and_headers_that_fit(env):
    """The per-class table read "99.9%" beside "99.91%" (the browser trims zeros unless the
    column fixes its decimals), its last header was cut to "most often mistaken f…", and
    its hardest class's metric could round differently from its row."""
    at = new_session("evaluate")
    table = next(d for d in at.dataframe if "mistaken for" in d.value.columns)
    columns = json.loads(table.proto.columns)
    accuracy = next(v for k, v in columns.items() if "accuracy" in k)
    assert accuracy["type_config"]["format"] == "percent"
    assert accuracy["type_config"]["step"] == 0.0001  # two decimals on every row
    assert max(len(c) for c in table.value.columns) <= 12  # "mistaken for"
    hardest = next(m for m in at.metric if m.label == "Hardest class")
    row = table.value.set_index("class").loc[hardest.value]
    assert hardest.proto.delta == f"{row['accuracy']:.2%}"
