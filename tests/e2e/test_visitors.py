"""A shared deployment, in a real browser: two visitors (two browser contexts, so two
cookie jars) on one `streamlit run` server, which this module starts, restarts once
on the same runs folder, and stops by its process group at the end.

    .venv/bin/python -m pytest -q tests/e2e/test_visitors.py -x -s

Visitor A starts a long run; visitor B sees it read-only and cannot stop it; A keeps
control across a page refresh (the signed cookie) and across a server restart (the
signing secret lives in the runs folder); A's third active run is refused by the
per-visitor limit; an edited cookie makes nobody A. The tests run in file order and
share the server, the two visitors and the runs. Screenshots go to test-output/visitors/.
"""
from __future__ import annotations

import functools
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.browser import CHROMIUM_ARGS, VIEWPORT
from bench.appserver import (AppSetup, HEALTH_TIMEOUT_S, OUTPUT, ROOT, free_port, healthy,
                             stop_server)
from bench.browser import FIRST_LOAD_MS, screenshot, fill_number, main, pick, settle
from bench.fakedata import write_fake_dataset

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module (or fails it in CI)
    expect = None

COOKIE = "mnist_studio_visitor"
SHOTS = OUTPUT / "visitors"
READ_ONLY = "another visitor's run"
LIMIT = "the limit is 2 per visitor"
# A's long run: ~300 steps an epoch on the fake data below, minutes in all (it is
# interrupted by the restart long before its end), and within the 10-minute estimate.
LONG_RUN = {"Architecture": "ffnn-small", "Epochs": 200, "Batch size": "32", "Device": "CPU"}
FAKE_TRAIN_IMAGES = 12_000
PLACED = re.compile(rf"Trains on local · node {re.escape(socket.gethostname())} · CPU")
EXIT_WAIT_S = 40  # the scheduler and its workers end after the server (the scheduler polls its parent)


# ------------------------------------------------------------------ processes

def _group_members(pgid: int) -> list[int]:
    """Live processes in a process group (the server, its scheduler, forkserver, workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields_after_name = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields_after_name[0], int(fields_after_name[2])
        if pgrp == pgid and state != "Z":
            found.append(int(entry.name))
    return found


def schedulers_of(runs: Path) -> list[int]:
    """`python -m core.runs.scheduler --runs <runs>` processes serving this runs folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"core.runs.scheduler" in argv and str(runs).encode() in argv:
            found.append(int(entry.name))
    return found


