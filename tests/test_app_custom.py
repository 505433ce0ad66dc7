"""A custom network from the Train page's layer editor, through AppTest on the fake data:
the editor's live report, a bad layer named before Start, the server's bounds, and the
trained model used on every page (Classify, Evaluate, Mistakes, Inside the model) and
exported."""
from __future__ import annotations

import pandas as pd
import pytest

from core.networks.checkpoints import load_checkpoint
from core.export.exporting import export_bytes
from core.runs.api import get_service
from tests.apptest import ADMIN, PAGES, new_session, digit_canvas, fill_train_form, metric_value, no_exception
from ui.common.state import CANVAS_RGBA, MODEL

SPEC = "conv8k3,pool2,relu,fc32,drop0.1,fc10"


def _custom(at, layers: str) -> None:
    fill_train_form(at, epochs=1)
    at.selectbox(key="train_model").set_value("custom").run()
    no_exception(at)
    at.text_input(key="train_layers").set_value(layers).run()
    no_exception(at)


def _report(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "FLOPs per image" in d.value.columns)


def _table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if str(d.key or "").startswith("train_layers_table"))


def test_the_editor_reports_every_layer_and_names_a_bad_one(env):
    at = new_session("train")
    _custom(at, SPEC)
    report = _report(at)
    assert report["layer"].tolist() == ["conv8k3", "pool2", "relu", "flatten (implied)", "fc32",
                                      "drop0.1", "fc10"]
    assert report["output"].tolist()[:2] == ["8 × 26 × 26", "8 × 13 × 13"]
    assert report["parameters"].sum() == 80 + 1352 * 32 + 32 + 330
    assert any("Estimated training time" in c.value for c in at.caption)
    # The table edits the same list: its rows are the layers.
    assert _table(at)["layer"].tolist() == ["conv", "pool", "relu", "fc", "drop", "fc"]
    # A layer that cannot work is named, and Start refuses it.
    at.text_input(key="train_layers").set_value("conv8k3,pool2,pool2,pool2,conv8k5,fc10").run()
    assert any("layer 5 (conv8k5): a 5x5 kernel on a 3x3 map" in e.value for e in at.error)
    at.button(key="train_start").click().run()
    assert get_service().list_runs(ADMIN) == []


def test_copying_a_builtin_fills_the_editor(env):
    at = new_session("train")
    _custom(at, SPEC)
    at.selectbox(key="train_custom_from").set_value("bn-cnn")
    at.button(key="train_custom_load").click().run()
    no_exception(at)
    from core.networks.models import ARCHITECTURES
    assert at.text_input(key="train_layers").value == ARCHITECTURES["bn-cnn"].spec


def test_the_servers_bounds_hold(env, monkeypatch):
    from core.runs.api import shutdown_services
    shutdown_services()
    monkeypatch.setenv("MNIST_STUDIO_MAX_PARAMETERS", "10000")
    at = new_session("train")
    _custom(at, SPEC)
    assert any("Too large for this server" in w.value for w in at.warning)
    at.button(key="train_start").click().run()
    assert any("too large for this server" in e.value for e in at.error)
    assert get_service().list_runs(ADMIN) == []


def test_a_custom_model_is_a_model_on_every_page(env):
    at = new_session("train")
    _custom(at, SPEC)
    at.button(key="train_start").click().run()
    no_exception(at)
    (run,) = get_service().list_runs(ADMIN)
    snap = get_service().wait(run.id, ADMIN, timeout=120)
    assert snap.state == "finished", snap.error
    ckpt = load_checkpoint(snap.best_checkpoint)
    assert (ckpt.meta.architecture, ckpt.meta.layers) == ("custom", SPEC)
    at.run()
    at.button(key="train_use").click().run()
    no_exception(at)
    key = f"run:{run.id}"
    assert at.sidebar.selectbox(key=MODEL).value == key
    # Classify: a drawing gets a prediction from it.
    at.switch_page(PAGES["classify"]).run()
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    no_exception(at)
    assert metric_value(at, "Prediction")
    for page in ("evaluate", "mistakes"):
        at.switch_page(PAGES[page]).run()
        no_exception(at)
        assert not at.error, [e.value for e in at.error]
    at.switch_page("pages/inside.py").run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    # Exports: the model rebuilt from its spec, with no code in the file.
    assert len(export_bytes(ckpt, "onnx")) > 1000


def test_an_empty_layer_list_says_so_and_is_not_fastcnn(env):
    """Emptied, the Layers field came back as fastcnn's layers (80,554 parameters), with
    no word: now it stays empty, says so, and Start refuses it."""
    at = new_session("train")
    _custom(at, "")
    assert at.text_input(key="train_layers").value == ""
    assert any(e.value.startswith("**No layers.**") for e in at.error), [e.value for e in at.error]
    assert not any("parameters ·" in c.value for c in at.caption)  # no fastcnn report
    assert len(_table(at)) == 0  # an empty table, to add rows to
    at.button(key="train_start").click().run()
    no_exception(at)
    assert get_service().list_runs(ADMIN) == []


def test_the_layer_table_shows_every_row_and_empty_cells_empty(env, monkeypatch):
    """It cut its last row off (Streamlit's default height) and wrote "None" in the
    cells a layer has no number for."""
    import streamlit
    heights = []
    editor_of = streamlit.data_editor

    def recording(data, **kwargs):
        heights.append((len(data), kwargs.get("height")))
        return editor_of(data, **kwargs)

    monkeypatch.setattr(streamlit, "data_editor", recording)
    at = new_session("train")
    layers = "conv8k3,relu,conv8k3,relu,pool2,conv8k3,relu,conv8k3,relu,pool2,fc32,relu,fc10"
    _custom(at, layers)
    (editor,) = [d for d in at.dataframe if str(d.key or "").startswith("train_layers_table")]
    assert len(editor.value) == 13
    rows, height = heights[-1]
    assert rows == 13 and isinstance(height, int) and height >= 35 * (13 + 2)  # header, add row
    assert editor.proto.placeholder == ""
    assert editor.value.loc[editor.value["layer"] == "relu", "size"].isna().all()
