"""Train the shipped checkpoints with `python -m core.train` and record them in weights/manifest.json.

    python -m scripts.train_weights                      # every recipe not yet in the manifest
    python -m scripts.train_weights mnist-cnn fashion-cnn --force
    python -m scripts.train_weights --rebuild          # manifest from the checkpoints' metadata

Each recipe is fixed here in advance; checkpoints are chosen on the
validation split by core.train, and the test accuracy is only recorded.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from core.networks.checkpoints import load_checkpoint, read_payload
from core.networks.models import count_parameters
from core.train.summary import RunSummary

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = WEIGHTS / "manifest.json"

# name -> extra flags for core.train (dataset and model come from the name)
RECIPES: dict[str, str] = {
    "mnist-ffnn": "--epochs 20 --batch-size 128 --lr 1e-3",
    "mnist-cnn": "--epochs 15 --batch-size 128 --lr 2e-3 --augment",
    "mnist-ffnn-deep": "--epochs 20 --batch-size 128 --lr 1e-3",
    "mnist-bn-cnn": "--epochs 15 --batch-size 128 --lr 3e-3 --augment",
    "mnist-ffnn-small": "--epochs 20 --batch-size 128 --lr 1e-3",
    "mnist-fastcnn": "--epochs 8 --batch-size 128 --lr 4e-3 --augment",
    "mnist-resnet": "--epochs 10 --batch-size 128 --lr 4e-3 --optimizer adamw --weight-decay 5e-4 --augment --label-smoothing 0.1",
    "fashion-ffnn": "--epochs 40 --batch-size 128 --lr 1e-3 --optimizer adamw --weight-decay 0.05 --label-smoothing 0.1",
    "fashion-cnn": "--epochs 30 --batch-size 128 --lr 2e-3 --augment",
    "fashion-ffnn-deep": "--epochs 40 --batch-size 128 --lr 1e-3 --optimizer adamw --weight-decay 0.05 --label-smoothing 0.1",
    "fashion-bn-cnn": "--epochs 60 --batch-size 128 --lr 3e-3 --augment",
    "fashion-ffnn-small": "--epochs 40 --batch-size 128 --lr 1e-3 --optimizer adamw --weight-decay 0.05 --label-smoothing 0.1",
    "fashion-fastcnn": "--epochs 15 --batch-size 128 --lr 5e-3 --label-smoothing 0.1",
    "fashion-resnet": "--epochs 96 --batch-size 128 --lr 4e-3 --optimizer adamw --weight-decay 5e-4 --augment --erase 8 --label-smoothing 0.1",
}


# name -> flags of a fine-tune that follows the recipe above, from its weights: the
# defaults are trained as above, then fine-tuned to know what they do not know (outlier
# exposure, canvas redraws: docs/ood.md). The base goes to runs/cli/, the result to weights/.
FINETUNES: dict[str, str] = {}
BASE_KEYS = ("epochs", "best_epoch", "train_seconds", "samples_per_second", "device",
             "test_accuracy", "val_accuracy")


def split_name(name: str) -> tuple[str, str]:
    dataset, model = name.split("-", 1)
    return dataset, model


def command_for(name: str) -> str:
    """The shell command that makes weights/NAME.pt: one run, or a run and its fine-tune."""
    dataset, model = split_name(name)
    head = f"python -m core.train --dataset {dataset} --model {model}"
    if name not in FINETUNES:
        return f"{head} {RECIPES[name]} --seed 0 --out weights/{name}.pt --json"
    base = f"runs/cli/{name}-base.pt"
    return (f"{head} {RECIPES[name]} --seed 0 --out {base} --json && "
            f"{head} --init-from {base} {FINETUNES[name]} --seed 0 --out weights/{name}.pt --json")


def load_manifest() -> dict:
    if MANIFEST.exists():
        return json.loads(MANIFEST.read_text())
    return {"default": {}, "checkpoints": []}


def save_manifest(manifest: dict) -> None:
    manifest["checkpoints"].sort(key=lambda c: (c["dataset"], c["file"]))
    for dataset in {c["dataset"] for c in manifest["checkpoints"]}:
        # The default is the best by validation accuracy: the test set picks nothing.
        best = max((c for c in manifest["checkpoints"] if c["dataset"] == dataset),
                   key=lambda c: c["val_accuracy"])
        manifest["default"][dataset] = best["file"]
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")


def entry_from_checkpoint(name: str) -> dict:
    """A manifest entry, read back from the checkpoint's own metadata."""
    ck = load_checkpoint(WEIGHTS / f"{name}.pt")
    m, h = RunSummary.from_json(ck.meta.metrics), ck.meta.hyperparameters  # old names too
    return {"file": f"{name}.pt", "dataset": ck.meta.dataset, "architecture": ck.meta.architecture,
            "test_accuracy": m.test_accuracy, "val_accuracy": m.val_accuracy,
            "epochs": h["epochs"], "best_epoch": m.best_epoch,
            "train_seconds": round(m.train_seconds, 1),
            "samples_per_second": round(m.samples_per_second, 1), "device": m.device,
            "seed": h["seed"], "parameters": count_parameters(ck.model), "command": command_for(name)}


