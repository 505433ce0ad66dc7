"""Where a stroke's time goes, from mouse-up to the answer on screen, for one or more
checkouts of the app side by side.

    MNIST_STUDIO_DATA=/path/to/data python -m bench.stroke_parts \\
        [--app-root . /path/to/other/checkout] [--rounds 3] [--strokes 8] [--json FILE]

Each round starts a fresh server of each checkout in turn (`streamlit run` on 127.0.0.1,
the shipped weights, the real data), opens Classify in headless Chromium, and draws
--strokes vertical strokes, each on a cleared canvas after a warm-up stroke. Each stroke
is cut where the browser's clock (the Performance API: the websocket's sends and
receipts, the canvas's PNG encoding) and the server's own timings of the run
(MNIST_STUDIO_TIMINGS: its stages, the model's time) say (bench/browser.split_stroke):
the canvas component's wait and encoding, Streamlit's frontend until the websocket
sends, the way to the server's script run, the run's parts until the prediction is
sent, its way back, the browser's render of the prediction, and of the whole answer.
Prints the median of each part per checkout, with the load average, which says how far
to trust them on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.appserver import REAL_DATA, AppSetup, serve, snapshot_shipped_weights  # noqa: E402
from bench.browser import (CHROMIUM_ARGS, browser_missing, chromium_path, clear_canvas,  # noqa: E402
                           new_tab, open_app, settle, timed_stroke)

PARTS = [("release_to_encode_ms", "mouse-up -> the canvas encodes its PNG (its wait)"),
         ("encode_ms", "PNG encoding"),
         ("encode_to_send_ms", "Streamlit's frontend -> the websocket sends"),
         ("send_to_server_run_ms", "websocket -> the server's script run starts"),
         ("server_run_to_prediction_sent_ms", "script run -> the prediction's element is sent"),
         ("prediction_sent_to_received_ms", "-> its message arrives in the browser"),
         ("received_to_shown_ms", "-> the prediction is on screen (the browser's render)"),
         ("stroke_to_prediction_ms", "mouse-up -> prediction on screen (end to end)"),
         ("stroke_to_answer_settled_ms", "mouse-up -> the whole answer on screen"),
         ("server_share_ms", "the server's script run, whole")]


def _commit(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "?"


def strokes_on(root: Path, setup: AppSetup, out: Path, name: str, count: int) -> list[dict]:
    """`count` timed strokes on a fresh server of the checkout at `root`."""
    with serve(setup, out, name, app_root=root) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            _, page = new_tab(browser)
            open_app(page, app.url)
            timed_stroke(page, app)  # the first stroke loads the model: not measured
            settle(page)
            found = []
            for _ in range(count):
                clear_canvas(page)
                found.append(timed_stroke(page, app))
                settle(page)
            return found
        finally:
            browser.close()


def _stage_medians(strokes: list[dict], field: str = "server_stages_ms") -> dict[str, float]:
    names = sorted({n for s in strokes for n in s.get(field, {})})
    return {n: round(statistics.median(s[field].get(n, 0.0) for s in strokes if field in s), 2)
            for n in names}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stroke_parts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--app-root", type=Path, nargs="+", default=[ROOT])
    p.add_argument("--rounds", type=int, default=3, help="fresh servers of each checkout")
    p.add_argument("--strokes", type=int, default=8, help="timed strokes per server")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    missing = browser_missing()
    if missing:
        p.error(missing)
    roots = [r.resolve() for r in args.app_root]
    found: dict[Path, list[dict]] = {r: [] for r in roots}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="stroke-parts-") as tmp:
        base = Path(tmp)
        snapshot_shipped_weights(base / "weights")
        for n in range(args.rounds):
            for i, root in enumerate(roots if n % 2 == 0 else roots[::-1]):
                runs = base / f"runs-{n}-{i}"
                runs.mkdir()
                setup = AppSetup(data_root=REAL_DATA, real_data=True, weights=base / "weights",
                                 shipped_weights=True, runs=runs)
                found[root] += strokes_on(root, setup, base, f"server-{n}-{i}", args.strokes)
                loads.append(os.getloadavg()[0])
                print(f"round {n + 1}, {root.name}: load {loads[-1]:.2f}", flush=True)
    report = {}
    for root in roots:
        strokes = found[root]
        medians = {key: round(statistics.median(s[key] for s in strokes if key in s), 1)
                   for key, _ in PARTS if any(key in s for s in strokes)}
        report[str(root)] = {"commit": _commit(root), "strokes": len(strokes),
                             "medians_ms": medians, "server_stages_ms": _stage_medians(strokes),
                             "model_values": _stage_medians(strokes, "server_values"),
                             "p95_end_to_end_ms": round(statistics.quantiles(
                                 [s["stroke_to_prediction_ms"] for s in strokes], n=20)[-1], 1)}
    print(f"\nload average (1 min) over the rounds: {min(loads):.2f}-{max(loads):.2f}")
    for key, what in PARTS:
        cells = " | ".join(f"{report[str(r)]['medians_ms'].get(key, '-')}" for r in roots)
        print(f"{what:60s} {cells}")
    for root in roots:
        print(f"{root.name} ({report[str(root)]['commit']}): p95 end to end "
              f"{report[str(root)]['p95_end_to_end_ms']} ms; server stages (median ms): "
              f"{report[str(root)]['server_stages_ms']}; the model's own (median): "
              f"{report[str(root)]['model_values']}")
    if args.json:
        args.json.write_text(json.dumps({"loads": loads, "report": report,
                                         "strokes": {str(r): found[r] for r in roots}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
