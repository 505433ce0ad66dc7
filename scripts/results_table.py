"""Render weights/manifest.json as the results table of docs/models.md, beside the reference results.

    python -m scripts.results_table              # print the Markdown table
    python -m scripts.results_table --write      # rewrite it in docs/models.md between the markers
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "weights" / "manifest.json"
DOC = ROOT / "docs" / "models.md"  # (the table lived in README.md before)
START, END = "<!-- results:start -->", "<!-- results:end -->"

# (dataset, architecture) -> (what the reference reported, our target), both in percent.
REFERENCE: dict[tuple[str, str], tuple[str, float | None]] = {
    ("mnist", "ffnn"): ("97.81%", 98.0),
    ("mnist", "cnn"): ("99.11%", 99.2),
    ("mnist", "resnet"): ("small CNNs: 99.6-99.7%", 99.6),
    ("fashion", "ffnn"): ("89.56%", 89.6),
    ("fashion", "cnn"): ("91.66%", 92.0),
    ("fashion", "bn-cnn"): ("~90%", 90.5),
    ("fashion", "ffnn-small"): ("87.42% (deeper: 88.65%)", 88.0),
    ("fashion", "resnet"): ("ResNet18 94.9%", 94.5),
}


def target(dataset: str, architecture: str) -> float | None:
    return REFERENCE.get((dataset, architecture), ("", None))[1]


def _calibration(entry: dict) -> str:
    """scripts/calibrate_weights.py's test figures: ECE (15 bins) before and after."""
    cal = entry.get("calibration")
    if not cal:
        return "-"
    return (f"{cal['test_ece_before']:.2%} → {cal['test_ece_after']:.2%} "
            f"({cal['temperature']:.2f})")


def render(manifest: dict) -> str:
    rows = ["| dataset | model | reference | target | test accuracy | val accuracy | epochs "
            "| train time | device | test ECE: as trained → calibrated (T) |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    defaults = set(manifest.get("default", {}).values())
    for c in manifest["checkpoints"]:
        ref, goal = REFERENCE.get((c["dataset"], c["architecture"]), ("-", None))
        met = "" if goal is None else (" ✅" if c["test_accuracy"] * 100 >= goal else " ❌")
        name = f"**{c['architecture']}** (default)" if c["file"] in defaults else c["architecture"]
        epochs, seconds, device = c["epochs"], f"{c['train_seconds']:.0f} s", c["device"]
        base = c.get("base")
        if base:  # fine-tuned from a run of its own: both, in order
            epochs = f"{base['epochs']} + {c['epochs']}"
            seconds = f"{base['train_seconds']:.0f} s + {c['train_seconds']:.0f} s"
            device = base["device"] if base["device"] == c["device"] else \
                f"{base['device']}, then {c['device']}"
        rows.append(
            f"| {c['dataset']} | {name} | {ref} | {'-' if goal is None else f'>= {goal}%'} "
            f"| {c['test_accuracy']:.2%}{met} | {c['val_accuracy']:.2%} | {epochs} "
            f"| {seconds} | {device} | {_calibration(c)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", "--readme", dest="write", action="store_true",
                   help=f"rewrite the table in docs/models.md between {START} and {END} "
                        "(--readme: the old name)")
    args = p.parse_args(argv)
    table = render(json.loads(MANIFEST.read_text()))
    if not args.write:
        print(table)
        return 0
    text = DOC.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the markers {START} ... {END}")
    DOC.write_text(re.sub(f"{re.escape(START)}.*?{re.escape(END)}",
                          lambda _: f"{START}\n{table}\n{END}", text, flags=re.S))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
