"""What a person sees, measured in a real browser (1280 x 900): no label cut off, no button
alone on a line, no legend over a title, no class name clipped under a chart.

    .venv/bin/python -m pytest -q tests/e2e/test_layout.py
"""
from __future__ import annotations

import re

from bench.browser import (FIRST_LOAD_MS, PAGE_MS, assert_no_errors, draw_vertical_stroke,
                           go_to, main, prediction_metric, settle)

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None

# The texts cut short under an element: Streamlit ends a label that does not fit with
# "…" (text-overflow: ellipsis on its markdown container), wider than its box.
CUT = """root => [root, ...root.querySelectorAll('*')]
    .filter(el => getComputedStyle(el).textOverflow === 'ellipsis'
                  && el.scrollWidth > el.clientWidth + 1)
    .map(el => el.textContent)"""


def _inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def _overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_classify_labels_and_teaching_buttons_fit(page, app):
    """"Compare every MNIST digits model on this inpu…" was cut, and the "9" teaching
    button wrapped onto a line of its own."""
    go_to(page, app.url, "Classify")
    body = main(page)
    draw = body.get_by_role("radio", name=re.compile(r"Draw$"))
    if not draw.is_checked():
        draw.check()
        settle(page)
    draw_vertical_stroke(page)
    expect(prediction_metric(page)).to_be_visible(timeout=FIRST_LOAD_MS)
    settle(page)
    toggle = body.locator(".st-key-classify_compare")
    expect(toggle).to_be_visible()
    assert toggle.evaluate(CUT) == []
    digits = body.locator(".st-key-teach_fix").get_by_role("radio")
    expect(digits).to_have_count(9)
    rows = {round(digits.nth(i).bounding_box()["y"]) for i in range(9)}
    assert len(rows) == 1, f"the nine digit pills sit on {len(rows)} lines"
    side = page.locator('[data-testid="stSidebar"]')
    box = side.locator('[data-testid="stExpander"]').filter(has_text="Your model, elsewhere")
    box.locator("summary").click()
    settle(page)
    for name in ("ONNX", "TorchScript"):
        button = box.get_by_role("button", name=name)
        expect(button).to_be_visible()
        assert button.evaluate(CUT) == [], name
    assert_no_errors(page, "Classify")


def test_inside_shows_the_class_names_under_the_last_layer(page, app):
    """Its digits were cut in half under the strip (Fashion's slanted names hidden)."""
    go_to(page, app.url, "Inside the model", timeout=PAGE_MS)
    strips = main(page).locator('[class*="st-key-inside_strip_"]')
    expect(strips.last.locator(".xtick text").first).to_be_attached(timeout=PAGE_MS)
    last = strips.last
    last.scroll_into_view_if_needed()
    frame = last.locator(".main-svg").first.bounding_box()
    ticks = last.locator(".xtick text")
    assert ticks.count() == 10
    for i in range(10):
        tick = ticks.nth(i).bounding_box()
        assert _inside(tick, frame), (i, tick, frame)


def test_evaluates_comparison_legend_leaves_the_title_clear(page, app):
    """Two long model names in the legend ran over the "Per-class accuracy" title."""
    go_to(page, app.url, "Evaluate", timeout=PAGE_MS)
    chart = main(page).locator(".st-key-eval_compare_bars")
    chart.scroll_into_view_if_needed()
    expect(chart.locator(".legend")).to_be_attached(timeout=PAGE_MS)
    title = chart.locator(".gtitle").bounding_box()
    legend = chart.locator(".legend").bounding_box()
    assert not _overlap(title, legend), (title, legend)
    ticks = chart.locator(".ytick text").evaluate_all("els => els.map(e => e.textContent)")
    assert ticks and all(float(t.rstrip("%")) <= 100 for t in ticks), ticks  # not 100.5%
