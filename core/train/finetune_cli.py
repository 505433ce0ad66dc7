"""python -m core.train finetune: fine-tune a checkpoint on a labelled set, measured honestly.

    python -m core.train finetune --from weights/mnist-resnet.pt --images SET.npz \
        --out OUT.pt --holdout 0.5 --json

SET.npz holds `images`, (N, 28, 28) uint8, ink bright on dark (the app's "Your
handwriting" download), and `labels`, (N,) integers. A fixed share of each
class (--holdout) is kept out of training; the base and the fine-tuned model
are scored on it, and on the dataset's test set, before and after
(--holdout 0 trains on the whole set and reports the test set only).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

from core.data import DataMissingError, load_bundle
from core.data.imageset import ImageSetError, read_npz
from core.evaluate.final import finish
from core.machine.device import pick_device
from core.train.finetune import FinetuneError, FinetuneJob, FinetuneOptions, base_model
from core.train.loop import train

HELP = {
    "holdout": "share of each class's drawings kept out of training and tested on "
               "(0: train on all, report the test set only)",
    "repeats": "each training drawing appears this often in the epoch",
    "replay": "images of the dataset's own training split mixed in, so it does not forget",
    "val_size": "validation images that choose the best weights",
    "epochs": "passes over the mixed training data",
    "batch_size": "samples per step",
    "lr": "learning rate (Adam, constant)",
    "seed": "random seed (the held-out split, the replay sample, the batches)",
    "device": "auto, cpu, cuda or mps",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m core.train finetune",
        description="Fine-tune a trained checkpoint on a small labelled set (e.g. one person's "
                    "handwriting), mixed with a replay sample of its dataset; print the accuracy "
                    "on the set's held-out part and on the test set, before and after.")
    p.add_argument("--from", dest="base", required=True, metavar="CKPT",
                   help="the checkpoint to start from")
    p.add_argument("--images", required=True, metavar="SET.npz",
                   help="an .npz with images (N, 28, 28) uint8 and labels (N,)")
    p.add_argument("--out", required=True, metavar="OUT.pt", help="where to write the fine-tuned model")
    defaults = FinetuneOptions()
    for f in fields(FinetuneOptions):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)),
                       default=getattr(defaults, f.name),
                       help=f"{HELP[f.name]} (default {getattr(defaults, f.name)})")
    p.add_argument("--data-dir", default=None,
                   help="data root holding MNIST/raw (default: $MNIST_STUDIO_DATA, else ./data)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the results as the last line of stdout")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        options = FinetuneOptions(**{f.name: getattr(args, f.name) for f in fields(FinetuneOptions)})
        imageset = read_npz(args.images)
        pick_device(options.device)
        dataset = base_model(args.base).meta.dataset
        data = load_bundle(dataset, args.data_dir)
        job = FinetuneJob.prepare(args.base, imageset, options, data)
    except (FinetuneError, ImageSetError, DataMissingError, RuntimeError) as err:
        hint = " Or hold none out: --holdout 0." if getattr(err, "without_holdout", False) else ""
        print(f"error: {err}{hint}", file=sys.stderr)
        return 2
    cfg = job.config(args.data_dir)
    out = Path(args.out)
    started = time.perf_counter()
    result = train(cfg, job.data, init_weights=job.init_weights)
    test, summary = finish(result, job.data, out)
    measure = job.measure(result.model, test.accuracy)
    seconds = time.perf_counter() - started
    human = sys.stderr if args.json else sys.stdout
    print(f"fine-tuned {cfg.model} ({job.base_name}) on {measure.train_count} drawings "
          f"with {options.replay} replayed {dataset} images: {result.train_seconds:.1f} s of "
          f"training on {result.device} ({seconds:.1f} s with scoring)", file=human)
    for line in measure.lines():
        print(line, file=human)
    print(f"checkpoint: {out}", file=human)
    if args.json:
        print(json.dumps({**measure.to_json(), "options": asdict(options),
                          "train_seconds": summary.train_seconds, "seconds": round(seconds, 3),
                          "device": result.device, "checkpoint": str(out)}))
    return 0
