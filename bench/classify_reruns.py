"""What each of Classify's reruns costs the server, one visitor at a time, for one or more
checkouts of the app side by side: a stroke (with the input-gradient map, and with no
map), a click on a teach button, the every-model switch.

    MNIST_STUDIO_DATA=/path/to/data python -m bench.classify_reruns \\
        [--app-root . /path/to/other/checkout] [--strokes 20] [--json FILE]

One fresh server per checkout (`streamlit run` on 127.0.0.1, the shipped weights, the
real data), one session over its websocket (bench/protocol.py, as the browser speaks):
--strokes digits drawn (bench/strokes.py), each timed from send to the Prediction's
arrival and to the run's end, with the bytes the server sent back, and the server's own
script time and stages (MNIST_STUDIO_TIMINGS); the same with "No map" chosen (where the
checkout offers it); then "It's a ..." clicks and the every-model switch turned on and
off, each timed to its run's end. A checkout where a click reruns the whole panel pays
for the model again; one where it is a fragment of its own does not.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.appserver import REAL_DATA, AppSetup, serve, snapshot_shipped_weights  # noqa: E402
from bench.protocol import Session  # noqa: E402
from bench.strokes import canvas_value  # noqa: E402
from ui.common import timings  # noqa: E402


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _records_after(path: Path, n: int, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        records = timings.read(path)[n:]
        if records or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


async def _measure(app, strokes: int) -> dict:
    s = Session(app.url)
    out: dict[str, list] = {"stroke": [], "stroke no map": [], "teach click": [],
                            "every-model switch": []}
    try:
        reply = await s.open()
        canvas = s.widget("bidi_component", "canvas")
        panel = next(iter(reply.fragments))
        rng = np.random.default_rng(0)

        async def timed(kind: str, **rerun) -> None:
            before = len(timings.read(app.timings))
            got = await s.rerun(**rerun)
            records = _records_after(app.timings, before)
            out[kind].append({
                "to_prediction_ms": got.first_metric.get("Prediction", float("nan")) * 1000,
                "to_end_ms": got.seconds * 1000, "bytes": got.received_bytes,
                "server_ms": sum(r["total_ms"] for r in records),
                "runs": [r["run"] for r in records],
                "stages": {n: e - b for r in records for n, b, e in r["stages"]}})

        async def strokes_now(kind: str) -> None:
            for i in range(strokes):
                s.set_json(canvas, canvas_value(i % 10, rng))
                await timed(kind, fragment_id=s.fragment_of.get(canvas, panel))
                await asyncio.sleep(0.2)

        await strokes_now("stroke")
        teach = s.widget("button", "It's a")
        for _ in range(min(strokes, 10)):
            await timed("teach click", trigger=teach, fragment_id=s.fragment_of.get(teach, panel))
        compare = s.widget("checkbox", "Compare")
        for i in range(min(strokes, 10)):
            s.set_bool(compare, i % 2 == 0)
            await timed("every-model switch", fragment_id=s.fragment_of.get(compare, panel))
        s.set_bool(compare, False)
        method = s.widget("selectbox", "Explain with")
        if "none" in s.options.get(method, []) or any("No map" in o for o in s.options.get(method, [])):
            s.set_string(method, "No map (fastest)")
            await s.rerun(fragment_id=s.fragment_of.get(method, panel))
            await strokes_now("stroke no map")
    finally:
        await s.close()
    return out


def _summary(found: dict) -> dict:
    rows = {}
    for kind, items in found.items():
        if not items:
            continue
        stages = sorted({n for it in items for n in it["stages"]})
        rows[kind] = {
            "count": len(items),
            "to_prediction_ms": _median([it["to_prediction_ms"] for it in items]),
            "to_end_ms": _median([it["to_end_ms"] for it in items]),
            "server_ms": _median([it["server_ms"] for it in items]),
            "kb": round(statistics.median(it["bytes"] for it in items) / 1024, 1),
            "runs": sorted({r for it in items for r in it["runs"]}),
            "stages_ms": {n: _median([it["stages"].get(n, 0.0) for it in items]) for n in stages}}
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.classify_reruns", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--app-root", type=Path, nargs="+", default=[ROOT])
    p.add_argument("--strokes", type=int, default=20)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    report = {}
    with tempfile.TemporaryDirectory(prefix="classify-reruns-") as tmp:
        base = Path(tmp)
        snapshot_shipped_weights(base / "weights")
        for i, root in enumerate(r.resolve() for r in args.app_root):
            runs = base / f"runs-{i}"
            runs.mkdir()
            setup = AppSetup(data_root=REAL_DATA, real_data=True, weights=base / "weights",
                             shipped_weights=True, runs=runs)
            load = os.getloadavg()[0]
            with serve(setup, base, f"server-{i}", app_root=root) as app:
                asyncio.run(Session(app.url).open())  # the first run loads torch and the model
                found = asyncio.run(_measure(app, args.strokes))
            commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                    capture_output=True, text=True).stdout.strip()
            report[str(root)] = {"commit": commit, "load": [load, os.getloadavg()[0]],
                                 "reruns": _summary(found)}
            print(f"{root} ({commit}), load {load:.2f} -> {os.getloadavg()[0]:.2f}")
            for kind, row in report[str(root)]["reruns"].items():
                print(f"  {kind:20s} to prediction {row['to_prediction_ms']} ms, to the end "
                      f"{row['to_end_ms']} ms, server {row['server_ms']} ms, {row['kb']} KB; "
                      f"runs {row['runs']}; stages {row['stages_ms']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
