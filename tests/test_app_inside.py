"""The Inside the model and Compare runs pages, through AppTest (on the fake data)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.networks.checkpoints import load_checkpoint
from core.data import load_split
from core.evaluate.embedding import embedding_path
from core.evaluate.metrics import evaluate
from core.predict.activations import activations
from core.runs.compare import run_labels
from core.predict.classify import from_dataset_image
from core.predict.preprocess import from_canvas
from core.train.config import TrainConfig
from core.runs.api import get_service
from core.server.visitors import Viewer
from tests.apptest import APP, PAGES, TIMEOUT, digit_canvas, no_exception, worst_pair
from ui.common.identity import VISITOR
from ui.common.state import CANVAS_RGBA, MISTAKES_REQUEST

INSIDE, COMPARE = "pages/inside.py", "pages/compare.py"


def _open(page: str, visitor: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if visitor:
        at.session_state[VISITOR] = visitor
    at.run()
    at.switch_page(page).run()
    no_exception(at)
    return at


def _with_map(at: AppTest, seconds: float = 60) -> AppTest:
    """Rerun until the embedding map is drawn: it is computed in the background (on the
    fake data, within the page's first half second unless the machine is busy)."""
    deadline = time.monotonic() + seconds
    while not any(c.proto.id and "inside_map" in c.proto.id for c in at.get("plotly_chart")):
        assert time.monotonic() < deadline, "no embedding map"
        time.sleep(0.2)
        at.run()
        no_exception(at)
    return at


def _default_model(env):
    return load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")


def test_inside_shows_every_layer_the_templates_and_the_map(env):
    at = _with_map(_open(INSIDE))
    assert at.title[0].value.endswith("Inside the model")
    assert at.radio(key="inside_source").options == ["A random test image"]  # nothing drawn yet
    ckpt = _default_model(env)
    split = load_split("mnist", train=False, root=env["data"])
    index = at.session_state["inside_sample"] % len(split)
    layers = activations(ckpt.model, from_dataset_image(split.images[index].numpy(),
                                                        ckpt.meta.mean, ckpt.meta.std).tensor)
    names = [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**") and " · " in m.value]
    assert names == [layer.name for layer in layers]  # 5 dense layers of the MLP
    strips = [c for c in at.get("plotly_chart") if c.proto.id and "inside_strip" in c.proto.id]
    assert len(strips) == len(layers)
    assert any("First layer: what each unit looks for" in h.value for h in at.subheader)
    assert any("The 128 units' weights" in c.value for c in at.caption)
    # The embedding map was computed and cached on disk beside the evaluations.
    assert embedding_path(env["weights"] / "mnist-ffnn-small.pt", split, ckpt.meta.mean,
                          ckpt.meta.std, env["cache"]).is_file()
    assert any(c.proto.id and "inside_map" in c.proto.id for c in at.get("plotly_chart"))
    before = at.session_state["inside_sample"]
    for _ in range(5):  # a new random image (the same one 5 times in a row: 1e-10)
        at.button(key="inside_next").click().run()
        if at.session_state["inside_sample"] != before:
            break
    assert at.session_state["inside_sample"] != before


def test_inside_shows_the_drawing_classify_last_saw(env):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.run()
    no_exception(at)
    at.switch_page(INSIDE).run()
    no_exception(at)
    assert at.radio(key="inside_source").value == "classify"
    assert any("your drawing on Classify" in c.value for c in at.caption)
    ckpt = _default_model(env)
    drawn = from_canvas(digit_canvas(), "mnist", mean=ckpt.meta.mean, std=ckpt.meta.std)
    expected = activations(ckpt.model, drawn.tensor)[-1].values
    prediction = [m.value for m in at.metric if m.label == "Prediction"]
    assert prediction == [str(int(np.argmax(expected)))]


def test_a_picked_mistake_opens_large_on_the_mistakes_page(env):
    """The embedding map's button sends (true, predicted, index): Mistakes filters to that
    pair and shows that image large, even when it is not the first on its page."""
    at = _open(PAGES["mistakes"])
    true, pred = worst_pair(env)
    ckpt = _default_model(env)
    split = load_split("mnist", train=False, root=env["data"])
    res = evaluate(ckpt.model, split, ckpt.meta.mean, ckpt.meta.std)
    pair = [i for i, t, p in zip(res.mistake_indices, res.mistake_true, res.mistake_predicted)
            if (t, p) == (true, pred)]
    index = pair[-1]
    at.session_state[MISTAKES_REQUEST] = (true, pred, index)
    at.run()
    no_exception(at)
    assert at.selectbox(key="mistakes_true").value == true
    assert at.selectbox(key="mistakes_pred").value == pred
    assert any(md.value == f"**Test image #{index}**" for md in at.markdown)


@pytest.fixture
def two_runs(env):
    visitor = "v:compare-test"
    svc = get_service(env["runs"])
    me = Viewer(visitor)
    base = dict(dataset="mnist", model="ffnn-small", batch_size=64, device="cpu",
                schedule="constant", data_dir=str(env["data"]))
    ids = [svc.submit(TrainConfig(epochs=1, **base), me).id,
           svc.submit(TrainConfig(epochs=2, lr=3e-3, **base), me).id]
    for run_id in ids:
        assert svc.wait(run_id, me, timeout=180).state == "finished"
    return visitor, ids


def test_compare_runs_overlays_curves_and_highlights_differences(env, two_runs):
    visitor, ids = two_runs
    at = _open(COMPARE, visitor=visitor)
    assert set(at.multiselect(key="compare_runs").value) == set(ids)
    chart = next(c for c in at.get("plotly_chart") if "compare_chart" in c.proto.id)
    figure = json.loads(chart.proto.spec)
    lines = {t["name"]: t for t in figure["data"]}
    snaps = [get_service(env["runs"]).get(i, Viewer(visitor)) for i in ids]
    assert set(lines) == set(run_labels(snaps))  # model, dataset, lr, epochs, val accuracy
    assert sorted(len(t["x"]) for t in lines.values()) == [1, 2]  # epochs: 1 and 2
    table = at.dataframe[0].value
    assert set(table.index[table["differs"] == "✱"]) == {"epochs", "lr"}
    assert table.loc["epochs", run_labels(snaps)[1]] == "2"
    # Training loss: per step, on a step axis.
    from core.runs.compare import CurveMetric
    at.button_group(key="compare_metric").set_value(CurveMetric.TRAIN_LOSS).run()
    no_exception(at)
    chart = next(c for c in at.get("plotly_chart") if "compare_chart" in c.proto.id)
    figure = json.loads(chart.proto.spec)
    assert figure["layout"]["xaxis"]["title"]["text"] == "step"
    steps = {get_service(env["runs"]).get(i, Viewer(visitor)).step for i in ids}
    assert {t["x"][-1] for t in figure["data"]} == steps
