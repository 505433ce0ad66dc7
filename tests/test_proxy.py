"""Several app processes behind the sticky nginx of docs/deploying.md (bench/proxy.py):
a first visit gets a route cookie, every later connection with it (a stroke's, a
reload's) reaches the same process (a Streamlit session and the files its page
fetches live in one), and visitors are spread over the processes."""
from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from bench.appserver import REAL_DATA, SHIPPED_WEIGHTS, AppSetup, serve, snapshot_shipped_weights
from bench.protocol import Session
from bench.proxy import ROUTE_COOKIE, config, nginx_path, route_cookie, sticky_proxy
from bench.strokes import canvas_value
from tests.conftest import real_data_present
from ui.common import timings

VISITORS = 12  # random routes: all on one of two processes once in 2,000 runs


def test_the_config_routes_by_a_cookie_it_gives_and_passes_the_websocket(tmp_path):
    text = config(["http://127.0.0.1:8501", "http://127.0.0.1:8502"], "127.0.0.1:80", tmp_path)
    assert "hash $studio_route consistent;" in text
    assert "$remote_addr" not in text  # a class behind one router is one address
    assert "server 127.0.0.1:8501;" in text and "server 127.0.0.1:8502;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert f"{ROUTE_COOKIE}=$request_id" in text


def _answered_by(apps: dict, before: dict[str, int]) -> str:
    """The process whose timings got the stroke (its record is written as its run ends)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        grown = [name for name, app in apps.items()
                 if sum(r["run"] == "classify" for r in timings.read(app.timings)) > before[name]]
        if grown:
            assert len(grown) == 1, grown
            return grown[0]
        time.sleep(0.05)
    raise AssertionError("no process answered the stroke")


@pytest.mark.skipif(nginx_path() is None, reason="no nginx here (Debian: apt-get install nginx)")
@pytest.mark.skipif(not (real_data_present() and (SHIPPED_WEIGHTS / "manifest.json").is_file()),
                    reason="needs the real MNIST data and the shipped weights")
def test_a_visitor_stays_with_one_process_and_visitors_are_spread(tmp_path):
    snapshot_shipped_weights(tmp_path / "weights")
    (tmp_path / "runs").mkdir()
    setup = AppSetup(data_root=REAL_DATA, real_data=True, weights=tmp_path / "weights",
                     shipped_weights=True, runs=tmp_path / "runs")
    with serve(setup, tmp_path, "one") as one, serve(setup, tmp_path, "two") as two, \
            sticky_proxy([one.url, two.url], tmp_path / "nginx") as (entry, _pid):
        apps = {"one": one, "two": two}
        with urllib.request.urlopen(f"{entry}/_stcore/health", timeout=10) as reply:
            assert reply.read() == b"ok"

        async def stroke(cookie: str, digit: int) -> tuple[str, str]:
            before = {name: sum(r["run"] == "classify" for r in timings.read(app.timings))
                      for name, app in apps.items()}
            s = Session(entry, cookie)
            try:
                reply = await s.open()
                canvas = s.widget("bidi_component", "canvas")
                s.set_json(canvas, canvas_value(digit, np.random.default_rng(digit)))
                got = await s.rerun(fragment_id=s.fragment_of.get(canvas,
                                                                 next(iter(reply.fragments))))
                assert not got.exceptions, got.exceptions
                return got.metrics.get("Prediction"), _answered_by(apps, before)
            finally:
                await s.close()

        served = {}
        for i in range(VISITORS):
            cookie = route_cookie(entry)  # the first visit: the page, and its cookie
            first = asyncio.run(stroke(cookie, 1))
            again = asyncio.run(stroke(cookie, 7))  # a reload: a new websocket
            assert (first[0], again[0]) == ("1", "7")
            assert first[1] == again[1], (i, first, again)  # the same process both times
            served[cookie] = first[1]
    assert len(set(served)) == VISITORS  # each first visit got a route of its own
    assert set(served.values()) == {"one", "two"}, served  # and both processes had visitors


def test_the_deploying_guide_shows_the_tested_config(tmp_path):
    """docs/deploying.md's nginx block says what bench/proxy.py runs (its listen line and
    upstream addresses are a real host's)."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "deploying.md").read_text()
    block = doc.split("```nginx", 1)[1].split("```", 1)[0]
    tested = {" ".join(line.split("#")[0].split()) for line in
              config(["http://127.0.0.1:8501", "http://127.0.0.1:8502"], "80", tmp_path).splitlines()}
    for line in block.splitlines():
        line = " ".join(line.split("#")[0].split())
        if line and not line.startswith("listen"):
            assert line in tested, line
