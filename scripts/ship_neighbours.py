"""Write the default models' training-set features to weights/neighbours/<stem>.npz.

    MNIST_STUDIO_DATA=/path/to/data python -m scripts.ship_neighbours            # missing or stale ones
    python -m scripts.ship_neighbours mnist-resnet.pt --force                     # recompute these
    python -m scripts.ship_neighbours --all                                       # every shipped model

Classify's and Mistakes' "nearest training images" then read a default model's features
instead of running it over the 48,000 training images first (minutes for the ResNet on
a 2-core CPU). Each file is keyed by its checkpoint's SHA-1 and the training split's
digest (core/predict/neighbours.py): after a checkpoint is retrained
(scripts/train_weights.py) the old file is ignored, and this command writes the new one.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import load_bundle  # noqa: E402
from core.networks.catalog import weights_dir  # noqa: E402
from core.networks.checkpoints import load_checkpoint  # noqa: E402
from core.predict.neighbours import (compute_features, feature_problem, features_path,  # noqa: E402
                                     load_features, save_features)
from scripts.shipping import picked, ship_parser  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = ship_parser(__doc__, "checkpoint file names (default: the manifest's default models)")
    parser.add_argument("--all", action="store_true", help="every shipped model")
    args = parser.parse_args(argv)
    for entry in picked(args, defaults_only=True):
        name = entry.path.name
        ckpt = load_checkpoint(entry.path)
        problem = feature_problem(ckpt.model)
        if problem is not None:
            print(f"{name}: skipped: {problem}")
            continue
        split = load_bundle(entry.dataset, args.data_dir, download=False).train
        out = features_path(entry.path)
        mean, std = ckpt.meta.mean, ckpt.meta.std
        if not args.force and load_features(out, entry.path, split, mean, std) is not None:
            print(f"{name}: up to date")
            continue
        start = time.perf_counter()
        features = compute_features(ckpt.model.to(args.device), split, mean, std)
        save_features(out, features, entry.path, split, mean, std)
        print(f"{name}: {features.shape[0]:,} x {features.shape[1]} features, "
              f"{out.relative_to(weights_dir(args.weights_dir))} "
              f"{out.stat().st_size / 2**20:.1f} MB, {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
