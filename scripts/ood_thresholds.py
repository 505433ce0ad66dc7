"""Choose each shipped model's "I don't know" score and threshold; write weights/ood.json.

    MNIST_STUDIO_DATA=/path/to/data python -m scripts.ood_thresholds            # all shipped models
    python -m scripts.ood_thresholds mnist-resnet.pt --n 500                     # some, quicker

Chosen on validation only: for each score (core.predict.ood.SCORES) the threshold
flags TARGET_FALSE_ALARM of the 12,000 validation images, and the score that
then detects the most out-of-distribution inputs (core.predict.ood_sets, "val"
part: mean over kinds) wins. The test figures (false alarms on the test set,
detection on the separate "test" part of the OOD sets) are measured after the
choice and only reported. Prints the table; retrain a checkpoint, run this again.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from core.data import load_bundle  # noqa: E402
from core.machine.device import cpu_threads  # noqa: E402
from core.networks.catalog import shipped_models  # noqa: E402
from core.networks.checkpoints import load_checkpoint  # noqa: E402
from core.predict.ood import (SCORES, TARGET_FALSE_ALARM, Calibration,  # noqa: E402
                              choose_threshold, file_sha1, flagged_rate, logits_of, ood_path,
                              read_calibrations, unfamiliarity, write_calibrations)
from core.predict.ood_sets import KINDS, build_ood_sets  # noqa: E402


def calibrate(model, mean: float, std: float, val_images, test_images, ood_val: dict,
              ood_test: dict, sha1: str = "",
              target: float = TARGET_FALSE_ALARM) -> tuple[Calibration, dict[str, float]]:
    """The chosen calibration, and each score's mean validation detection rate."""
    logits = {"val": logits_of(model, val_images, mean, std),
              "test": logits_of(model, test_images, mean, std)}
    for part, sets in (("ood_val", ood_val), ("ood_test", ood_test)):
        logits.update({(part, kind): logits_of(model, images, mean, std)
                       for kind, images in sets.items()})
    candidates, means = [], {}
    for score in SCORES:
        val = unfamiliarity(logits["val"], score)
        threshold = choose_threshold(val, target)
        detection = {k: flagged_rate(unfamiliarity(logits["ood_val", k], score), threshold)
                     for k in ood_val}
        means[score] = sum(detection.values()) / max(1, len(detection))
        candidates.append(Calibration(
            score, threshold, target, flagged_rate(val, threshold), detection,
            test_false_alarm=flagged_rate(unfamiliarity(logits["test"], score), threshold),
            test_detection={k: flagged_rate(unfamiliarity(logits["ood_test", k], score),
                                            threshold) for k in ood_test},
            checkpoint_sha1=sha1))
    best = max(candidates, key=lambda c: means[c.score])  # validation figures only
    return best, means


def _row(name: str, cal: Calibration, means: dict[str, float]) -> str:
    test = " ".join(f"{cal.test_detection.get(k, float('nan')):7.1%}" for k in KINDS)
    alts = " ".join(f"{s}={m:.1%}" for s, m in means.items())
    return (f"{name:22} {cal.score:6} {cal.threshold:9.4f} {cal.val_false_alarm:7.1%} "
            f"{cal.test_false_alarm:8.1%} {test}   (val detection: {alts})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="checkpoint file names (default: all shipped)")
    parser.add_argument("--n", type=int, default=1000, help="images per OOD kind and part")
    parser.add_argument("--target", type=float, default=TARGET_FALSE_ALARM,
                        help="false-alarm rate allowed on validation (default 0.05)")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(cpu_threads())
    out = ood_path(args.weights_dir)
    calibrations = read_calibrations(out)
    sets: dict[str, tuple] = {}
    print(f"{'model':22} {'score':6} {'threshold':>9} {'val FA':>7} {'test FA':>8} "
          + " ".join(f"{k:>7}" for k in KINDS) + "   (test detection per kind)", flush=True)
    for entry in shipped_models(args.weights_dir):
        if args.files and entry.path.name not in args.files:
            continue
        if entry.dataset not in sets:
            bundle = load_bundle(entry.dataset, root=args.data_dir, download=False)
            sets[entry.dataset] = (bundle, build_ood_sets(entry.dataset, args.n, "val", args.data_dir),
                                   build_ood_sets(entry.dataset, args.n, "test", args.data_dir))
        bundle, ood_val, ood_test = sets[entry.dataset]
        ckpt = load_checkpoint(entry.path)
        start = time.perf_counter()
        cal, means = calibrate(ckpt.model, ckpt.meta.mean, ckpt.meta.std, bundle.val.images,
                               bundle.test.images, ood_val, ood_test, file_sha1(entry.path),
                               args.target)
        calibrations[entry.path.name] = cal
        print(_row(entry.path.name, cal, means) + f"  {time.perf_counter() - start:.0f} s",
              flush=True)
        write_calibrations(out, calibrations, {
            "about": "scripts/ood_thresholds.py: score and threshold per shipped model, chosen "
                     "on validation; test_* figures are reported only",
            "ood_images_per_kind": args.n})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
