"""Offline: every page draws with nothing fetched from outside the app's own server
(the tab's icon once came from Google's font server, fonts.gstatic.com, which fails
offline). The sidebar's and headings' ":material/...:" icons must come from
Streamlit's bundled font. Every request and websocket of the browser is recorded and
must be on the app's host.

The same server also shows that a fraction typed into Epochs reaches the form and is
refused (an integer widget would turn 2.5 into 2 in the browser).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module (or fails it in CI)
    expect = None

from bench.browser import new_tab
from bench.browser import FIRST_LOAD_MS, PAGE_MS, assert_no_errors, fill_number, main, settle

# (URL path, heading): every page of streamlit_app.py.
PAGES = [("", "Classify"), ("inside", "Inside the model"), ("handwriting", "Your handwriting"),
         ("train", "Train"), ("compare", "Compare runs"), ("evaluate", "Evaluate"),
         ("mistakes", "Mistakes"), ("explore", "Dataset explorer")]
LOCAL_SCHEMES = {"data", "blob", "about"}  # made in the browser: no network


def _open(page, url: str, title: str) -> None:
    page.goto(url)
    heading = main(page).locator("h1").filter(has_text=re.compile(rf"{re.escape(title)}\s*$"))
    expect(heading).to_be_visible(timeout=FIRST_LOAD_MS)
    settle(page, PAGE_MS)


def test_no_page_fetches_anything_from_outside_the_app_server(browser, app):
    host = urlsplit(app.url).netloc
    context, page = new_tab(browser)
    seen: list[str] = []
    failed: list[str] = []
    context.on("request", lambda request: seen.append(request.url))
    context.on("requestfailed", lambda request: failed.append(f"{request.url} ({request.failure})"))
    page.on("websocket", lambda socket: seen.append(socket.url))
    try:
        for path, title in PAGES:
            _open(page, f"{app.url}/{path}", title)
            assert_no_errors(page, title)
            # The sidebar's page icons and the heading's icon are drawn (bundled font).
            expect(page.locator('[data-testid="stSidebarNav"] a').first).to_be_visible()
        page.wait_for_timeout(1000)  # late requests (the favicon, fonts) get their chance
        icon = page.locator('link[rel~="icon"]').first.get_attribute("href")
        icon_url = icon if "://" in icon else f"{app.url}/{icon.lstrip('/')}"
        ours = urlsplit(icon_url).netloc == host
        response = page.request.get(icon_url) if ours else None  # never ask outside
        icon_bytes = response.body() if response is not None and response.ok else b""
    finally:
        context.close()
    outside = sorted({u for u in seen if urlsplit(u).scheme not in LOCAL_SCHEMES
                      and urlsplit(u).netloc != host})
    assert not outside, f"fetched from outside {host}: {outside}"
    assert not failed, failed
    assert ours and icon_bytes.startswith(b"\x89PNG"), icon  # the tab's icon: our own file


def test_a_fraction_typed_into_epochs_is_refused_not_truncated(browser, app):
    context, page = new_tab(browser)
    try:
        _open(page, f"{app.url}/train", "Train")
        fill_number(page, "Epochs", 2.5)  # an integer widget would show 2 here
        main(page).get_by_role("button", name="Start training").click()
        settle(page)
        said = main(page).locator('[data-testid="stAlert"]').filter(
            has_text="epochs must be a whole number")
        expect(said).to_have_count(1)  # once, not as a warning and an error
        assert main(page).get_by_text("Started run").count() == 0
    finally:
        context.close()
