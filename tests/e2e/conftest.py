"""Fixtures for the browser test: a real `streamlit run` server and Debian's chromium.

Everything the test writes goes under test-output/ (gitignored): screenshots,
the server's stdout/stderr and its per-run timings (ui/common/timings.py), the browser
console, and the measured timings.
Training runs go to a temporary folder, never to the repo's runs/.

Environment:
    MNIST_STUDIO_DATA                  the real datasets (default ../shared/data); else fake ones
    MNIST_STUDIO_REQUIRE_BROWSER=1     fail (instead of skip) when playwright or chromium is missing
    MNIST_STUDIO_UPDATE_SCREENSHOTS=1  also write docs/screenshots/<page>.png (five pages; python -m scripts.screenshots takes all eight)
    MNIST_STUDIO_E2E_FAKE_DATA=1       use the tiny fake datasets even when the real data is present
    MNIST_STUDIO_E2E_STAND_IN_WEIGHTS=1  train a 1-epoch model instead of using weights/
    CHROMIUM                           the browser binary (default /usr/bin/chromium)
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.appserver import (OUTPUT, SHIPPED_WEIGHTS, AppSetup, App, ServerFailed, real_data_present,
                             REAL_DATA, serve, snapshot_shipped_weights, train_stand_in_weights)
from bench.browser import CHROMIUM_ARGS, SCREENSHOTS, browser_missing, chromium_path, new_tab
from bench.fakedata import write_fake_dataset

REQUIRE_BROWSER = os.environ.get("MNIST_STUDIO_REQUIRE_BROWSER") == "1"
FORCE_FAKE_DATA = os.environ.get("MNIST_STUDIO_E2E_FAKE_DATA") == "1"
FORCE_STAND_IN = os.environ.get("MNIST_STUDIO_E2E_STAND_IN_WEIGHTS") == "1"


@pytest.fixture(scope="module")
def browser_ready() -> str:
    """Skip the module without a browser; fail instead where CI demands one."""
    reason = browser_missing()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"MNIST_STUDIO_REQUIRE_BROWSER=1, but {reason}", pytrace=False)
        pytest.skip(f"browser test skipped: {reason}")
    return chromium_path()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """test-output/, its screenshots emptied once per test session (not per module:
    each module's screenshots stay for people to look at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return OUTPUT


@pytest.fixture(scope="module")
def app_setup(tmp_path_factory) -> AppSetup:
    base = tmp_path_factory.mktemp("e2e")
    if not FORCE_FAKE_DATA and real_data_present() and real_data_present("fashion"):
        data_root, real = REAL_DATA, True
    else:
        data_root, real = base / "data", False
        write_fake_dataset(data_root, "mnist", seed=1)
        write_fake_dataset(data_root, "fashion", seed=2)
    weights = base / "weights"
    shipped = not FORCE_STAND_IN and (SHIPPED_WEIGHTS / "manifest.json").is_file()
    if shipped:
        snapshot_shipped_weights(weights)
    else:
        train_stand_in_weights(weights, data_root)
    runs = base / "runs"
    runs.mkdir()
    return AppSetup(data_root=data_root, real_data=real, weights=weights,
                    shipped_weights=shipped, runs=runs)


@pytest.fixture(scope="module")
def app(browser_ready, app_setup: AppSetup, output_dir: Path) -> App:
    """`streamlit run streamlit_app.py` on a free localhost port, for this module."""
    try:
        with serve(app_setup, output_dir) as served:
            yield served
    except ServerFailed as err:
        pytest.fail(str(err), pytrace=False)


# ---------------------------------------------------------------- the browser

@pytest.fixture(scope="module")
def browser(browser_ready: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_ready, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(browser, app: App, output_dir: Path):
    """One tab for the whole module (one Streamlit session), its console kept in a file."""
    context, page = new_tab(browser)
    page.set_default_timeout(30_000)
    console = open(output_dir / "browser-console.log", "w")
    page.on("console", lambda msg: console.write(f"[{msg.type}] {msg.text}\n"))
    page.on("pageerror", lambda err: console.write(f"[pageerror] {err}\n"))
    page.on("requestfailed", lambda req: console.write(
        f"[requestfailed] {req.url} ({req.failure})\n"))
    try:
        yield page
    finally:
        context.close()
        console.close()


@pytest.fixture(scope="module")
def timings(output_dir: Path):
    """Measurements the tests add to; written to test-output/e2e-timings.json at the end."""
    record: dict = {}
    yield record
    (output_dir / "e2e-timings.json").write_text(json.dumps(record, indent=2) + "\n")
