"""Write each shipped model's test-set predictions to weights/predictions/<stem>.npz.

    MNIST_STUDIO_DATA=/path/to/data python -m scripts.ship_predictions          # missing or stale ones
    python -m scripts.ship_predictions mnist-resnet.pt --force                   # recompute these

The app's Evaluate and Mistakes pages then read a shipped model's results instead of
running it over 10,000 images (tens of seconds for the ResNet on a 2-core CPU). Each
file is keyed by its checkpoint's SHA-1 and the test split's digest: retrain a
checkpoint (scripts/train_weights.py) and run this again.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import load_split  # noqa: E402
from core.evaluate.metrics import predict_split, summarize  # noqa: E402
from core.evaluate.predictions import (load_predictions, predictions_path,  # noqa: E402
                                       save_predictions)
from core.networks.catalog import weights_dir  # noqa: E402
from core.networks.checkpoints import load_checkpoint  # noqa: E402
from scripts.shipping import picked, ship_parser  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = ship_parser(__doc__, "checkpoint file names (default: all shipped)").parse_args(argv)
    for entry in picked(args, defaults_only=False):
        ckpt = load_checkpoint(entry.path)
        split = load_split(entry.dataset, train=False, root=args.data_dir, download=False)
        out = predictions_path(entry.path)
        mean, std = ckpt.meta.mean, ckpt.meta.std
        if not args.force and load_predictions(out, entry.path, split, mean, std) is not None:
            print(f"{entry.path.name}: up to date")
            continue
        start = time.perf_counter()
        pred = predict_split(ckpt.model.to(args.device), split, mean, std, args.device)
        save_predictions(out, pred, entry.path, split, mean, std)
        acc = summarize(pred).accuracy
        print(f"{entry.path.name}: test accuracy {acc:.4f} (manifest {entry.test_accuracy}), "
              f"{out.relative_to(weights_dir(args.weights_dir))} {out.stat().st_size / 1024:.0f} KB, "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
