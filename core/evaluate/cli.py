"""python -m core.evaluate CHECKPOINT [--json]: a checkpoint's results on its test set.

    python -m core.evaluate weights/mnist-cnn.pt --json
    python -m core.evaluate robust --model weights/mnist-cnn.pt --eps 0.1 0.3 --samples 1000 --json

`robust`: clean accuracy and accuracy under PGD (core/evaluate/robust.py).
"""
from __future__ import annotations

import argparse
import json
import sys

from core.data import DATASETS, DataMissingError, load_split
from core.evaluate.metrics import evaluate
from core.evaluate.robust import DEFAULT_SAMPLES, DEFAULT_STEPS, robust_accuracy, robust_cached
from core.machine.device import configure_threads, pick_device
from core.networks.checkpoints import CheckpointError, load_checkpoint


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["robust"]:
        return robust_main(argv[1:])

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



def robust_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m core.evaluate robust",
        description="Clean accuracy and accuracy under an L-inf PGD attack (no random start, "
                    "step 2.5*eps/steps) on the first SAMPLES test images.")
    p.add_argument("--model", required=True, metavar="CKPT", help="a .pt checkpoint")
    p.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.3],
                   help="budgets in pixel units, 0-1 (default 0.1 0.3)")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                   help=f"PGD steps (default {DEFAULT_STEPS})")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                   help=f"the first N test images (default {DEFAULT_SAMPLES:,}; 10000: all)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument("--no-cache", action="store_true",
                   help="compute even when the cache folder holds the result")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.model)
        device = pick_device(args.device)
        configure_threads(device)
        test = load_split(ckpt.meta.dataset, train=False, root=args.data_dir)
        model, m, s = ckpt.model.to(device), ckpt.meta.mean, ckpt.meta.std
        results = [robust_accuracy(model, test, m, s, eps, args.steps, args.samples, device)
                   if args.no_cache else
                   robust_cached(model, args.model, test, m, s, eps, args.steps, args.samples,
                                 device)
                   for eps in args.eps]
    except (CheckpointError, DataMissingError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"model": args.model, "dataset": ckpt.meta.dataset,
                          "architecture": ckpt.meta.architecture,
                          "results": [r.to_json() for r in results]}))
        return 0
    print(f"{ckpt.meta.dataset} / {ckpt.meta.architecture}: the first {args.samples:,} test "
          f"images, PGD {args.steps} steps")
    for r in results:
        print(f"  eps {r.eps:g}: clean {r.clean_accuracy:.2%}, under attack "
              f"{r.robust_accuracy:.2%}  ({r.seconds:.1f} s)")
    return 0
