"""In a real browser: upload a checkpoint in the sidebar, download the selected model exported.

    .venv/bin/pytest tests/e2e/test_model_files.py -q
"""
from __future__ import annotations

import re
import shutil

import numpy as np
import torch

from bench.browser import FIRST_LOAD_MS, PAGE_MS, assert_no_errors, open_app, settle

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None

EXPANDER = "Your model, elsewhere"


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def _model_box(page):
    return _sidebar(page).get_by_role("combobox", name="Model")


def _open_box(page, url: str):
    open_app(page, url)
    box = _sidebar(page).locator('[data-testid="stExpander"]').filter(has_text=EXPANDER)
    if not box.locator('input[type="file"]').count() or \
            not box.locator('[data-testid="stFileUploaderDropzone"]').is_visible():
        box.locator("summary").click()
    return box


def _upload(page, box, path) -> None:
    box.locator('input[type="file"]').set_input_files(str(path))
    settle(page, PAGE_MS)


def test_upload_a_checkpoint_and_use_it(page, app, tmp_path):
    src = app.setup.weights / "mnist-ffnn.pt"
    if not src.is_file():
        src = next(app.setup.weights.glob("mnist-*.pt"))
    mine = tmp_path / "mine.pt"
    shutil.copy2(src, mine)
    box = _open_box(page, app.url)
    _upload(page, box, mine)
    expect(_sidebar(page).get_by_text("(uploaded: mine.pt)").first).to_be_visible(
        timeout=FIRST_LOAD_MS)
    expect(_model_box(page)).to_have_value(re.compile(r"\(uploaded: mine\.pt\)"))
    assert_no_errors(page, "after a good upload")


def test_corrupt_checkpoint_gives_a_clear_message(page, app, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    box = _open_box(page, app.url)
    _upload(page, box, bad)
    expect(_sidebar(page).get_by_text("This checkpoint cannot be used")).to_be_visible()
    # The model in use stays what it was.
    expect(_model_box(page)).to_have_value(re.compile(r"\(uploaded: mine\.pt\)"))


def test_a_text_file_is_refused_in_words_and_leaves_the_list(page, app, tmp_path):
    """A .txt in the checkpoint box was refused by the browser itself: a red icon row,
    its message cut off, the file left listed, and the previous file's message kept."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    box = _open_box(page, app.url)
    _upload(page, box, notes)
    message = _sidebar(page).get_by_text("notes.txt is not a checkpoint: choose a .pt or .pth "
                                         "file written by MNIST Studio")
    expect(message).to_be_visible()
    assert message.bounding_box()["width"] > 100  # the words themselves, on screen
    expect(_sidebar(page).get_by_text("This checkpoint cannot be used")).to_have_count(1)
    expect(box.locator('[data-testid="stFileUploaderFile"]')).to_have_count(0)


def test_a_text_file_on_classify_is_refused_in_words(page, app, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    open_app(page, app.url)
    body = page.locator('[data-testid="stMain"]')
    body.get_by_text(re.compile(r"Upload$")).first.click()
    settle(page, PAGE_MS)
    body.locator('input[type="file"]').set_input_files(str(notes))
    settle(page, PAGE_MS)
    expect(body.get_by_text("notes.txt is not an image")).to_be_visible()
    expect(body.locator('[data-testid="stFileUploaderFile"]')).to_have_count(0)


def test_download_buttons_give_working_exports(page, app, tmp_path):
    import onnxruntime as ort

    box = _open_box(page, app.url)
    pixels = np.zeros((2, 1, 28, 28), np.float32)
    for label in ("TorchScript", "ONNX"):
        with page.expect_download(timeout=PAGE_MS) as info:
            box.get_by_role("button", name=label).click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        if label == "ONNX":
            assert path.suffix == ".onnx"
            out = ort.InferenceSession(str(path)).run(None, {"pixels": pixels})[0]
        else:
            assert path.name.endswith(".torchscript.pt")
            out = torch.jit.load(str(path))(torch.from_numpy(pixels)).detach().numpy()
        assert out.shape == (2, 10), label
