"""What the page tests (streamlit.testing.v1.AppTest) share: a tiny model folder, each
test's own data/weights/runs/cache folders (`env`), a new session on a page, and the
inputs and readings most tests need.

Everything runs on the tiny fake datasets (bench/fakedata.py). The drawing canvas is a
browser component; tests put an RGBA array in st.session_state["classify_canvas_rgba"]
instead (see ui/classify/canvas.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core.data import load_bundle, load_split
from core.evaluate.metrics import evaluate
from core.networks.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint
from core.runs.api import get_service, shutdown_services
from core.server.visitors import Viewer
from core.train.config import TrainConfig
from core.train.loop import train
from ui.common.identity import VISITOR
from ui.common.model_files import UPLOAD_KEY, UPLOAD_VERSION

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
PAGES = {"classify": "pages/classify.py", "train": "pages/train.py",
         "evaluate": "pages/evaluate.py", "mistakes": "pages/mistakes.py",
         "explore": "pages/explore.py"}
TIMEOUT = 60


@pytest.fixture(scope="module")
def weights(tmp_path_factory, fake_data_root) -> Path:
    """Two mnist models and one fashion model, trained for one epoch on the fake data."""
    folder = tmp_path_factory.mktemp("weights")
    items = []
    for dataset, arch in [("mnist", "ffnn-small"), ("mnist", "bn-cnn"), ("fashion", "ffnn-small")]:
        cfg = TrainConfig(dataset=dataset, model=arch, epochs=1, batch_size=64, device="cpu",
                          data_dir=str(fake_data_root))
        result = train(cfg, load_bundle(dataset, fake_data_root))
        name = f"{dataset}-{arch}.pt"
        save_checkpoint(folder / name, result.model, CheckpointMeta.new(dataset, arch))
        items.append({"file": name, "dataset": dataset, "architecture": arch,
                      "test_accuracy": 0.5})
    (folder / "manifest.json").write_text(json.dumps(
        {"default": {"mnist": "mnist-ffnn-small.pt", "fashion": "fashion-ffnn-small.pt"},
         "checkpoints": items}))
    return folder


@pytest.fixture
def env(monkeypatch, tmp_path, fake_data_root, weights):
    paths = {"data": fake_data_root, "weights": weights, "runs": tmp_path / "runs",
             "cache": tmp_path / "cache"}
    for name, path in paths.items():
        monkeypatch.setenv(f"MNIST_STUDIO_{name.upper()}", str(path))
    # The app hides uncaught errors' details from people; a failing test should show them.
    previous = st_config.get_option("client.showErrorDetails")
    st_config.set_option("client.showErrorDetails", "full")
    yield paths
    st_config.set_option("client.showErrorDetails", previous)
    # No training process may outlive its test: stop every run, then the scheduler.
    svc = get_service(paths["runs"])
    for run in svc.list_runs(ADMIN):
        if run.state.active:
            svc.stop(run.id, ADMIN)
    for run in svc.list_runs(ADMIN):
        svc.wait(run.id, ADMIN, timeout=60)
    shutdown_services()


ADMIN = Viewer("v:test-admin", admin=True)  # the tests' own look at every run


def new_session(page: str = "classify", visitor: str | None = None) -> AppTest:
    """A new browser session; `visitor` makes it the same visitor as another session
    (as the visitor cookie does for a second tab of the same browser)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if visitor is not None:
        at.session_state[VISITOR] = visitor
    at.run()
    if page != "classify":
        at.switch_page(PAGES[page]).run()
    no_exception(at)
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metric_value(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def digit_canvas() -> np.ndarray:
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[40:240, 125:150, :3] = 255  # a white vertical stroke on black: a "1"
    return rgba


def fill_train_form(at: AppTest, epochs: int) -> None:
    at.selectbox(key="train_model").set_value("ffnn-small")
    at.number_input(key="train_epochs").set_value(epochs)
    at.selectbox(key="train_batch_size").set_value(64)
    at.selectbox(key="train_device").set_value("cpu")


def worst_pair(env) -> tuple[int, int]:
    ckpt = load_checkpoint(env["weights"] / "mnist-ffnn-small.pt")
    res = evaluate(ckpt.model, load_split("mnist", False), ckpt.meta.mean, ckpt.meta.std)
    cm = np.array(res.confusion_matrix)
    np.fill_diagonal(cm, -1)
    true, pred = np.unravel_index(cm.argmax(), cm.shape)
    return int(true), int(pred)


def model_uploader(at):
    """The sidebar's checkpoint uploader as it is now: its key moves on after a refused
    file (ui.common.model_files.upload_key)."""
    version = at.session_state[UPLOAD_VERSION] if UPLOAD_VERSION in at.session_state else 0
    return at.file_uploader(key=UPLOAD_KEY + (f"_{version}" if version else ""))


def upload_model(at, name: str, raw: bytes):
    model_uploader(at).upload(name, raw).run()
    no_exception(at)
    return at
