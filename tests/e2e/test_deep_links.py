"""Deep links: every page's URL, opened directly in a new browser on a fresh server,
shows that page and no "Page not found" dialog.

This module gets its own `streamlit run` (the conftest's `app` fixture is per module)
so the first request is the server's first script run, where Streamlit 1.67 used to
take the legacy pages/ pass and report the page as missing.
"""
from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module (or fails it in CI)
    expect = None

from bench.browser import CHROMIUM_ARGS, VIEWPORT  # noqa: F401

FIRST_LOAD_MS = 180_000
# (URL path, heading). The server's very first request is the first entry.
DEEP_LINKS = [("train", "Train"), ("evaluate", "Evaluate"), ("", "Classify"),
              ("mistakes", "Mistakes"), ("explore", "Dataset explorer"),
              ("train", "Train")]


@pytest.mark.parametrize("path,title", DEEP_LINKS, ids=[f"{i}-{p or 'root'}"
                                                         for i, (p, _) in enumerate(DEEP_LINKS)])
def test_page_url_opened_directly(browser, app, path: str, title: str) -> None:
    context = browser.new_context(viewport=VIEWPORT)  # a new browser: a new session
    try:
        page = context.new_page()
        page.goto(f"{app.url}/{path}")
        main = page.locator('[data-testid="stMain"]')
        heading = main.locator("h1").filter(has_text=re.compile(rf"{re.escape(title)}\s*$"))
        expect(heading).to_be_visible(timeout=FIRST_LOAD_MS)
        # The dialog comes with the first script run's messages: give it time to show.
        page.wait_for_timeout(1500)
        assert page.get_by_text("Page not found").count() == 0, \
            f"/{path}: a 'Page not found' dialog over the {title} page"
        assert page.locator('[role="dialog"]').count() == 0, f"/{path}: a dialog is open"
        assert page.url.rstrip("/") == f"{app.url}/{path}".rstrip("/"), page.url
    finally:
        context.close()
