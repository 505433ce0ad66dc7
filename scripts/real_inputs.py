"""Real inputs, old model against new: accuracy and "I don't know" false alarms side by side.

    MNIST_STUDIO_DATA=/path/to/data python -m scripts.real_inputs --old OLD_WEIGHTS_DIR
    python -m scripts.real_inputs --old /tmp/old-weights --new weights --n 500

Each weights folder holds the checkpoints and their ood.json (thresholds). For each
dataset's default model (by file name), on inputs a person really gives the app:

    mnist  test digits redrawn as canvas strokes (core.predict.redraw) with a 14, 18,
           22 and 26 px brush (60% of the canvas, centred); small drawings (25% of the
           canvas, the app's 10 px brush); off-centre ones (40%, moved up to 30% of the
           canvas); photos of printed digits (every digit in every DejaVu and Liberation
           font, dark on uneven light paper, slanted, blurred, noisy: through from_image)
    fashion  photos of test garments (dark on a light backdrop, placed and lit at random,
             noisy, JPEG-compressed: through from_image); test digits drawn on the canvas
             (these should be flagged: a digit is no garment)

prints accuracy and the share flagged "I don't know" for the old and the new model.
Reporting only: nothing here chooses anything.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import ImageFont  # noqa: E402

from core.data import load_split  # noqa: E402
from core.networks.checkpoints import load_checkpoint  # noqa: E402
from core.networks.models import logits_of  # noqa: E402
from core.predict.ood import calibration_for, unfamiliarity  # noqa: E402
from core.predict.ood_sets import fonts  # noqa: E402
from core.predict.photos import garment_photo, photograph  # noqa: E402
from core.predict.preprocess import from_canvas, from_image  # noqa: E402
from core.predict.redraw import draw_strokes, glyph, skeleton_points  # noqa: E402

DEFAULTS = {"mnist": "mnist-resnet.pt", "fashion": "fashion-resnet.pt"}


def canvas_digits(images: np.ndarray, size: float, width: float, dataset: str,
                  offsets: bool = False, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for image in images:
        points = skeleton_points(image)
        offset = tuple(rng.uniform(-0.3, 0.3, 2)) if offsets else (0.0, 0.0)
        out.append(from_canvas(draw_strokes(points, size, width, offset=offset), dataset).image)
    return np.stack(out)


def printed_digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every digit in every DejaVu and Liberation font, photographed."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for path in fonts("DejaVu") + fonts("Liberation"):
        font = ImageFont.truetype(str(path), 160)
        for digit in range(10):
            ink = glyph(str(digit), font)
            images.append(from_image(photograph(ink, rng), "mnist").image)
            labels.append(digit)
    return np.stack(images), np.array(labels)


def garment_photos(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Test garments as product photos: enlarged, dark on a light backdrop."""
    rng = np.random.default_rng(seed)
    return np.stack([garment_photo(image, rng) for image in images])


def judged(path: Path, images: np.ndarray, labels: np.ndarray | None) -> tuple[float, float]:
    """(accuracy or nan, share flagged) of a checkpoint with its recorded threshold."""
    ckpt = load_checkpoint(path)
    cal = calibration_for(path, path.parent)
    logits = logits_of(ckpt.model, torch.from_numpy(images), ckpt.meta.mean, ckpt.meta.std)
    flagged = float("nan") if cal is None else float(
        (unfamiliarity(logits, cal.score) > cal.threshold).mean())
    accuracy = float("nan") if labels is None else float(
        (logits.argmax(1).numpy() == labels).mean())
    return accuracy, flagged


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", required=True, help="weights folder of the old defaults (+ ood.json)")
    p.add_argument("--new", default="weights", help="weights folder of the new ones")
    p.add_argument("--n", type=int, default=500, help="test images per condition")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    mnist = load_split("mnist", train=False, root=args.data_dir, download=False)
    fashion = load_split("fashion", train=False, root=args.data_dir, download=False)
    digits, digit_labels = mnist.images[:args.n].numpy(), mnist.labels[:args.n].numpy()
    rows: list[tuple[str, str, np.ndarray, np.ndarray | None]] = []
    for width in (14, 18, 22, 26):
        rows.append(("mnist", f"canvas redraws, brush {width} px (60% of the canvas)",
                     canvas_digits(digits, 0.6, width, "mnist"), digit_labels))
    rows.append(("mnist", "small drawings (25% of the canvas, brush 10 px)",
                 canvas_digits(digits, 0.25, 10, "mnist"), digit_labels))
    rows.append(("mnist", "off-centre drawings (40%, moved up to 30%, brush 10 px)",
                 canvas_digits(digits, 0.4, 10, "mnist", offsets=True), digit_labels))
    printed, printed_labels = printed_digits()
    rows.append(("mnist", f"photos of printed digits ({len(printed)}: 10 digits x "
                          f"{len(printed) // 10} fonts)", printed, printed_labels))
    garments = fashion.images[:args.n].numpy()
    rows.append(("fashion", "photos of test garments", garment_photos(garments),
                 fashion.labels[:args.n].numpy()))
    rows.append(("fashion", "test digits drawn on the canvas (should be flagged)",
                 canvas_digits(digits, 0.6, 14, "fashion"), None))
    print(f"inputs made in {time.perf_counter() - start:.0f} s")
    print("| model | inputs | accuracy: old → new | flagged “I don't know”: old → new |")
    print("|---|---|---|---|")
    for dataset, name, images, labels in rows:
        old = judged(Path(args.old) / DEFAULTS[dataset], images, labels)
        new = judged(Path(args.new) / DEFAULTS[dataset], images, labels)
        acc = "-" if labels is None else f"{old[0]:.1%} → {new[0]:.1%}"
        print(f"| {DEFAULTS[dataset]} | {name} | {acc} | {old[1]:.1%} → {new[1]:.1%} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
