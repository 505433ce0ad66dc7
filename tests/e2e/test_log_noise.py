"""What a fresh server and a browser log, and the model a URL keeps, on a server of its own
(the conftest's `app` fixture is per module).

- The server log: no "Component ... is already registered. Overwriting previous
  definition" when Classify draws its canvas (the canvas component registers once).
- The browser: opening `/` fails no request and logs no console error. Opening a page's
  URL directly (`/compare`) fails exactly two requests, `/compare/_stcore/health` and
  `/compare/_stcore/host-config`, with their two "Failed to load resource" lines: that is
  Streamlit's frontend looking for the server's base path (it tries the page's path first,
  then its parent; streamlit/streamlit#7074, docs/deploying.md), and nothing else may fail.
- The chosen model survives a reload and a page switch (?model=... in the URL).
"""
from __future__ import annotations

import re

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None

from bench.browser import FIRST_LOAD_MS, VIEWPORT, go_to, main, settle

STREAMLIT_PROBES = ("_stcore/health", "_stcore/host-config")


def _open_directly(browser, url: str) -> tuple[list[str], list[str]]:
    """Open `url` in a new browser (a new session): (failed requests, console errors)."""
    context = browser.new_context(viewport=VIEWPORT)
    failed, errors = [], []
    try:
        page = context.new_page()
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400
                else None)
        page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(url)
        expect(main(page).locator("h1").first).to_be_visible(timeout=FIRST_LOAD_MS)
        settle(page, FIRST_LOAD_MS)
    finally:
        context.close()
    return failed, errors


def test_the_root_url_logs_nothing_and_the_canvas_warns_no_more(browser, app):
    failed, errors = _open_directly(browser, app.url + "/")  # Classify: draws the canvas
    assert failed == [] and errors == [], (failed, errors)
    log = app.log.read_text()
    assert "already registered" not in log and "Overwriting previous definition" not in log, log


def test_a_page_url_fails_only_streamlits_two_base_path_probes(browser, app):
    for path in ("compare", "train", "inside"):
        failed, errors = _open_directly(browser, f"{app.url}/{path}")
        assert sorted(failed) == sorted(f"404 {app.url}/{path}/{probe}"
                                        for probe in STREAMLIT_PROBES), (path, failed)
        assert errors == ["Failed to load resource: the server responded with a status of "
                          "404 (Not Found)"] * 2, (path, errors)


def test_the_chosen_model_survives_a_reload_and_a_page_switch(browser, app):
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(app.url + "/")
        expect(main(page).locator("h1").first).to_be_visible(timeout=FIRST_LOAD_MS)
        settle(page, FIRST_LOAD_MS)
        box = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Model")
        default = box.input_value()
        box.click()
        options = page.get_by_role("option")
        chosen = next(t.strip() for t in options.all_inner_texts() if t.strip() != default)
        options.filter(has_text=chosen).first.click()
        settle(page)
        expect(box).to_have_value(chosen)
        expect(page).to_have_url(re.compile(r"[?&]model=shipped%3A"))
        page.reload()
        expect(main(page).locator("h1").first).to_be_visible(timeout=FIRST_LOAD_MS)
        settle(page, FIRST_LOAD_MS)
        expect(box).to_have_value(chosen)  # a refresh: the same model
        go_to(page, app.url, "Evaluate")
        expect(box).to_have_value(chosen)
        expect(page).to_have_url(re.compile(r"/evaluate\?(.*&)?model=shipped%3A"))
    finally:
        context.close()
