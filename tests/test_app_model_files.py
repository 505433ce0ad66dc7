"""Your model, elsewhere (AppTest): upload a checkpoint, export buttons, the "I don't know" flag."""
from __future__ import annotations

import shutil

import numpy as np
import torch

from core.networks.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint
from core.networks.models import build_model
from core.predict.classify import classify
from core.predict.ood import Calibration, file_sha1, unfamiliarity, write_calibrations
from core.predict.preprocess import from_canvas
from tests.apptest import (digit_canvas, metric_value, model_uploader, new_session, no_exception,
                           upload_model)
from ui.common.state import CANVAS_RGBA, MODEL

FLAG = "This does not look like a digit the model knows"


def test_uploaded_checkpoint_joins_the_model_list_and_is_used(env):
    raw = (env["weights"] / "mnist-bn-cnn.pt").read_bytes()
    at = upload_model(new_session(), "my model.pt", raw)
    box = at.selectbox(key=MODEL)
    assert box.value.startswith("upload:")
    assert "bn-cnn (uploaded: my model.pt)" in box.format_func(box.value)
    assert any("Added bn-cnn (uploaded: my model.pt)" in s.value for s in at.success)
    # The uploaded model answers on Classify...
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    ckpt = load_checkpoint(env["weights"] / "mnist-bn-cnn.pt")
    expected = classify(ckpt.model, from_canvas(digit_canvas(), "mnist"), ckpt.meta.class_names)
    assert metric_value(at, "Confidence") == f"{expected.confidence:.1%}"
    # ...and on every other page, still selected.
    at.switch_page("pages/evaluate.py").run()
    no_exception(at)
    assert at.selectbox(key=MODEL).value == box.value
    assert metric_value(at, "Test accuracy").endswith("%")
    # Kept in a per-visitor folder under the runs folder, never in weights/.
    assert list((env["runs"] / ".uploads").rglob("my_model-*.pt"))
    assert not any("upload" in p.name for p in env["weights"].iterdir())


def test_another_visitor_does_not_see_my_upload(env):
    upload_model(new_session(), "mine.pt", (env["weights"] / "mnist-bn-cnn.pt").read_bytes())
    other = new_session()
    assert not any(k.startswith("upload:") for k in other.selectbox(key=MODEL).options)


def test_bad_checkpoints_get_a_clear_message_and_change_nothing(env, tmp_path):
    wrong = tmp_path / "wrong.pt"  # an MLP's weights claiming to be a CNN
    save_checkpoint(wrong, build_model("ffnn-small"), CheckpointMeta.new("mnist", "cnn"))
    pickle = tmp_path / "pickle.pt"
    torch.save({"format": "mnist-studio/1", "evil": object.__new__(Calibration)}, pickle)
    unreadable = "x.pt: not a PyTorch checkpoint (unreadable)"
    cases = {b"this is not a checkpoint": unreadable,
             np.random.default_rng(0).bytes(5000): unreadable,
             wrong.read_bytes(): "do not fit architecture 'cnn'",
             pickle.read_bytes(): "refused: a pickle that could run code (core.predict.ood.Calibration)",
             b"": "is empty"}
    at = new_session()
    before = at.selectbox(key=MODEL).value
    for raw, reason in cases.items():
        upload_model(at, "x.pt", raw)
        errors = [e.value for e in at.error if "This checkpoint cannot be used" in e.value]
        assert errors and reason in errors[0], (reason, errors)
        assert "\n" not in errors[0] and len(errors[0]) < 160, errors[0]  # one or two lines
        assert at.selectbox(key=MODEL).value == before
        assert not any(k.startswith("upload:") for k in at.selectbox(key=MODEL).options)
        assert model_uploader(at).value is None  # the refused file is off the uploader's list


def test_a_file_that_is_no_checkpoint_is_refused_in_words_and_leaves_no_stale_message(env):
    """A .txt got the browser's own refusal (a red icon, its message cut off), and the
    message of the file before stayed on screen beside it."""
    at = upload_model(new_session(), "broken.pt", b"not a checkpoint")
    assert [e.value for e in at.error if "broken.pt" in e.value]
    upload_model(at, "notes.txt", b"my notes")
    errors = [e.value for e in at.error]
    assert errors == ["This checkpoint cannot be used. notes.txt is not a checkpoint: choose a "
                      ".pt or .pth file written by MNIST Studio"], errors
    assert model_uploader(at).value is None
    upload_model(at, "mine.pt", (env["weights"] / "mnist-bn-cnn.pt").read_bytes())
    assert not at.error and any("Added bn-cnn" in s.value for s in at.success)
    at.run()  # said once
    assert not at.error and not any("Added bn-cnn" in s.value for s in at.success)


def test_export_download_buttons_for_the_selected_model(env):
    at = new_session("evaluate")
    labels = {b.label for b in at.download_button}
    assert {"ONNX", "TorchScript"} <= labels


def weights_with_threshold(env, tmp_path, monkeypatch, offset: float) -> float:
    """A weights folder whose default mnist model has a threshold `offset` above the
    unfamiliarity of the test canvas."""
    folder = tmp_path / "weights"
    shutil.copytree(env["weights"], folder)
    path = folder / "mnist-ffnn-small.pt"
    ckpt = load_checkpoint(path)
    with torch.no_grad():
        logits = ckpt.model(from_canvas(digit_canvas(), "mnist").tensor)
    value = float(unfamiliarity(logits, "energy")[0])
    write_calibrations(folder / "ood.json", {path.name: Calibration(
        "energy", value + offset, 0.05, 0.05, checkpoint_sha1=file_sha1(path))})
    monkeypatch.setenv("MNIST_STUDIO_WEIGHTS", str(folder))
    return value


def _classify_canvas(rgba: np.ndarray):
    at = new_session()
    at.session_state[CANVAS_RGBA] = rgba
    at.run()
    no_exception(at)
    return at


def test_input_past_the_threshold_is_flagged_and_still_answered(env, tmp_path, monkeypatch):
    weights_with_threshold(env, tmp_path, monkeypatch, offset=-1e-3)
    at = _classify_canvas(digit_canvas())
    assert any(FLAG in w.value for w in at.warning)
    assert metric_value(at, "Prediction")  # the answer is still there


def test_input_within_the_threshold_is_not_flagged(env, tmp_path, monkeypatch):
    weights_with_threshold(env, tmp_path, monkeypatch, offset=+1e-3)
    at = _classify_canvas(digit_canvas())
    assert not any(FLAG in w.value for w in at.warning)
    assert metric_value(at, "Prediction")


def test_uncalibrated_model_is_never_flagged(env):
    at = _classify_canvas(np.random.default_rng(0).integers(0, 256, (280, 280, 4), np.uint8))
    assert not any(FLAG in w.value for w in at.warning)
