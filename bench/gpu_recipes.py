"""Choosing the GPU speedrun recipes on validation: each candidate trained over a few
seeds, its mean validation accuracy and training time printed. The test set is not
looked at here; bench.speedrun scores the chosen recipe on it once.

    python -m bench.gpu_recipes --dataset mnist [--seeds 3] [--device cuda]
"""
from __future__ import annotations

import argparse
import json
import statistics

from core.data import DATASETS, load_bundle
from core.train.config import TrainConfig
from core.train.loop import train

LS = dict(label_smoothing=0.1)
CANDIDATES: dict[str, list[dict]] = {
    "mnist": [
        dict(model="fastcnn", epochs=1, batch_size=256, lr=1e-2, **LS),
        dict(model="fastcnn", epochs=1, batch_size=256, lr=2e-2, **LS),
        dict(model="fastcnn", epochs=1, batch_size=512, lr=2e-2, **LS),
        dict(model="fastcnn", epochs=1, batch_size=128, lr=1e-2, **LS),
        dict(model="fastcnn", epochs=2, batch_size=512, lr=2e-2, **LS),
        dict(model="fastcnn-wide", epochs=1, batch_size=256, lr=1e-2, **LS),
    ],
    "fashion": [
        dict(model="fastcnn-wide", epochs=8, batch_size=256, lr=1e-2, augment=True, **LS),
        dict(model="fastcnn-wide", epochs=16, batch_size=256, lr=1e-2, augment=True, **LS),
        dict(model="fastcnn-wide", epochs=24, batch_size=512, lr=2e-2, augment=True, **LS),
        dict(model="resnet", epochs=6, batch_size=512, lr=8e-3, optimizer="adamw",
             weight_decay=5e-4, augment=True, **LS),
        dict(model="resnet", epochs=10, batch_size=512, lr=8e-3, optimizer="adamw",
             weight_decay=5e-4, augment=True, **LS),
        dict(model="resnet", epochs=15, batch_size=512, lr=8e-3, optimizer="adamw",
             weight_decay=5e-4, augment=True, **LS),
        dict(model="resnet", epochs=10, batch_size=1024, lr=1.2e-2, optimizer="adamw",
             weight_decay=5e-4, augment=True, **LS),
    ],
}
# The rule that picks a recipe from the sweep, fixed before it ran: the fastest candidate
# (training seconds) whose mean validation accuracy clears the goal with a margin for the
# gap between validation and test; if none does, the most accurate.
VAL_TARGET = {"mnist": 0.9915, "fashion": 0.935}


def choose(rows: list[dict], dataset: str) -> dict:
    """The recipe the rule picks from a sweep's rows (bench.gpu_recipes' JSON lines)."""
    good = [r for r in rows if r["val_accuracy"] >= VAL_TARGET[dataset]]
    best = (min(good, key=lambda r: r["train_seconds"]) if good
            else max(rows, key=lambda r: r["val_accuracy"]))
    return best["recipe"]


def read_rows(path: str, dataset: str) -> list[dict]:
    rows = []
    for line in open(path):
        if line.startswith("{"):
            row = json.loads(line)
            if row.get("dataset") == dataset:
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_recipes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=list(DATASETS), required=True)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--device", default="cuda")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    data = load_bundle(args.dataset, args.data_dir)
    for recipe in CANDIDATES[args.dataset]:
        vals, secs, setups = [], [], []
        for seed in range(args.seeds):
            r = train(TrainConfig(dataset=args.dataset, seed=seed, device=args.device, **recipe), data)
            vals.append(r.best_val_accuracy)
            secs.append(r.train_seconds)
            setups.append(r.setup_seconds)
        print(json.dumps({"dataset": args.dataset, "recipe": recipe, "val_accuracy": round(statistics.mean(vals), 5),
                          "val_min": round(min(vals), 5),
                          "train_seconds": round(statistics.mean(secs), 4),
                          "setup_seconds": round(statistics.mean(setups), 4),
                          "step_mode": r.step_mode, "precision": r.precision}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
