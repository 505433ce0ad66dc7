"""In a real browser: Inside the model (layers, filters, the embedding map and a click on
it) and Compare runs (two runs' curves in one chart, their differing settings marked).

    .venv/bin/pytest tests/e2e/test_inside.py -q -s

This module gets its own `streamlit run`; its first request opens Inside the model by
its URL (the server's first script run: the deep-link case). Screenshots go to
test-output/screenshots/.
"""
from __future__ import annotations

import io
import re

import numpy as np
import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module (or fails it in CI)
    expect = None

from core.train.config import TrainConfig
from core.runs.api import get_service, shutdown_services
from core.server.visitors import Viewer
from bench.browser import FIRST_LOAD_MS, PAGE_MS, assert_no_errors, go_to, main, settle, shot
from bench.fakedata import write_fake_dataset

MAP_MS = 240_000  # the first embedding map: a pass of the model over the 10,000 test images
HIGHLIGHT_RGB = (0xFF, 0xE0, 0x8A)  # pages/compare.py's HIGHLIGHT background

# The embedding map's points, per trace name, as the browser holds them.
MAP_POINTS = """() => {
  const chart = document.querySelector('.st-key-inside_map .js-plotly-plot');
  if (!chart || !chart.data) return null;
  return Object.fromEntries(chart.data.map(t => [t.name, (t.x || []).length]));
}"""


# The mistake point farthest from any other point (a click there selects it and no
# neighbour), as [page x, page y, its test index].
LONELY_MISTAKE = """() => {
  const chart = document.querySelector('.st-key-inside_map .js-plotly-plot');
  const L = chart._fullLayout, box = chart.getBoundingClientRect();
  const px = (t, i) => [box.left + L._size.l + L.xaxis.l2p(t.x[i]),
                        box.top + L._size.t + L.yaxis.l2p(t.y[i])];
  const all = chart.data.flatMap(t => t.x.map((_, i) => px(t, i)));
  const mistakes = chart.data[chart.data.length - 1];
  let best = null;
  mistakes.x.forEach((_, i) => {
    const [x, y] = px(mistakes, i);
    let near = Infinity;
    for (const [u, v] of all) {
      const d = Math.hypot(u - x, v - y);
      if (d > 0.01 && d < near) near = d;
    }
    if (!best || near > best.near) best = {x, y, near, index: mistakes.customdata[i][0]};
  });
  return [best.x, best.y, Number(best.index)];
}"""


def _heading(page, title: str):
    return main(page).locator("h1").filter(has_text=re.compile(rf"{re.escape(title)}\s*$"))


def test_inside_the_model_shows_layers_filters_and_the_map(page, app):
    page.goto(f"{app.url}/inside")  # the server's first request, straight to the page
    expect(_heading(page, "Inside the model")).to_be_visible(timeout=FIRST_LOAD_MS)
    body = main(page)
    expect(body.get_by_text("Layer by layer")).to_be_visible(timeout=PAGE_MS)
    expect(body.get_by_text(re.compile(r"^First layer: "))).to_be_visible(timeout=PAGE_MS)
    # The map comes last: wait for all of it (the first time, the model maps the test set).
    page.wait_for_function(f"() => ({MAP_POINTS})() !== null", timeout=MAP_MS, polling=500)
    settle(page, MAP_MS)
    assert_no_errors(page, "Inside the model")
    assert page.get_by_text("Page not found").count() == 0

    layer_names = body.locator("strong").filter(has_text=re.compile(r"^\d+ · \w+$"))
    n_layers = layer_names.count()
    assert n_layers >= 5, layer_names.all_inner_texts()
    # Images: the input, one grid per conv layer, the first layer's filters.
    images = body.locator('[data-testid="stImage"] img')
    strips = body.locator('[class*="st-key-inside_strip_"]')
    assert images.count() + strips.count() >= n_layers + 2
    for i in range(images.count()):  # every image has loaded and has a size
        assert images.nth(i).evaluate("im => im.complete && im.naturalWidth > 0")

    points = page.evaluate(MAP_POINTS)
    total = sum(v for k, v in points.items() if not k.startswith("mistakes ("))  # legend stand-in
    mistakes = points["mistakes"]
    assert len(points) == 12 and total == (10_000 if app.setup.real_data else 100), points
    assert mistakes > 0
    shot(page, "inside-the-model")

    # A click on a mistake (an outlined diamond) opens it on the Mistakes page, filtered
    # to its pair and shown large.
    page.locator(".st-key-inside_map").scroll_into_view_if_needed()
    x, y, expected = page.evaluate(LONELY_MISTAKE)
    page.mouse.click(x, y)
    expect(_heading(page, "Mistakes")).to_be_visible(timeout=PAGE_MS)
    settle(page)
    assert_no_errors(page, "Mistakes from the map")
    expect(body.get_by_text(f"Test image #{expected}", exact=True)).to_be_visible()
    shot(page, "inside-map-to-mistakes")


@pytest.fixture(scope="module")
def two_runs(app, tmp_path_factory):
    """Two short runs in the server's runs folder, trained on tiny fake data (seconds),
    by another visitor: the app shows others' runs read-only by default."""
    data = tmp_path_factory.mktemp("compare-data")
    write_fake_dataset(data, "mnist", seed=3)
    svc = get_service(app.setup.runs)
    someone = Viewer("v:e2e-compare")
    base = dict(dataset="mnist", model="ffnn-small", device="cpu", schedule="constant",
                data_dir=str(data))
    try:
        ids = [svc.submit(TrainConfig(epochs=4, lr=1e-3, batch_size=64, **base), someone).id,
               svc.submit(TrainConfig(epochs=4, lr=3e-3, batch_size=32, **base), someone).id]
        for run_id in ids:
            assert svc.wait(run_id, someone, timeout=300).state == "finished"
        yield ids
    finally:
        shutdown_services()


def test_compare_runs_overlays_two_runs_and_marks_differences(page, app, two_runs):
    go_to(page, app.url, "Compare runs")
    body = main(page)
    chart = body.locator(".st-key-compare_chart .js-plotly-plot")
    expect(chart).to_be_visible()
    lines = chart.evaluate("c => c.data.map(t => [t.name, t.x.length])")
    assert len(lines) == 2 and all(n == 4 for _, n in lines), lines  # 4 epochs each
    table = body.locator('[data-testid="stDataFrame"]')
    expect(table).to_be_visible()
    table.scroll_into_view_if_needed()
    settle(page)
    expect(body.get_by_text(re.compile("✱ 2 settings differ: batch_size, lr."))).to_be_visible()
    # The differing rows are highlighted: the table (a canvas) shows the highlight colour.
    from PIL import Image
    pixels = np.asarray(Image.open(io.BytesIO(table.screenshot())).convert("RGB")).astype(int)
    near = (np.abs(pixels - np.array(HIGHLIGHT_RGB)).sum(axis=2) < 12).sum()
    assert near > 1000, f"only {near} highlighted pixels in the settings table"
    shot(page, "compare-runs")

    # Training loss: one line per run, per step.
    body.get_by_role("radio", name=re.compile(r"^Training loss")).click()
    settle(page)
    expect(chart.locator(".xtitle")).to_have_text("step")
    assert chart.evaluate("c => c.data.length") == 2
    shot(page, "compare-runs-training-loss")
