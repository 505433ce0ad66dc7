"""Choose each shipped model's "I don't know" score and threshold; write weights/ood.json.

    MNIST_STUDIO_DATA=/path/to/data python -m scripts.ood_thresholds            # all shipped models
    python -m scripts.ood_thresholds mnist-resnet.pt --n 500                     # some, quicker
    python -m scripts.ood_thresholds mnist-resnet.pt --dry-run                   # measure only

Chosen on validation only. The in-distribution inputs are the 12,000 validation
images and, for digit models, validation digits redrawn as canvas strokes
(core.predict.redraw, through from_canvas: what a person's honest drawing looks
like). For each score (core.predict.ood.SCORES) the threshold is the smallest that
flags at most TARGET_FALSE_ALARM of each of them; the score that then detects the
most out-of-distribution inputs (core.predict.ood_sets, "val" part, mean over the
families that have a training part: the held-out families choose nothing) wins.
The test figures (false alarms on the test set and on redrawn test digits,
detection on the separate "test" part of every family) are measured after the
choice and only reported. Prints the table; retrain a checkpoint, run this again.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.data import load_bundle  # noqa: E402
from core.evaluate.predictions import cache_dir  # noqa: E402
from core.machine.device import cpu_threads  # noqa: E402
from core.networks.catalog import shipped_models  # noqa: E402
from core.networks.checkpoints import load_checkpoint  # noqa: E402
from core.networks.models import logits_of  # noqa: E402
from core.predict.ood import (SCORES, TARGET_FALSE_ALARM, Calibration,  # noqa: E402
                              choose_threshold, file_sha1, flagged_rate, ood_path, quantiles_of,
                              read_calibrations, unfamiliarity, write_calibrations)
from core.predict.ood_sets import HELD_OUT, cached_ood_sets, kinds_for, redraws  # noqa: E402

DRAWN = 2000  # validation (and test) digits redrawn as canvas strokes


def drawn_digits(images: torch.Tensor, part: str, n: int, cache=None) -> torch.Tensor:
    """The first n images of a split redrawn as canvas strokes (digits only), cached."""
    path = cache_dir(cache) / "ood-sets" / f"mnist-drawn-{part}-{n}.npy"
    try:
        return torch.from_numpy(np.load(path))
    except (OSError, ValueError):
        drawn = redraws(images[:n].numpy(), "mnist", seed={"val": 10, "test": 11}[part])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, drawn)
        return torch.from_numpy(drawn)


def calibrate(model, mean: float, std: float, val_images, test_images, ood_val: dict,
              ood_test: dict, sha1: str = "", target: float = TARGET_FALSE_ALARM,
              drawn_val=None, drawn_test=None, recorded: Calibration | None = None
              ) -> tuple[Calibration, dict[str, float]]:
    """The chosen calibration, and each score's mean validation detection rate. With
    `recorded`, its score and threshold are kept (measured, not chosen)."""
    def scored(images):
        return logits_of(model, images, mean, std)
    logits = {"val": scored(val_images), "test": scored(test_images)}
    if drawn_val is not None:
        logits["drawn_val"], logits["drawn_test"] = scored(drawn_val), scored(drawn_test)
    for part, sets in (("ood_val", ood_val), ("ood_test", ood_test)):
        logits.update({(part, kind): scored(images) for kind, images in sets.items()})
    choosing = [k for k in ood_val if k not in HELD_OUT]
    candidates, means = [], {}
    for score in [recorded.score] if recorded else SCORES:
        def rate(key, threshold):
            return flagged_rate(unfamiliarity(logits[key], score), threshold)
        val = unfamiliarity(logits["val"], score)
        threshold = choose_threshold(val, target)
        if drawn_val is not None:  # a person's drawings: no more false alarms than images
            threshold = max(threshold, choose_threshold(
                unfamiliarity(logits["drawn_val"], score), target))
        if recorded:
            threshold = recorded.threshold
        detection = {k: rate(("ood_val", k), threshold) for k in ood_val}
        means[score] = sum(detection[k] for k in choosing) / max(1, len(choosing))
        candidates.append(Calibration(
            score, threshold, target, flagged_rate(val, threshold), detection,
            test_false_alarm=rate("test", threshold),
            test_detection={k: rate(("ood_test", k), threshold) for k in ood_test},
            checkpoint_sha1=sha1, val_quantiles=quantiles_of(val),
            val_drawn_false_alarm=None if drawn_val is None else rate("drawn_val", threshold),
            test_drawn_false_alarm=None if drawn_val is None else rate("drawn_test", threshold)))
    best = max(candidates, key=lambda c: means[c.score])  # validation figures only
    return best, means


def header(kinds) -> str:
    return (f"{'model':22} {'score':6} {'threshold':>9} {'val FA':>7} {'test FA':>8} "
            f"{'drawn FA':>9} " + " ".join(f"{k[:11]:>11}" for k in kinds)
            + "   (test detection per family)")


def row(name: str, cal: Calibration, means: dict[str, float], kinds) -> str:
    test = " ".join(f"{cal.test_detection.get(k, float('nan')):11.1%}" for k in kinds)
    drawn = "-" if cal.test_drawn_false_alarm is None else f"{cal.test_drawn_false_alarm:.1%}"
    alts = " ".join(f"{s}={m:.1%}" for s, m in means.items())
    return (f"{name:22} {cal.score:6} {cal.threshold:9.4f} {cal.val_false_alarm:7.1%} "
            f"{cal.test_false_alarm:8.1%} {drawn:>9} {test}   (val detection: {alts})")


def val_row(name: str, ckpt, bundle, ood_val: dict, drawn_val, target: float) -> str:
    """Validation only, each score: its threshold's false alarms and detection per family."""
    def scored(images):
        return logits_of(ckpt.model, images, ckpt.meta.mean, ckpt.meta.std)
    val, ood = scored(bundle.val.images), {k: scored(v) for k, v in ood_val.items()}
    drawn = None if drawn_val is None else scored(drawn_val)
    parts = []
    for score in SCORES:
        threshold = choose_threshold(unfamiliarity(val, score), target)
        if drawn is not None:
            threshold = max(threshold, choose_threshold(unfamiliarity(drawn, score), target))
        rates = " ".join(f"{k}={flagged_rate(unfamiliarity(v, score), threshold):.1%}"
                         for k, v in ood.items())
        fa = f"val FA {flagged_rate(unfamiliarity(val, score), threshold):.1%}"
        if drawn is not None:
            fa += f", drawn FA {flagged_rate(unfamiliarity(drawn, score), threshold):.1%}"
        parts.append(f"  {score}: {fa}; {rates}")
    accuracy = float((val.argmax(1) == bundle.val.labels).double().mean())
    return f"{name}: val accuracy {accuracy:.2%}\n" + "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="checkpoint file names (default: all shipped)")
    parser.add_argument("--n", type=int, default=1000, help="images per OOD family and part")
    parser.add_argument("--target", type=float, default=TARGET_FALSE_ALARM,
                        help="false-alarm rate allowed on validation (default 0.05)")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--checkpoint", action="append", default=[], metavar="PATH",
                        help="measure this checkpoint file too (not shipped; with --dry-run)")
    parser.add_argument("--dry-run", action="store_true", help="measure and print; write nothing")
    parser.add_argument("--recorded", action="store_true",
                        help="keep each model's score and threshold as recorded in ood.json "
                             "and measure the rates with them (how a shipped model did); "
                             "implies --dry-run")
    parser.add_argument("--val-only", action="store_true",
                        help="validation figures only (for choosing between candidate models: "
                             "the test parts are not even scored); implies --dry-run")
    args = parser.parse_args(argv)
    args.dry_run = args.dry_run or args.val_only or args.recorded
    torch.set_num_threads(cpu_threads())
    out = ood_path(args.weights_dir)
    calibrations = read_calibrations(out)
    sets: dict[str, tuple] = {}
    targets = [(e.path, e.dataset) for e in shipped_models(args.weights_dir)
               if not args.files or e.path.name in args.files]
    targets += [(Path(p), load_checkpoint(p).meta.dataset) for p in args.checkpoint]
    for path, dataset in targets:
        if dataset not in sets:
            bundle = load_bundle(dataset, root=args.data_dir, download=False)
            drawn = (drawn_digits(bundle.val.images, "val", DRAWN),
                     drawn_digits(bundle.test.images, "test", DRAWN)) if dataset == "mnist" \
                else (None, None)
            sets[dataset] = (bundle, cached_ood_sets(dataset, args.n, "val", args.data_dir),
                             None if args.val_only else
                             cached_ood_sets(dataset, args.n, "test", args.data_dir), drawn)
            print(header(kinds_for(dataset)), flush=True)
        bundle, ood_val, ood_test, drawn = sets[dataset]
        ckpt = load_checkpoint(path)
        start = time.perf_counter()
        if args.val_only:
            print(val_row(path.name, ckpt, bundle, ood_val, drawn[0], args.target), flush=True)
            continue
        recorded = calibrations.get(path.name) if args.recorded else None
        if args.recorded and recorded is None:
            print(f"{path.name}: nothing recorded in {out}")
            continue
        cal, means = calibrate(ckpt.model, ckpt.meta.mean, ckpt.meta.std, bundle.val.images,
                               bundle.test.images, ood_val, ood_test, file_sha1(path),
                               args.target, *drawn, recorded=recorded)
        print(row(path.name, cal, means, kinds_for(dataset))
              + f"  {time.perf_counter() - start:.0f} s", flush=True)
        if args.dry_run or str(path) in args.checkpoint:
            continue
        calibrations[path.name] = cal
        write_calibrations(out, calibrations, {
            "about": "scripts/ood_thresholds.py: score and threshold per shipped model, chosen "
                     "on validation; test_* figures are reported only",
            "ood_images_per_kind": args.n, "drawn_digits": DRAWN})
    if not args.dry_run:
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
