"""How long "Fool it" takes on the CPU: PGD (and FGSM) on drawn digits, per shipped model.

    python -m bench.attack_speed                      # every mnist model, eps 0.1 and 0.3
    python -m bench.attack_speed --models mnist-resnet.pt --eps 0.1

One thread, as the app gives each visitor's script thread (ui.common.loaders
use_one_thread). Each digit 0-9 is drawn as bench.strokes draws it, preprocessed as
the canvas's drawing is, then attacked with the panel's defaults (PGD, 40 steps, any
other class); the time includes the transfer of the perturbed image through every
other mnist model. Prints the median and the slowest per model and budget.
"""
from __future__ import annotations

import argparse
import io
import base64
import statistics
import time

import numpy as np
import torch
from PIL import Image

from bench.strokes import canvas_value
from core.predict.attacks import attack, transfer
from core.networks.catalog import shipped_models
from core.networks.checkpoints import load_checkpoint
from core.predict.preprocess import from_canvas


def drawn_digits(seed: int = 0) -> list[np.ndarray]:
    """The 28x28 inputs of the ten digits drawn on the canvas."""
    rng, images = np.random.default_rng(seed), []
    for digit in range(10):
        data = canvas_value(digit, rng)["drawing"]["data"].split(",", 1)[1]
        rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))
        images.append(from_canvas(rgba, "mnist").image)
    return images


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="*", default=None, help="shipped file names (default: all mnist)")
    p.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.3])
    p.add_argument("--method", default="pgd", choices=["pgd", "fgsm"])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    entries = [e for e in shipped_models() if e.dataset == "mnist"]
    models = {e.path.name: load_checkpoint(e.path) for e in entries}
    others = [(name, c.model, c.meta.mean, c.meta.std) for name, c in models.items()]
    images = drawn_digits()
    print(f"{args.method}, one thread, 10 drawn digits, transfer to {len(others)} models")
    for name in args.models or list(models):
        ck = models[name]
        attack(ck.model, images[0], ck.meta.mean, ck.meta.std, ck.meta.class_names, 0.1)  # warm
        for eps in args.eps:
            times, fooled = [], 0
            for image in images:
                start = time.perf_counter()
                result = attack(ck.model, image, ck.meta.mean, ck.meta.std, ck.meta.class_names,
                                eps, args.method)
                transfer(result, others)
                times.append(time.perf_counter() - start)
                fooled += result.success
            print(f"{name:24s} eps {eps:<4g} median {statistics.median(times) * 1000:6.0f} ms  "
                  f"slowest {max(times) * 1000:6.0f} ms  fooled {fooled}/10")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
