"""Why this answer, and the code behind it (AppTest, on the fake data): the nearest
training images on Classify and Mistakes, and a run's script on the Train page."""
from __future__ import annotations

import re

from core.data import load_bundle
from core.networks.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint
from core.networks.models import CUSTOM, build_model
from core.predict.neighbours import FeatureIndex, compute_features, neighbours
from core.predict.preprocess import from_canvas
from core.runs.api import get_service
from core.train.config import TrainConfig
from core.train.script import script
from tests.apptest import (ADMIN, digit_canvas, fill_train_form, metric_value, new_session,
                           no_exception, upload_model)
from ui.common.state import CANVAS_RGBA

OPEN = "classify_neighbours_open"
HEADLINE = re.compile(r"^(?P<input>.+) sits among (?P<among>.+): \*\*(?P<share>[^*]+)\*\* "
                      r"(of its )?(\d+ )?nearest training images carr(y|ies) its answer, "
                      r"\*\*(?P<answer>.+)\*\*\.$")


def _headline(at) -> re.Match | None:
    return next((m for m in (HEADLINE.match(md.value) for md in at.markdown) if m), None)


def _drawn(open_: bool):
    at = new_session()
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.session_state[OPEN] = open_  # as a click on the expander leaves it
    at.run()
    no_exception(at)
    return at


def test_closed_the_neighbours_cost_nothing(env):
    at = _drawn(False)
    assert any(e.label.startswith("Nearest training images") for e in at.expander)
    assert _headline(at) is None
    assert not (env["cache"] / "neighbours").exists()  # no features computed


def test_a_drawing_sits_among_its_nearest_training_images(env):
    at = _drawn(True)
    found = _headline(at)
    assert found, [m.value for m in at.markdown]
    assert found["input"] == "Your drawing"
    assert found["answer"] == metric_value(at, "Prediction")
    # The same neighbours the model finds for the drawing the page saw, counted alike.
    ckpt = load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")
    part = load_bundle("mnist", env["data"]).train
    index = FeatureIndex(compute_features(ckpt.model, part, ckpt.meta.mean, ckpt.meta.std),
                         part.labels)
    expected = neighbours(ckpt.model, index, from_canvas(digit_canvas(), "mnist").tensor)
    names = ckpt.meta.class_names
    share = found["share"]
    assert share == ("all 8" if expected.agreeing == 8 else "none" if expected.agreeing == 0
                     else f"{expected.agreeing} of its 8")
    assert found["among"] == ", ".join(f"{c} × **{names[label]}**"
                                       for label, c in expected.label_counts())
    captions = [c.value for c in at.caption if re.match(r"^\**\w+\** · [-\d.]+$", c.value)]
    assert captions == [f"**{names[n.label]}** · {n.similarity:.3f}" if n.label == expected.predicted
                        else f"{names[n.label]} · {n.similarity:.3f}" for n in expected.items]
    # Computed once, then read from the cache: a second visitor's page finds the file.
    assert list((env["cache"] / "neighbours").glob("*.npz"))
    assert _headline(_drawn(True))["among"] == found["among"]


def test_a_model_without_features_of_its_own_says_so(env):
    path = env["weights"].parent / "linear.pt"
    save_checkpoint(path, build_model(CUSTOM, "fc10"),
                    CheckpointMeta.new("mnist", CUSTOM, layers="fc10"))
    at = upload_model(new_session(), "linear.pt", path.read_bytes())
    at.session_state[CANVAS_RGBA] = digit_canvas()
    at.session_state[OPEN] = True
    at.run()
    no_exception(at)
    assert _headline(at) is None
    assert any("No nearest training images for this model: its only learned layer is the "
               "classifier itself" in i.value for i in at.info), [i.value for i in at.info]


def test_a_mistake_sits_among_the_training_images_it_was_taken_for(env):
    at = new_session("mistakes")
    at.session_state["mistakes_neighbours_open"] = True
    at.run()
    no_exception(at)
    found = _headline(at)
    assert found, [m.value for m in at.markdown]
    shown = next(m.value for m in at.markdown if m.value.startswith("**Test image #"))
    number = re.search(r"#(\d+)", shown).group(1)
    assert re.fullmatch(rf"Test image #{number} \(a \w+\)", found["input"])
    answer = re.search(r"predicted: \*\*(\w+)\*\*",
                       next(m.value for m in at.markdown if "predicted:" in m.value)).group(1)
    assert found["answer"] == answer  # the model's (wrong) answer, as the tile says


def test_a_runs_script_is_shown_and_offered(env):
    at = new_session("train")
    fill_train_form(at, epochs=1)
    at.button(key="train_start").click().run()
    no_exception(at)
    (run,) = get_service().list_runs(ADMIN)
    snap = get_service().wait(run.id, ADMIN, timeout=120)
    assert snap.state == "finished", snap.error
    at.run()
    assert any(e.label.startswith("Show me the code: this run") for e in at.expander)
    assert not at.code  # closed: not even written
    at.session_state["train_code_open"] = True
    at.run()
    no_exception(at)
    (code,) = [c for c in at.code if c.language == "python"]
    assert code.value == script(snap.config).rstrip("\n")  # st.code drops the last newline
    assert "python run.py --data DIR --epochs 1" in code.value
    assert [b for b in at.get("download_button") if b.proto.label == "Download run.py"]


def test_the_layer_editors_network_as_a_script(env):
    at = new_session("train")
    fill_train_form(at, epochs=2)
    at.selectbox(key="train_model").set_value("custom").run()
    at.text_input(key="train_layers").set_value("conv8k3,pool2,relu,fc32,drop0.1,fc10").run()
    at.session_state["train_form_code_open"] = True
    at.run()
    no_exception(at)
    (code,) = [c for c in at.code if c.language == "python"]
    cfg = TrainConfig(dataset="mnist", model=CUSTOM, layers="conv8k3,pool2,relu,fc32,drop0.1,fc10",
                      epochs=2, batch_size=64, device="cpu")
    assert code.value == script(cfg).rstrip("\n")
    assert "nn.Conv2d(1, 8, 3)," in code.value and "nn.Linear(1352, 32)," in code.value
    # A network that cannot be built has no script: the form says what is wrong instead.
    at.text_input(key="train_layers").set_value("conv8k3,fc11").run()
    no_exception(at)
    assert not [c for c in at.code if c.language == "python"]
