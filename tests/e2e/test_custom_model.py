"""Your own network in a real browser: choose "custom" on Train, build a 3-layer network in
the layer editor, train it for one epoch, use it, and classify a drawing with it.

    .venv/bin/python -m pytest -q tests/e2e/test_custom_model.py
"""
from __future__ import annotations

import re

from core.networks.models import ARCHITECTURES
from core.networks.spec import parse
from bench.browser import (assert_no_errors, draw_vertical_stroke, go_to, main, pick,
                           prediction_metric, settle, shot)

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None

TRAIN_MS = 300_000  # one epoch of a small MLP and the test set scored, on a shared 2-core machine
LAYERS = "fc64,relu,fc10"


def test_the_layer_table_shows_every_layer(page, app):
    """fastcnn's 12 layers, the editor's first list: Streamlit's default height showed
    ten and a half of them. The grid's accessible rows are the ones on screen."""
    go_to(page, app.url, "Train")
    pick(page, "Architecture", "custom")
    settle(page)
    grid = main(page).locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    layers = len(parse(ARCHITECTURES["fastcnn"].spec))
    expect(grid.locator('[role="row"]')).to_have_count(layers + 1)  # and the header


def test_build_train_and_classify_with_a_custom_network(page, app):
    go_to(page, app.url, "Train")
    body = main(page)
    pick(page, "Architecture", "custom")
    layers = body.get_by_role("textbox", name="Layers")
    expect(layers).to_be_visible()
    layers.fill(LAYERS)
    layers.press("Enter")
    settle(page)
    # The live report: one row per layer (the implied flatten too), and the totals.
    expect(body.get_by_text(re.compile(r"50,890 parameters · 0\.10 MFLOPs per image"))).to_be_visible()
    # A bad layer is named before anything trains.
    layers.fill("fc64,conv8k3,fc10")
    layers.press("Enter")
    settle(page)
    expect(body.get_by_text(re.compile(r"layer 2 \(conv8k3\): needs feature maps"))).to_be_visible()
    layers.fill(LAYERS)
    layers.press("Enter")
    settle(page)
    epochs = body.locator('[data-testid="stNumberInput"]').filter(has_text="Epochs").locator("input")
    epochs.fill("1")
    epochs.press("Enter")
    settle(page)
    shot(page, "custom-editor")
    body.get_by_role("button", name="Start training").click()
    use = body.get_by_role("button", name="Use this model")
    expect(use).to_be_visible(timeout=TRAIN_MS)
    settle(page)
    assert_no_errors(page, "Train after the custom run")
    use.click()
    settle(page)

    go_to(page, app.url, "Classify")
    body = main(page)
    draw = body.get_by_role("radio", name=re.compile(r"Draw$"))
    if not draw.is_checked():
        draw.check()
        settle(page)
    draw_vertical_stroke(page)
    expect(prediction_metric(page)).to_have_text(re.compile(r"^\d$"), timeout=30_000)
    model = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Model")
    expect(model).to_have_value(re.compile(r"^custom \(run "))
    assert_no_errors(page, "Classify with the custom network")
    shot(page, "custom-classified")
