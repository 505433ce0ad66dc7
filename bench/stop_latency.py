"""How long Stop takes, per architecture: from the click (RunService.stop) to the run
shown as Stopped (its state in the store, which the page reads), on this machine.

    python -m bench.stop_latency [--models cnn resnet ...] [--repeats 3] [--json]

Each run trains in a local worker process exactly as from the Train page (real data
when MNIST_STUDIO_DATA points at it, else the tiny fake data); Stop is pressed at a
random moment after its first steps, so it may land in a step or in a validation pass.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from core.networks.models import ARCHITECTURES
from core.runs.api import RunService
from core.runs.state import RunState
from core.server.visitors import Viewer
from core.train.config import TrainConfig


def measure(models: list[str], repeats: int, seed: int = 0) -> dict[str, list[float]]:
    rng = random.Random(seed)
    me = Viewer("v:bench", admin=True)  # no limits for the benchmark
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as runs:
        service = RunService(Path(runs))
        try:
            for model in models:
                out[model] = []
                for i in range(repeats):
                    cfg = TrainConfig(dataset="mnist", model=model, epochs=3, device="cpu", seed=i)
                    run = service.submit(cfg, me)
                    service.wait(run.id, me, until=lambda r: r.step >= 3, timeout=300)
                    time.sleep(rng.uniform(0.0, 2.0))  # anywhere in a step (or validation)
                    clicked = time.perf_counter()
                    service.stop(run.id, me)
                    service.wait(run.id, me, until=lambda r: r.state == RunState.CANCELLED,
                                 timeout=300, poll=0.01)
                    out[model].append(time.perf_counter() - clicked)
                    service.wait(run.id, me, timeout=600)  # scored: the next run has the CPU
        finally:
            service.shutdown()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stop_latency", description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    load = os.getloadavg()
    times = measure(args.models, args.repeats)
    rows = {m: {"median_s": round(statistics.median(t), 3), "max_s": round(max(t), 3)}
            for m, t in times.items()}
    print(f"load average before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'model':<12} {'median':>8} {'max':>8}   (click -> Stopped, seconds)")
    for m, r in rows.items():
        print(f"{m:<12} {r['median_s']:>8.3f} {r['max_s']:>8.3f}")
    if args.json:
        print(json.dumps({"load_before": load, "stop_seconds": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