def is_complete(name: str) -> bool:
    """A finished run's checkpoint carries its test accuracy; one still training does not."""
    return "test_accuracy" in read_payload(WEIGHTS / f"{name}.pt")["meta"]["metrics"]


def train_one(name: str, extra: list[str]) -> None:
    for cmd in command_for(name).split(" && "):
        print(f"$ {cmd}", flush=True)
        proc = subprocess.run([sys.executable, *shlex.split(cmd)[1:], *extra],
                              stdout=subprocess.DEVNULL, cwd=WEIGHTS.parent)
        if proc.returncode != 0:
            raise SystemExit(f"{name}: training failed (exit {proc.returncode})")


def record(names: list[str]) -> None:
    """Write the checkpoints' entries. The test ECE of scripts/calibrate_weights.py stays
    only while the checkpoint keeps the temperature it was measured with (a --rebuild);
    a retrained one needs `python -m scripts.calibrate_weights NAME` again."""
    manifest = load_manifest()  # re-read: another process may have added entries meanwhile
    for name in names:
        entry = entry_from_checkpoint(name)
        old = next((c for c in manifest["checkpoints"] if c["file"] == entry["file"]), {})
        temperature = read_payload(WEIGHTS / entry["file"])["meta"].get("temperature", 1.0)
        if old.get("calibration", {}).get("temperature") == round(temperature, 4):
            entry["calibration"] = old["calibration"]
        if name in FINETUNES:  # the run it was fine-tuned from, as that run recorded it
            entry["base"] = old.get("base") or {k: old[k] for k in BASE_KEYS if k in old}
            for key in ("epoch_seconds", "epoch_device"):
                if key in old:
                    entry[key] = old[key]
        manifest["checkpoints"] = [c for c in manifest["checkpoints"] if c["file"] != entry["file"]]
        manifest["checkpoints"].append(entry)
        print(f"{name}: test {entry['test_accuracy']:.2%} (val {entry['val_accuracy']:.2%}) "
              f"in {entry['train_seconds']:.0f}s", flush=True)
    save_manifest(manifest)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help=f"recipes to train (default: all missing): {', '.join(RECIPES)}")
    p.add_argument("--force", action="store_true", help="retrain even if already in the manifest")
    p.add_argument("--data-dir", default=None, help="passed to core.train")
    p.add_argument("--rebuild", action="store_true",
                   help="rewrite the manifest from the metadata of the checkpoints in weights/")
    args = p.parse_args(argv)
    if args.rebuild:
        record([n for n in RECIPES if (WEIGHTS / f"{n}.pt").exists() and is_complete(n)])
        return 0
    done = {c["file"] for c in load_manifest()["checkpoints"]}
    extra = ["--data-dir", args.data_dir] if args.data_dir else []
    for name in args.names or list(RECIPES):
        if name not in RECIPES:
            raise SystemExit(f"unknown recipe {name!r}")
        if f"{name}.pt" in done and not args.force:
            continue
        train_one(name, extra)
        record([name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
