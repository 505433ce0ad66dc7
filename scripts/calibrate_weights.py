"""Fit each shipped model's softmax temperature on validation and write it into the checkpoint.

    MNIST_STUDIO_DATA=/path/to/data python -m scripts.calibrate_weights        # all shipped models
    python -m scripts.calibrate_weights mnist-resnet.pt --dry-run             # measure, write nothing

For each checkpoint of weights/manifest.json: its raw logits on the 12,000 validation
images give the temperature (core.networks.calibration.fit_temperature); the test set is looked
at only afterwards, to report its ECE (15 bins) before and after. The temperature and
the validation fit go into the checkpoint's metadata (the weights are not touched), the
test figures into the manifest entry (`calibration`). The checkpoint's bytes change, so
run `python -m scripts.ship_predictions` (its stored probabilities are keyed by them)
and `python -m scripts.ood_thresholds` (the scores move with the temperature) after it.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core.networks.calibration import calibrate, expected_calibration_error  # noqa: E402
from core.networks.catalog import shipped_models, weights_dir  # noqa: E402
from core.networks.checkpoints import load_checkpoint, read_payload  # noqa: E402
from core.data import load_bundle  # noqa: E402
from core.machine.device import cpu_threads  # noqa: E402
from core.machine.files import atomic_write  # noqa: E402
from core.networks.models import logits_of  # noqa: E402


def calibrate_file(path: Path, data_dir: str | None = None) -> dict:
    """Fit, measure and return the figures (fractions), without writing anything."""
    ckpt = load_checkpoint(path)
    meta = ckpt.meta
    bundle = load_bundle(meta.dataset, root=data_dir, download=False)
    fit = calibrate(ckpt.model, bundle.val, meta.mean, meta.std)  # sets T on the model
    test_logits = logits_of(ckpt.model, bundle.test.images, meta.mean, meta.std).double()
    raw = test_logits * fit.temperature  # the calibrated logits are raw / T
    labels = bundle.test.labels
    return {"temperature": fit.temperature, "fit": asdict(fit),
            "test_ece_before": expected_calibration_error(raw.softmax(1), labels),
            "test_ece_after": expected_calibration_error(test_logits.softmax(1), labels),
            "test_samples": len(labels)}


def write_temperature(path: Path, figures: dict) -> None:
    payload = read_payload(path)
    payload["meta"]["temperature"] = figures["temperature"]
    payload["meta"].setdefault("metrics", {})["calibration"] = figures["fit"]
    atomic_write(path, lambda f: torch.save(payload, f))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="checkpoint file names (default: all shipped)")
    parser.add_argument("--dry-run", action="store_true", help="measure only; write nothing")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(cpu_threads())
    folder = weights_dir(args.weights_dir)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entries = {e["file"]: e for e in manifest["checkpoints"]}
    print(f"{'model':24} {'T':>7} {'val ECE before':>15} {'after':>7} "
          f"{'test ECE before':>16} {'after':>7}")
    for entry in shipped_models(args.weights_dir):
        if args.files and entry.path.name not in args.files:
            continue
        f = calibrate_file(entry.path, args.data_dir)
        print(f"{entry.path.name:24} {f['temperature']:7.3f} {f['fit']['val_ece_before']:15.2%} "
              f"{f['fit']['val_ece_after']:7.2%} {f['test_ece_before']:16.2%} "
              f"{f['test_ece_after']:7.2%}", flush=True)
        if args.dry_run:
            continue
        write_temperature(entry.path, f)
        entries[entry.path.name]["calibration"] = {
            "temperature": round(f["temperature"], 4),
            "val_ece_before": round(f["fit"]["val_ece_before"], 5),
            "val_ece_after": round(f["fit"]["val_ece_after"], 5),
            "test_ece_before": round(f["test_ece_before"], 5),
            "test_ece_after": round(f["test_ece_after"], 5)}
    if not args.dry_run:
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