def wait_until_gone(what, deadline_s: float = EXIT_WAIT_S) -> list[int]:
    deadline = time.monotonic() + deadline_s
    while (left := what()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def _poll(condition, timeout_s: float = 30) -> bool:
    """For the run store, which no page condition can wait on: poll until true or timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


@dataclass
class Server:
    """`streamlit run` on a fixed port; start() and stop() may be called again (a restart)."""
    setup: AppSetup
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    starts: int = 0
    pgids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        env = dict(os.environ, MNIST_STUDIO_DATA=str(self.setup.data_root),
                   MNIST_STUDIO_RUNS=str(self.setup.runs),
                   MNIST_STUDIO_WEIGHTS=str(self.setup.weights),
                   MNIST_STUDIO_CACHE=str(OUTPUT / "eval-cache"), PYTHONUNBUFFERED="1")
        for name in ("MNIST_STUDIO_MAX_ACTIVE", "MNIST_STUDIO_WORKERS",
                     "MNIST_STUDIO_MAX_RUN_MINUTES", "MNIST_STUDIO_ADMIN_TOKEN"):
            env.pop(name, None)  # the defaults: 2 active runs per visitor, one worker
        env["MNIST_STUDIO_CONFIG"] = str(self.setup.runs / "no-studio.toml")  # no file: defaults
        cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
               "--server.headless", "true", "--server.port", str(self.port),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
        log = OUTPUT / f"visitors-server-{self.starts}"
        with open(f"{log}-stdout.log", "wb") as out, open(f"{log}-stderr.log", "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.pgids.append(self.proc.pid)
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while not healthy(self.url):
            if self.proc.poll() is not None:
                pytest.fail(f"streamlit exited with {self.proc.returncode}; see {log}-stderr.log",
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"{self.url} not healthy within {HEALTH_TIMEOUT_S} s", pytrace=False)
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM to the server's process group (SIGKILL if it lingers), then wait until
        every process it started has ended: no scheduler may outlive its server."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        stop_server(self.proc)
        self.proc = None
        left = wait_until_gone(lambda: _group_members(pgid))
        assert not left, f"processes of the stopped server {pgid} still alive: {left}"


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def setup(app_setup: AppSetup, tmp_path_factory) -> AppSetup:
    """The conftest's weights and fresh runs folder, with fake data big enough that A's
    run trains for minutes (real or tiny fake data would make its length vary)."""
    data = tmp_path_factory.mktemp("visitors-data")
    write_fake_dataset(data, "mnist", n_train=FAKE_TRAIN_IMAGES, seed=1)
    write_fake_dataset(data, "fashion", seed=2)
    return AppSetup(data_root=data, real_data=False, weights=app_setup.weights,
                    shipped_weights=app_setup.shipped_weights, runs=app_setup.runs)


@pytest.fixture(scope="module")
def server(browser_ready, setup: AppSetup):
    OUTPUT.mkdir(exist_ok=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    srv = Server(setup)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        left = wait_until_gone(lambda: schedulers_of(setup.runs))
        assert not left, f"scheduler processes of {setup.runs} outlived the server: {left}"


def new_page(browser, name: str):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(30_000)
    log = open(OUTPUT / f"visitors-console-{name}.log", "w")
    page.on("console", lambda msg: log.write(f"[{msg.type}] {msg.text}\n"))
    page.on("pageerror", lambda err: log.write(f"[pageerror] {err}\n"))
    return context, page, log


@pytest.fixture(scope="module")
def visitor_a(browser, server):
    context, page, log = new_page(browser, "a")
    yield page
    context.close()
    log.close()


@pytest.fixture(scope="module")
def visitor_b(browser, server):
    context, page, log = new_page(browser, "b")
    yield page
    context.close()
    log.close()


@pytest.fixture(scope="module")
def shared() -> dict:
    """What the tests hand on: A's cookie, A's run ids."""
    return {}


# ------------------------------------------------------------------ helpers

def cookie(page) -> str | None:
    values = [c["value"] for c in page.context.cookies() if c["name"] == COOKIE]
    return values[0] if values else None


def visitor_id(token: str) -> str:
    return token.rpartition(".")[0]


def open_train(page, url: str, run_id: str | None = None) -> None:
    page.goto(f"{url}/train" + (f"?run={run_id}" if run_id else ""))
    heading = main(page).locator("h1").filter(has_text=re.compile(r"Train\s*$"))
    expect(heading).to_be_visible(timeout=FIRST_LOAD_MS)
    expect(main(page).get_by_role("button", name="Start training")).to_be_visible()


def wait_for_cookie(page) -> str:
    page.wait_for_function(f"() => document.cookie.includes('{COOKIE}=')", timeout=30_000)
    value = cookie(page)
    assert value and value.startswith("v:"), f"visitor cookie: {value!r}"
    return value


def stop_button(page):
    return main(page).get_by_role("button", name="Stop", exact=True)


def store(server: Server):
    """The run store, read as the app's scheduler writes it (SQLite WAL: safe beside it)."""
    return _store(str(server.setup.runs))


@functools.lru_cache(maxsize=None)
def _store(runs: str):
    from core.runs.database import RunDatabase
    return RunDatabase(runs)


def press_start(page) -> None:
    main(page).get_by_role("button", name="Start training").click()


def shot(page, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    screenshot(page, path, max_height=1400)
    return path


def sidebar_visitor(page) -> str:
    """The sidebar's "visitor <first 8 characters of the id>" line: who the server thinks this is."""
    line = page.locator('[data-testid="stSidebar"]').get_by_text(re.compile(r"visitor \w{8} · "))
    expect(line).to_be_visible()
    return re.search(r"visitor (\w{8}) · ", line.inner_text()).group(1)


# ------------------------------------------------------------------ tests

def test_visitor_cookie_is_set_and_sent_again(visitor_a, server, shared):
    """A new browser gets a signed visitor cookie from the page; after a reload (a new
    session) the server accepts it and keeps it: the same visitor, no new cookie."""
    open_train(visitor_a, server.url)
    first = wait_for_cookie(visitor_a)
    assert sidebar_visitor(visitor_a) == visitor_id(first)[2:10]
    visitor_a.reload()
    open_train(visitor_a, server.url)
    settle(visitor_a)
    assert cookie(visitor_a) == first, "a reload made a new visitor: the cookie was not read back"
    assert sidebar_visitor(visitor_a) == visitor_id(first)[2:10]
    shared["a_cookie"] = first


def test_other_visitor_sees_run_read_only(visitor_a, visitor_b, server, shared):
    """A starts a long run; B opens it by its link and watches it without a Stop."""
    page = visitor_a
    open_train(page, server.url)
    for label, option in LONG_RUN.items():
        if label == "Epochs":
            fill_number(page, label, option)
        else:
            pick(page, label, option)
    fill_number(page, "Seed", 1)
    press_start(page)
    expect(stop_button(page)).to_be_visible(timeout=60_000)
    # Where it trains, once the worker says so (the page was drawn before it did).
    expect(main(page).get_by_text(PLACED)).to_be_visible(timeout=30_000)
    owner = visitor_id(shared["a_cookie"])
    mine = store(server).list(owner=owner)
    assert len(mine) == 1 and mine[0].state == "running", [(r.id, r.state) for r in mine]
    run_id = shared["run1"] = mine[0].id

    b = visitor_b
    open_train(b, server.url, run_id)
    b_cookie = wait_for_cookie(b)
    assert visitor_id(b_cookie) != owner
    body = main(b)
    expect(body.get_by_text(READ_ONLY)).to_be_visible()
    expect(body.get_by_role("combobox", name="Run")).to_have_value(re.compile(
        rf"· visitor {re.escape(owner.split(':')[-1][:6])}$"))
    expect(body.locator('[data-testid="stProgress"]')).to_be_visible(timeout=60_000)
    assert stop_button(b).count() == 0 and body.get_by_role("button", name="Cancel").count() == 0
    # It keeps training while B watches: the progress text moves on.
    step = store(server).get(run_id).step
    progress = body.locator('[data-testid="stProgress"]')
    before = progress.inner_text()
    expect(progress).not_to_have_text(before, timeout=30_000)
    assert stop_button(b).count() == 0
    assert _poll(lambda: store(server).get(run_id).step > step), "the run stopped training"
    assert store(server).get(run_id).state == "running"
    shot(b, "b-reads-a-run")


def test_refresh_keeps_control(visitor_a, server, shared):
    """After a page refresh A is still A (the cookie) and still has the Stop button."""
    visitor_a.reload()
    open_train(visitor_a, server.url)
    expect(stop_button(visitor_a)).to_be_visible(timeout=30_000)
    expect(main(visitor_a).get_by_text(READ_ONLY)).to_have_count(0)
    assert cookie(visitor_a) == shared["a_cookie"]


def test_third_active_run_refused(visitor_a, server, shared):
    """One training, one queued: the third Start says the limit and queues nothing."""
    page, owner = visitor_a, visitor_id(shared["a_cookie"])
    for label, option in LONG_RUN.items():  # the reload reset the form
        if label == "Epochs":
            fill_number(page, label, option)
        else:
            pick(page, label, option)
    fill_number(page, "Seed", 2)
    press_start(page)
    expect(main(page).get_by_text(re.compile(r"^Queued: every worker is busy"))).to_be_visible()
    settle(page)
    assert sorted(r.state for r in store(server).list(owner=owner)) == ["queued", "running"]

    fill_number(page, "Seed", 3)
    press_start(page)
    refused = main(page).locator('[data-testid="stAlertContentError"]')
    expect(refused).to_contain_text("Not started.")
    expect(refused).to_contain_text(LIMIT)
    runs = store(server).list(owner=owner)
    assert sorted(r.state for r in runs) == ["queued", "running"], [(r.id, r.state) for r in runs]
    refused.scroll_into_view_if_needed()
    shot(page, "a-third-start-refused")
    shared["run2"] = next(r.id for r in runs if r.state == "queued")

    # The queued one is A's to cancel (it would only compete for the CPU from here on).
    settle(page)
    cancel = main(page).get_by_role("button", name="Cancel")
    expect(cancel).to_be_visible()
    cancel.click()
    expect(main(page).get_by_text("Stopped", exact=True).first).to_be_visible(timeout=30_000)
    assert store(server).get(shared["run2"]).state == "cancelled"
    assert store(server).get(shared["run1"]).state == "running"


def test_edited_cookie_is_not_the_visitor(browser, server, shared):
    """A cookie with A's id but a changed signature verifies as nobody: read-only."""
    token = shared["a_cookie"]
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    context = browser.new_context(viewport=VIEWPORT)
    try:
        context.add_cookies([{"name": COOKIE, "value": forged, "url": server.url}])
        page = context.new_page()
        open_train(page, server.url, shared["run1"])
        body = main(page)
        expect(body.get_by_text(READ_ONLY)).to_be_visible()
        assert stop_button(page).count() == 0
        # Its holder became a new visitor, with a cookie of their own.
        page.wait_for_function(f"() => !document.cookie.includes({forged!r})", timeout=30_000)
        replaced = cookie(page)
        assert replaced and visitor_id(replaced) != visitor_id(token), replaced
    finally:
        context.close()
    assert store(server).get(shared["run1"]).state == "running"


def test_restart_keeps_owner(visitor_a, visitor_b, server, shared):
    """Stop the server (the run is interrupted), start a new one on the same runs folder:
    A's cookie still verifies, A can resume their run, B still only reads it."""
    run_id = shared["run1"]
    server.stop()
    assert not wait_until_gone(lambda: schedulers_of(server.setup.runs)), "the scheduler outlived its server"
    # The worker got the server's SIGTERM too and stopped as a Stop does, keeping its step.
    stopped = store(server).get(run_id)
    assert stopped.state == "cancelled" and stopped.resumable, (stopped.state, stopped.phase)
    assert stopped.step > 0
    server.start()

    page = visitor_a
    open_train(page, server.url, run_id)
    body = main(page)
    expect(body.get_by_role("button", name="Resume")).to_be_visible(timeout=60_000)
    expect(body.get_by_role("button", name="Delete")).to_be_visible()
    expect(body.get_by_text(READ_ONLY)).to_have_count(0)
    expect(body.get_by_text(re.compile("interrupted: the server stopped"))).to_be_visible()
    assert cookie(page) == shared["a_cookie"], "the restart made A a new visitor"
    record = store(server).get(run_id)
    assert record.state == "cancelled" and record.owner == visitor_id(shared["a_cookie"])

    b = visitor_b
    open_train(b, server.url, run_id)
    body_b = main(b)
    expect(body_b.get_by_text(re.compile(r"This run belongs to visitor"))).to_be_visible()
    for name in ("Resume", "Delete", "Stop"):
        assert body_b.get_by_role("button", name=name, exact=True).count() == 0, name

    # A's Resume works: the run trains again under A's control.
    body.get_by_role("button", name="Resume").click()
    expect(stop_button(page)).to_be_visible(timeout=60_000)
    assert store(server).get(run_id).state == "running"
    assert _poll(lambda: store(server).get(run_id).step > stopped.step, 60), "not training"
