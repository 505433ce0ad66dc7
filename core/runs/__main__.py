"""`python -m core.runs prune --dry-run|--apply`: retention from a shell (cron, by hand).

The same rule the scheduler applies every `prune_minutes` (core/runs/retention.py),
with the deployment settings of core/server/settings.py. --dry-run (the default) lists
what would be removed; --apply removes it and says what was.
"""
from __future__ import annotations

import argparse
import sys
import time

from core.machine.paths import runs_dir
from core.runs.retention import Prunable, apply_prune, prune_plan, rule_text
from core.runs.recovery import open_database
from core.server.settings import load_settings


def _table(items: list[Prunable], now: float) -> str:
    lines = [f"{'run':<44} {'owner':<14} {'age (days)':>10} {'MB':>9}"]
    lines += [f"{p.run_id:<44} {p.owner[:14]:<14} {p.age_days(now):>10.1f} {p.bytes / 2**20:>9.1f}"
              for p in items]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.runs",
                                description="Maintenance of the app's runs folder.")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prune", help="remove the runs the retention rule no longer keeps")
    mode = pr.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="list them only (the default)")
    mode.add_argument("--apply", action="store_true", help="remove them")
    pr.add_argument("--runs", default=None,
                    help="the runs folder (default: $MNIST_STUDIO_RUNS, else <repo>/runs)")
    args = p.parse_args(argv)
    try:
        settings = load_settings()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    folder = runs_dir(args.runs)
    if not (folder / "runs.sqlite").is_file():
        print(f"error: no run database in {folder}", file=sys.stderr)
        return 2
    store = open_database(folder)
    if store.recovery is not None:
        print(store.recovery.message)
    now = time.time()
    plan = prune_plan(store, settings, now=now)
    print(rule_text(settings))
    if not plan:
        print("Nothing to remove.")
        return 0
    total = sum(i.bytes for i in plan) / 2**20
    if not args.apply:
        print(f"Would remove {len(plan)} run(s), {total:,.1f} MB (dry run; --apply removes them):")
        print(_table(plan, now))
        return 0
    removed = apply_prune(store, plan)
    print(f"Removed {len(removed)} run(s), {sum(i.bytes for i in removed) / 2**20:,.1f} MB:")
    print(_table(removed, now))
    if len(removed) < len(plan):
        print(f"Kept {len(plan) - len(removed)} that became active or pinned meanwhile.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
