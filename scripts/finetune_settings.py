"""Choose the fine-tune's defaults on a validation writer: never the measured one, never the test set.

    python -m scripts.synthetic_writer --per-class 50 --seed 2 --out val-writer.npz
    python -m scripts.finetune_settings --images val-writer.npz --from weights/mnist-resnet.pt

For each learning rate and repeat count, fine-tunes on 5 drawings per class of the
validation writer (the rest held out) and prints the held-out accuracy and the
accuracy on the loop's validation sample of MNIST (the training split's held-out
part; the test set is not looked at). core.train.finetune.FinetuneOptions holds
the choice.
"""
from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import replace

from core.data import load_bundle
from core.data.imageset import read_npz
from core.train.finetune import FinetuneJob, FinetuneOptions, base_model
from core.train.loop import train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", required=True)
    p.add_argument("--from", dest="base", default="weights/mnist-resnet.pt")
    p.add_argument("--holdout", type=float, default=0.9)
    p.add_argument("--lr", type=float, nargs="+", default=[1e-4, 3e-4, 1e-3])
    p.add_argument("--repeats", type=int, nargs="+", default=[10, 20])
    p.add_argument("--replay", type=int, nargs="+", default=[500])
    args = p.parse_args()
    imageset = read_npz(args.images)
    data = None
    print("| lr | repeats | replay | held-out before | held-out after | MNIST val after | s |")
    print("|---|---|---|---|---|---|---|")
    for lr, repeats, replay in itertools.product(args.lr, args.repeats, args.replay):
        options = replace(FinetuneOptions(), holdout=args.holdout, lr=lr, repeats=repeats,
                          replay=replay)
        if data is None:
            data = load_bundle(base_model(args.base).meta.dataset)
        job = FinetuneJob.prepare(args.base, imageset, options, data)
        t0 = time.perf_counter()
        result = train(job.config(), job.data, init_weights=job.init_weights)
        m = job.measure(result.model, test_after=float("nan"), test_before=float("nan"))
        print(f"| {lr:g} | {repeats} | {replay} | {m.held_out_before:.2%} | "
              f"{m.held_out_after:.2%} | {result.best_val_accuracy:.2%} | "
              f"{time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    main()
