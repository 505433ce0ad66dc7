"""What the storage rules cost: a retention pass, a visitor's usage, and the integrity
check at start, on a synthetic runs folder (no training).

    python -m bench.storage_cost [--visitors 10] [--runs 100] [--steps 300000]

Makes `visitors` x `runs` run records, each with a folder of three small files (as
best.pt, last.pt and run.json), half of them older than the retention rule keeps,
and one run with `steps` step rows; then times the scheduler's retention plan, one
visitor's usage (what the Train page and each Start compute), and open_database's
quick check of the database. Prints one line per measurement.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from core.runs.recovery import open_database
from core.runs.retention import DAY, prune_plan
from core.runs.state import RunState
from core.runs.quotas import visitor_usage
from core.runs.database import RunRecord, RunDatabase
from core.server.settings import RunSettings


def _timed(fn, repeat: int = 5) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.storage_cost", description=__doc__.split("\n")[0])
    p.add_argument("--visitors", type=int, default=10)
    p.add_argument("--runs", type=int, default=100, help="runs per visitor")
    p.add_argument("--steps", type=int, default=300_000, help="step rows of one run")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        store = RunDatabase(root)
        now = time.time()
        for v in range(args.visitors):
            for r in range(args.runs):
                run_id = f"v{v:03d}-r{r:04d}"
                folder = root / run_id
                folder.mkdir(parents=True)
                for name, size in (("best.pt", 400_000), ("last.pt", 800_000), ("run.json", 2_000)):
                    with open(folder / name, "wb") as f:
                        f.truncate(size)  # sparse: the sizes, not the disk
                store.insert_imported(RunRecord(
                    id=run_id, owner=f"v:{v}", created=now - r * 0.7 * DAY, config={},
                    state=RunState.FINISHED, run_dir=str(folder)), [], [])
        steps = [{"step": i, "epoch": 1, "loss": 1.0, "lr": 0.1, "samples_per_second": 1.0,
                  "elapsed": 0.0} for i in range(1, args.steps + 1)]
        store.add_metrics("v000-r0000", steps, [])
        settings = RunSettings(keep_runs=50, keep_days=30)
        t_plan, plan = _timed(lambda: prune_plan(store, settings))
        t_usage, usage = _timed(lambda: visitor_usage(store, "v:0", settings))
        t_mine, mine = _timed(lambda: prune_plan(store, settings, owner="v:0"))
        store.close()
        size = os.path.getsize(root / "runs.sqlite")
        t_open, _ = _timed(lambda: open_database(root), repeat=3)
        total = args.visitors * args.runs
        print(f"retention plan, {total} runs of {args.visitors} visitors: {t_plan * 1000:.1f} ms "
              f"({len(plan)} to remove)")
        print(f"one visitor's retention preview ({args.runs} runs): {t_mine * 1000:.1f} ms "
              f"({len(mine)} to remove)")
        print(f"one visitor's usage ({usage.runs} runs): {t_usage * 1000:.1f} ms")
        print(f"open_database with its quick check, {size / 2**20:.0f} MB database "
              f"({args.steps:,} steps): {t_open * 1000:.0f} ms")


if __name__ == "__main__":
    main()
