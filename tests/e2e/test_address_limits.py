"""Limits per client address, in a real browser: three browser contexts (three cookie
jars, as a script that drops its cookie) on one `streamlit run` server, all from
127.0.0.1, with at most 1 run queued or training per address and 2 new visitor ids
per address an hour (per visitor: the default 2 runs).

    .venv/bin/python -m pytest -q tests/e2e/test_address_limits.py -x -s

A starts a long run; B, a new visitor from the same address, is refused its first
run by the address's cap (its own cap would allow it); C, the third new visitor
within the hour, gets the address's shared id and is told so. The tests run in file
order and share the server. Screenshots go to test-output/address-limits/.
"""
from __future__ import annotations

import os

import pytest

from bench.appserver import OUTPUT, AppSetup
from tests.e2e.test_visitors import (FAKE_TRAIN_IMAGES, LONG_RUN, Server, new_page,
                                     schedulers_of, wait_until_gone, cookie, fill_number, main,
                                     open_train, pick, press_start, stop_button, store,
                                     visitor_id, wait_for_cookie)
from bench.fakedata import write_fake_dataset
from ui.common.identity import SHARED_ID

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module (or fails it in CI)
    expect = None

SHOTS = OUTPUT / "address-limits"
LIMITS = {"MNIST_STUDIO_MAX_ACTIVE_PER_ADDRESS": "1", "MNIST_STUDIO_MAX_NEW_VISITORS": "2"}
REFUSED = "1 runs from your network address are queued or training; the limit is 1 per address"


@pytest.fixture(scope="module")
def server(browser_ready, app_setup: AppSetup, tmp_path_factory):
    data = tmp_path_factory.mktemp("address-data")
    write_fake_dataset(data, "mnist", n_train=FAKE_TRAIN_IMAGES, seed=1)
    write_fake_dataset(data, "fashion", seed=2)
    runs = tmp_path_factory.mktemp("address-runs")
    setup = AppSetup(data_root=data, real_data=False, weights=app_setup.weights,
                     shipped_weights=app_setup.shipped_weights, runs=runs)
    SHOTS.mkdir(parents=True, exist_ok=True)
    srv = Server(setup)
    with pytest.MonkeyPatch.context() as mp:  # the server's environment, not the tests'
        for name, value in LIMITS.items():
            mp.setenv(name, value)
        srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        assert not wait_until_gone(lambda: schedulers_of(runs))


@pytest.fixture(scope="module")
def pages(browser, server):
    made = {}

    def page(name: str):
        if name not in made:
            made[name] = new_page(browser, f"address-{name}")
        return made[name][1]
    yield page
    for context, _, log in made.values():
        context.close()
        log.close()


def _start_long_run(page, seed: int) -> None:
    for label, option in LONG_RUN.items():
        if label == "Epochs":
            fill_number(page, label, option)
        else:
            pick(page, label, option)
    fill_number(page, "Seed", seed)
    press_start(page)


def test_a_new_visitor_from_the_same_address_is_refused_past_its_cap(pages, server):
    a = pages("a")
    open_train(a, server.url)
    a_id = visitor_id(wait_for_cookie(a))
    _start_long_run(a, seed=1)
    expect(stop_button(a)).to_be_visible(timeout=60_000)

    b = pages("b")  # no cookie of A's: to the server, a new visitor
    open_train(b, server.url)
    b_id = visitor_id(wait_for_cookie(b))
    assert b_id != a_id
    _start_long_run(b, seed=2)
    expect(main(b).get_by_text(REFUSED)).to_be_visible(timeout=30_000)
    b.screenshot(path=str(SHOTS / "b-refused.png"))
    runs = store(server).list()
    assert [(r.owner, r.state.active) for r in runs] == [(a_id, True)]


def test_the_third_new_visitor_within_the_hour_shares_the_address_id(pages, server):
    c = pages("c")
    open_train(c, server.url)
    expect(main(c).get_by_text(SHARED_ID)).to_be_visible(timeout=30_000)
    assert cookie(c) is None  # the shared id is never written into a cookie
    c.screenshot(path=str(SHOTS / "c-shared.png"))
    assert os.environ.get("MNIST_STUDIO_MAX_NEW_VISITORS") is None  # the tests' own env kept
