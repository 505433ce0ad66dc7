"""python -m core.evaluate CHECKPOINT [--json]: a checkpoint's results on its test set.

    python -m core.evaluate weights/mnist-cnn.pt --json
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    from core.checkpoints import CheckpointError, load_checkpoint
    from core.data import DATASETS, DataMissingError, load_split
    from core.device import configure_threads, pick_device
    from core.evaluate.metrics import evaluate

    p = argparse.ArgumentParser(prog="python -m core.evaluate",
                                description="Evaluate a checkpoint on its dataset's 10,000 test images.")
    p.add_argument("checkpoint", help="path to a .pt checkpoint written by core.train")
    folders = " or ".join(f"{spec.folder}/raw" for spec in DATASETS.values())
    p.add_argument("--data-dir", default=None,
                   help=f"data root holding {folders} (default: $MNIST_STUDIO_DATA, else <repo>/data)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: accuracy, per_class_accuracy, confusion_matrix")
    args = p.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        device = pick_device(args.device)
        configure_threads(device)
        test = load_split(ckpt.meta.dataset, train=False, root=args.data_dir)
        result = evaluate(ckpt.model.to(device), test, ckpt.meta.mean, ckpt.meta.std, device)
    except (CheckpointError, DataMissingError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        names = ckpt.meta.class_names
        print(f"{ckpt.meta.dataset} / {ckpt.meta.architecture}: test accuracy "
              f"{result.accuracy:.2%} ({len(result.mistake_indices)} mistakes of {len(test)})")
        for name, acc in zip(names, result.per_class_accuracy):
            print(f"  {name:>12}  {acc:.2%}")
    return 0

