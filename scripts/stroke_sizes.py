"""Accuracy against drawing size and brush width: MNIST digits redrawn as canvas strokes.

    python -m scripts.stroke_sizes                  # 500 test digits, the default mnist model
    python -m scripts.stroke_sizes --n 2000 --split val
    python -m scripts.stroke_sizes --mnist-width    # MNIST's typical stroke width (training set)

Each digit is reduced to its skeleton (its centre lines, at 4x resolution),
scaled so the drawing spans 25, 40, 60 or 90% of the 280 px canvas, and drawn
with a round brush 10, 20 or 30 px wide, white on black, as the canvas does.
Each drawing goes through core.predict.preprocess.from_canvas twice: as
before (scaled as it is) and with its strokes redrawn at MNIST's width; the
table gives the model's accuracy for both. Design choices are made on
--split val (carved from the training set); the test split is for reporting.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.data import load_bundle
from core.networks.catalog import default_model, list_models
from core.networks.checkpoints import load_checkpoint
from core.predict.preprocess import from_canvas
from core.predict.redraw import UPSAMPLE, draw_strokes
from core.predict.redraw import skeleton_points as digit_skeleton
from core.predict.strokes import stroke_width

SIZES = (0.25, 0.40, 0.60, 0.90)  # the drawing's longer side, as a share of the canvas
WIDTHS = (10, 20, 30)  # brush widths in canvas px (the app's is 20)


@dataclass
class Cell:
    size: float
    width: int
    before: float  # accuracy, 0..1
    after: float


def measure(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray,
            sizes=SIZES, widths=WIDTHS, mean: float | None = None,
            std: float | None = None) -> list[Cell]:
    """Accuracy of `model` on the digits redrawn at each size x width, before and after."""
    skeletons = [digit_skeleton(image) for image in images]
    keep = [i for i, s in enumerate(skeletons) if len(s)]
    labels = torch.as_tensor(np.asarray(labels)[keep])
    cells = []
    for size in sizes:
        for width in widths:
            canvases = [draw_strokes(skeletons[i], size, width) for i in keep]
            accuracy = []
            for redraw_strokes in (False, True):
                batch = torch.cat([from_canvas(c, "mnist", mean=mean, std=std,
                                               redraw_strokes=redraw_strokes).tensor
                                   for c in canvases])
                model.eval()
                with torch.inference_mode():
                    predicted = model(batch).argmax(1)
                accuracy.append(float((predicted == labels).double().mean()))
            cells.append(Cell(size, width, *accuracy))
    return cells


def mnist_stroke_width(images: np.ndarray, n: int = 5000, seed: int = 0) -> np.ndarray:
    """stroke_width of n random images, each enlarged UPSAMPLE x (bilinear) first, in
    28x28 pixels: at 28 px a skeleton's distances are whole pixels, too coarse."""
    chosen = np.random.default_rng(seed).choice(len(images), min(n, len(images)), replace=False)
    side = 28 * UPSAMPLE
    return np.array([stroke_width(np.asarray(Image.fromarray(np.asarray(images[i], np.uint8))
                                             .resize((side, side), Image.Resampling.BILINEAR),
                                             np.float64)) / UPSAMPLE for i in chosen])


def table(cells: list[Cell]) -> str:
    widths = sorted({c.width for c in cells})
    head = "| drawing size | " + " | ".join(f"brush {w} px: before → after" for w in widths)
    lines = [head + " | mean before → after |", "|---" * (len(widths) + 2) + "|"]
    for size in sorted({c.size for c in cells}):
        row = [c for c in cells if c.size == size]
        parts = [f"{c.before:.1%} → {c.after:.1%}" for c in sorted(row, key=lambda c: c.width)]
        mean_before = np.mean([c.before for c in row])
        mean_after = np.mean([c.after for c in row])
        lines.append(f"| {size:.0%} | " + " | ".join(parts)
                     + f" | {mean_before:.1%} → {mean_after:.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="digits (the first n of the split)")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--data-dir", default=None, help="default: $MNIST_STUDIO_DATA")
    parser.add_argument("--model", default=None, help="a checkpoint (default: the mnist default)")
    parser.add_argument("--mnist-width", action="store_true",
                        help="only measure MNIST's typical stroke width, on the training split")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    bundle = load_bundle("mnist", args.data_dir, download=False)
    if args.mnist_width:
        widths = mnist_stroke_width(bundle.train.images.numpy())
        p10, p50, p90 = np.percentile(widths, [10, 50, 90])
        print(f"MNIST training stroke width over {len(widths)} images: median {p50:.2f} px "
              f"(10th percentile {p10:.2f}, 90th {p90:.2f})")
        return 0
    split = bundle.test if args.split == "test" else bundle.val
    path = args.model or default_model(list_models("mnist"), "mnist").path
    ckpt = load_checkpoint(path)
    start = time.perf_counter()
    cells = measure(ckpt.model, split.images[:args.n].numpy(), split.labels[:args.n].numpy(),
                    mean=ckpt.meta.mean, std=ckpt.meta.std)
    print(f"{min(args.n, len(split))} {args.split} digits, model {path}, "
          f"{time.perf_counter() - start:.0f} s")
    print(table(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
