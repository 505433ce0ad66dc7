"""Ship what the app would otherwise compute on a first visit, for the default models:
the embedding map (Inside the model) and the accuracy under attack at each of Evaluate's
budgets, beside each checkpoint (weights/embeddings/<stem>.npz, weights/robust/<stem>.json).

    MNIST_STUDIO_DATA=/path/to/data python -m scripts.ship_insights           # missing or stale
    python -m scripts.ship_insights mnist-resnet.pt --force                    # recompute these

On the 2-core CPU a default ResNet's map takes about 50 s and each budget's attack about a
minute; shipped, both show at once. Each file is keyed by its checkpoint's SHA-1 and the
test split's digest (the attack's by the first 1,000 images'): retrain a checkpoint and run
this again. Other models compute them on request, in the background (the page shows the
progress).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import load_split  # noqa: E402
from core.evaluate.embedding import embed, read_shipped as read_map, write_shipped as write_map  # noqa: E402
from core.evaluate.robust import (BUDGETS, DEFAULT_SAMPLES, DEFAULT_STEPS, read_shipped,  # noqa: E402
                                  robust_accuracy, robust_key, write_shipped)
from core.networks.checkpoints import load_checkpoint  # noqa: E402
from scripts.shipping import picked, ship_parser  # noqa: E402


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.0f} KB"


def main(argv: list[str] | None = None) -> int:
    args = ship_parser(__doc__, "checkpoint file names (default: the defaults)", device="cpu",
                       device_help="cpu (default: the app's own arithmetic), cuda or auto"
                       ).parse_args(argv)
    for entry in picked(args, defaults_only=True):
        ckpt = load_checkpoint(entry.path)
        model, mean, std = ckpt.model.to(args.device), ckpt.meta.mean, ckpt.meta.std
        split = load_split(entry.dataset, train=False, root=args.data_dir, download=False)
        name = entry.path.name
        if args.force or read_map(entry.path, split, mean, std) is None:
            start = time.perf_counter()
            path = write_map(entry.path, embed(model, split, mean, std), split, mean, std)
            print(f"{name}: embedding map {path.parent.name}/{path.name} {_size(path)}, "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
        else:
            print(f"{name}: embedding map up to date")
        results = {} if args.force else read_shipped(entry.path)
        for eps in BUDGETS:
            key = robust_key(entry.path, split, mean, std, eps, DEFAULT_STEPS, DEFAULT_SAMPLES)
            if key in results:
                continue
            result = robust_accuracy(model, split, mean, std, eps, DEFAULT_STEPS,
                                     DEFAULT_SAMPLES, args.device)
            results[key] = result
            path = write_shipped(entry.path, results)  # after each: an interruption keeps them
            print(f"{name}: eps {eps:g}: clean {result.clean_accuracy:.2%}, under attack "
                  f"{result.robust_accuracy:.2%}, {result.seconds:.1f} s "
                  f"({path.parent.name}/{path.name} {_size(path)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
