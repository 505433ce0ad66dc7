"""The load test through the real server (bench/serverload.py), small: three visitors over
the websocket (a drawer, a page-switcher, a trainer) and one Chromium tab, ~12 s."""
import pytest

from bench.serverload import run_level, summary
from tests.conftest import real_data_present
from bench.appserver import SHIPPED_WEIGHTS, snapshot_shipped_weights

pytestmark = pytest.mark.skipif(
    not (real_data_present() and (SHIPPED_WEIGHTS / "manifest.json").is_file()),
    reason="needs the real MNIST data and the shipped weights")


def test_visitors_through_the_real_server(browser_ready, tmp_path):
    snapshot_shipped_weights(tmp_path / "weights")
    level = run_level(3, servers=1, seconds=12, browsers=1, base=tmp_path, seed=0)
    row = summary(level)
    assert level.errors == [] and row["dropped"] == 0
    # The drawer's strokes came back as predictions, read right (bench/strokes.py's digits
    # are clear), and the browser's stroke was timed end to end.
    assert row["strokes"] >= 3 and row["wrong_digits"] <= row["strokes"] // 3
    assert row["server_p50_ms"] is not None and row["browser_strokes"] >= 1
    # The trainer's run was started through the Start button and ended, nothing lost.
    assert sum(level.runs.values()) == 1 and level.runs_lost == 0
    assert level.pages, "the page-switcher switched no page"
