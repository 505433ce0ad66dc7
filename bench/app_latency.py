"""The app's cold start and stroke-to-prediction in headless chromium.

    MNIST_STUDIO_DATA=/path/to/data .venv/bin/python -m bench.app_latency [--servers 3] [--strokes 5]

For each of --servers fresh servers (`streamlit run streamlit_app.py` on 127.0.0.1,
in a process group of its own, stopped by this program when it is done; at most 60 s
to answer its health check): the seconds from its start to Classify's heading and
canvas on screen, a stroke drawn right away (it waits for the first script run to load
torch and the model), then --strokes vertical strokes, each on a cleared canvas. For
each stroke: release to prediction on screen, the server's share (its script run, from
the app's MNIST_STUDIO_TIMINGS records) and the parts in between (see
tests/e2e/test_browser.split_stroke). Prints them with the load average, which says
how much the numbers can be trusted on a shared machine, and writes them to
test-output/bench-app-latency.json. The server, the browser and the helpers are the
browser test's (tests/e2e). Shipped weights (weights/) and the real data are used.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright

from bench.appserver import (OUTPUT, REAL_DATA, SHIPPED_WEIGHTS, AppSetup,  # noqa: E402
                             real_data_present)
from bench.browser import (CHROMIUM_ARGS, browser_missing, chromium_path, cold_start,  # noqa: E402
                           load_average, summary)

PARTS = ["release_to_encode_ms", "encode_ms", "encode_to_send_ms", "send_to_server_run_ms",
         "server_run_to_prediction_sent_ms", "prediction_sent_to_received_ms",
         "received_to_shown_ms"]


def _line(stats: dict, key: str) -> str:
    value = stats.get(key)
    return f"median {value['median']}, max {value['max']}" if value else "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.app_latency", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", type=int, default=3, help="fresh servers to start, one by one")
    p.add_argument("--strokes", type=int, default=5, help="timed strokes per server")
    args = p.parse_args(argv)
    missing = browser_missing()
    if missing:
        p.error(missing)
    if not (real_data_present() and real_data_present("fashion")):
        p.error(f"the real MNIST and Fashion-MNIST are not under {REAL_DATA}: "
                "set MNIST_STUDIO_DATA")

    out = OUTPUT / "bench"
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="app-latency-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for n in range(args.servers):
                runs = Path(tmp) / f"runs-{n}"
                runs.mkdir()
                setup = AppSetup(data_root=REAL_DATA, real_data=True, weights=SHIPPED_WEIGHTS,
                                 shipped_weights=True, runs=runs)
                found = cold_start(browser, setup, out, f"server-{n}", strokes=args.strokes)
                results.append(found)
                stats = summary(found["strokes"]) if found["strokes"] else {}
                print(f"server {n + 1}: cold start {found['cold_start_s']} s (health "
                      f"{found['health_s']} s, heading {found['heading_s']} s, canvas "
                      f"{found['canvas_s']} s); first stroke "
                      f"{found['first_stroke']['stroke_to_prediction_ms']} ms (predicted "
                      f"{found['first_stroke_predicted']}); {len(found['strokes'])} strokes: "
                      f"end to end {_line(stats, 'stroke_to_prediction_ms')} ms, server's "
                      f"share {_line(stats, 'server_share_ms')} ms; load average "
                      f"{found['load_average'][0]} -> {found['load_average'][1]}", flush=True)
        finally:
            browser.close()
    strokes = [s for r in results for s in r["strokes"]]
    cold = [r["cold_start_s"] for r in results]
    overall = summary(strokes) if strokes else {}
    print(f"\ncold start (s): {cold} (median {statistics.median(cold)})")
    if strokes:
        print(f"stroke to prediction ({len(strokes)} strokes): "
              f"{_line(overall, 'stroke_to_prediction_ms')} ms")
        print(f"server's share: {_line(overall, 'server_share_ms')} ms")
        for key in PARTS:
            print(f"  {key}: {_line(overall, key)}")
    print(f"load average now: {load_average()}")
    report = {"servers": results, "cold_start_s": cold, "strokes": overall}
    (OUTPUT / "bench-app-latency.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
