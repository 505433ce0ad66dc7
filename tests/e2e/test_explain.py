"""Why this answer, and the code behind it, in a real browser: draw a digit and see the
training images it sits among; open a misclassified test image's neighbours on Mistakes;
download a run's script.

    .venv/bin/python -m pytest -q tests/e2e/test_explain.py
"""
from __future__ import annotations

import ast
import re

from bench.browser import assert_no_errors, fill_number, go_to, main, pick, settle, shot
from tests.e2e.test_handwriting import draw_strokes

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None

# A model whose features are not shipped (stale after a retrain, the fake data) computes
# them first, with a progress bar: minutes for the ResNet on a busy 2-core CPU.
FEATURES_MS = 600_000
SITS_AMONG = re.compile(r"sits among .+ nearest training images carr(y|ies) its answer")


def _open(page, title: str):
    """Click an expander by the start of its title; its body once open."""
    body = main(page)
    body.get_by_text(re.compile(rf"^{re.escape(title)}")).first.click()
    settle(page, FEATURES_MS)
    return body.locator('[data-testid="stExpander"]').filter(
        has_text=re.compile(rf"{re.escape(title)}")).first


def test_draw_a_digit_and_see_its_neighbours(page, app):
    go_to(page, app.url, "Classify")
    predicted = draw_strokes(page)
    box = _open(page, "Nearest training images")
    line = box.get_by_text(SITS_AMONG)
    expect(line).to_be_visible(timeout=FEATURES_MS)
    expect(line).to_contain_text("Your drawing sits among")
    expect(line).to_contain_text(f"its answer, {predicted}.")
    expect(box.locator('[data-testid="stImage"]')).to_have_count(8)
    assert_no_errors(page, "Classify with its nearest training images")
    shot(page, "classify-neighbours")


def test_a_misclassified_test_images_neighbours(page, app):
    go_to(page, app.url, "Mistakes")
    shown = main(page).get_by_text(re.compile(r"^Test image #\d+$")).first.inner_text()
    box = _open(page, "Nearest training images")
    line = box.get_by_text(SITS_AMONG)
    expect(line).to_be_visible(timeout=FEATURES_MS)
    expect(line).to_contain_text(f"{shown} (a ")
    expect(box.locator('[data-testid="stImage"]')).to_have_count(8)
    assert_no_errors(page, "Mistakes with a mistake's nearest training images")
    shot(page, "mistakes-neighbours")


def test_download_a_runs_script(page, app, tmp_path):
    go_to(page, app.url, "Train")
    body = main(page)
    pick(page, "Architecture", "ffnn-small")
    fill_number(page, "Epochs", 1)
    pick(page, "Batch size", "512")
    body.get_by_role("button", name="Start training").click()
    expect(body.get_by_text(re.compile(r"^Finished in"))).to_be_visible(timeout=300_000)
    settle(page)
    box = _open(page, "Show me the code: this run")
    expect(box.get_by_text("import torch").first).to_be_visible()
    with page.expect_download() as started:
        box.get_by_role("button", name="Download run.py").click()
    download = started.value
    assert download.suggested_filename == "run.py"
    path = tmp_path / "run.py"
    download.save_as(path)
    text = path.read_text()
    ast.parse(text)  # a whole Python file
    assert text.startswith('"""An MNIST Studio run as a standalone PyTorch script: ffnn-small')
    assert "BATCH_SIZE = 512" in text and "EPOCHS = 1" in text
    assert 'print(f"test accuracy: {accuracy:.4f}")' in text
    assert_no_errors(page, "Train with a run's script")
    shot(page, "train-script")
