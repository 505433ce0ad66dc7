"""Which budget ε "Fool it" opens on: the share of inputs the panel's attack fools, per ε.

    python -m bench.fool_budget                              # the default mnist model
    python -m bench.fool_budget --model mnist-cnn.pt --eps 0.1 0.2 --val 100

The panel's attack exactly (core.predict.attacks.attack: PGD, 40 steps, any other
class, no random start) on three kinds of input: drawings as the canvas sends them
(bench.strokes, 10 digits x --seeds), drawings of a writer unlike MNIST's
(scripts.synthetic_writer's segments), and MNIST validation images (never the test
set). One thread, as the app gives each visitor's script thread. Prints, per ε, how
many of each kind were fooled and the median steps used.
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from bench.attack_speed import drawn_digits
from core.data import load_bundle
from core.predict.attacks import attack
from core.networks.catalog import default_model, shipped_models
from core.networks.checkpoints import load_checkpoint
from scripts.synthetic_writer import make_set


def inputs(seeds: int, val: int) -> dict[str, list[np.ndarray]]:
    """The 28x28 uint8 inputs, by kind."""
    drawn = [image for seed in range(seeds) for image in drawn_digits(seed)]
    writer, _ = make_set(per_class=max(1, seeds), seed=1)
    split = load_bundle("mnist", download=False).val
    pick = np.random.default_rng(0).choice(len(split), size=min(val, len(split)), replace=False)
    return {"drawn (canvas strokes)": drawn, "drawn (segment writer)": list(writer),
            "validation images": [split.images[int(i)].numpy() for i in pick]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="a shipped file name (default: mnist's default)")
    p.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.15, 0.2, 0.25, 0.3])
    p.add_argument("--seeds", type=int, default=5, help="drawings per digit")
    p.add_argument("--val", type=int, default=200, help="validation images")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    entries = shipped_models()
    entry = (next(e for e in entries if e.path.name == args.model) if args.model
             else default_model(entries, "mnist"))
    ck = load_checkpoint(entry.path)
    kinds = inputs(args.seeds, args.val)
    print(f"{entry.path.name}: PGD, 40 steps, any other class, one thread; "
          + ", ".join(f"{len(v)} {k}" for k, v in kinds.items()))
    for eps in args.eps:
        parts = []
        for kind, images in kinds.items():
            results = [attack(ck.model, image, ck.meta.mean, ck.meta.std, ck.meta.class_names,
                              eps) for image in images if image.any()]
            fooled = sum(r.success for r in results)
            steps = statistics.median(r.steps_used for r in results)
            parts.append(f"{kind} {fooled}/{len(results)} ({fooled / len(results):.0%}, "
                         f"median {steps:g} steps)")
        print(f"eps {eps:<5g} " + " · ".join(parts), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
