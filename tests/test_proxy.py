"""Several app processes behind the sticky nginx of docs/deploying.md (bench/proxy.py):
visitors from different addresses are spread over the processes, each answered by the
one its address is pinned to (a Streamlit session and the files its page fetches live
in one process)."""
from __future__ import annotations

import asyncio
import urllib.request
from collections import Counter

import numpy as np
import pytest

from bench.appserver import REAL_DATA, SHIPPED_WEIGHTS, AppSetup, serve, snapshot_shipped_weights
from bench.protocol import Session
from bench.proxy import client_address, config, nginx_path, sticky_proxy
from bench.strokes import canvas_value
from tests.conftest import real_data_present
from ui.common import timings

VISITORS = 8


def test_the_config_pins_each_address_to_one_process_and_passes_the_websocket(tmp_path):
    text = config(["http://127.0.0.1:8501", "http://127.0.0.1:8502"], "127.0.0.1:80", tmp_path)
    assert "hash $remote_addr consistent;" in text
    assert "server 127.0.0.1:8501;" in text and "server 127.0.0.1:8502;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert [client_address(i) for i in (0, 1, 247, 248, 600)] == [
        "127.0.0.2", "127.0.0.3", "127.0.0.249", "127.0.0.250", "127.0.2.102"]


@pytest.mark.skipif(nginx_path() is None, reason="no nginx here (Debian: nginx-light)")
@pytest.mark.skipif(not (real_data_present() and (SHIPPED_WEIGHTS / "manifest.json").is_file()),
                    reason="needs the real MNIST data and the shipped weights")
def test_visitors_behind_the_proxy_are_spread_over_the_processes_and_answered(tmp_path):
    snapshot_shipped_weights(tmp_path / "weights")
    (tmp_path / "runs").mkdir()
    setup = AppSetup(data_root=REAL_DATA, real_data=True, weights=tmp_path / "weights",
                     shipped_weights=True, runs=tmp_path / "runs")
    with serve(setup, tmp_path, "one") as one, serve(setup, tmp_path, "two") as two, \
            sticky_proxy([one.url, two.url], tmp_path / "nginx") as (entry, _pid):
        with urllib.request.urlopen(f"{entry}/_stcore/health", timeout=10) as reply:
            assert reply.read() == b"ok"

        async def visit(i: int) -> list[str]:
            s = Session(entry, source=client_address(i))
            try:
                reply = await s.open()
                canvas = s.widget("bidi_component", "canvas")
                panel = next(iter(reply.fragments))
                said = []
                for digit in (1, 7):
                    s.set_json(canvas, canvas_value(digit, np.random.default_rng(i)))
                    got = await s.rerun(fragment_id=s.fragment_of.get(canvas, panel))
                    assert not got.exceptions, got.exceptions
                    said.append(got.metrics.get("Prediction"))
                return said
            finally:
                await s.close()

        async def everyone() -> list[list[str]]:
            return await asyncio.gather(*(visit(i) for i in range(VISITORS)))

        answers = asyncio.run(everyone())
        strokes = Counter({name: sum(r["run"] == "classify" for r in timings.read(app.timings))
                           for name, app in (("one", one), ("two", two))})
    assert all(a == ["1", "7"] for a in answers), answers  # every stroke answered
    # Each process answered whole visits (two strokes each), and both had visitors.
    assert sum(strokes.values()) == 2 * VISITORS
    assert all(n > 0 and n % 2 == 0 for n in strokes.values()), strokes
