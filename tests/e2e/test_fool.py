"""Fool it in a real browser: draw a digit, open the Fool it panel, raise the budget with
the keyboard, and see the drawing fooled, with the change and the transfer table.

    .venv/bin/python -m pytest -q tests/e2e/test_fool.py
"""
from __future__ import annotations

import re

from bench.browser import assert_no_errors, go_to, main, settle, shot
from tests.e2e.test_handwriting import draw_strokes

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None


def test_fool_a_drawing(page, app):
    go_to(page, app.url, "Classify")
    predicted = draw_strokes(page)
    body = main(page)
    body.get_by_text(re.compile(r"^Fool it")).click()
    settle(page)
    panel = body.locator(".st-key-fool_open")
    expect(panel.get_by_text(re.compile(r"fooled", re.I)).first).to_be_visible(timeout=30_000)
    thumb = panel.get_by_role("slider")
    thumb.focus()
    for _ in range(10):  # 0.20 -> 0.30, a step of 0.01 per key
        thumb.press("ArrowRight")
    settle(page)
    expect(panel.get_by_text(re.compile(r"^Fooled: it now says"))).to_be_visible(timeout=30_000)
    expect(panel).to_contain_text(f"was {predicted}")
    expect(panel).to_contain_text("Transfer:")
    expect(panel).to_contain_text("The change amplified ×")
    assert_no_errors(page, "Classify with Fool it open")
    shot(page, "fool-it")
