"""Classify image files with a checkpoint, preprocessed exactly as the app does.

    python -m core.predict weights/mnist-cnn.pt photo.jpg drawing.png
    python -m core.predict weights/fashion-resnet.pt shoe.webp --json

Exit status: 0 when every image was classified (or found blank), 1 when at
least one image could not be read, 2 when the checkpoint is unusable.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.networks.checkpoints import Checkpoint


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m core.predict",
        description="Classify images (PNG, JPEG, GIF, BMP, WebP) with a checkpoint. Each image "
                    "is preprocessed the way the checkpoint's dataset was made: inverted if "
                    "the background is light, cropped, scaled and centred in 28x28.")
    p.add_argument("checkpoint", help="path to a .pt checkpoint written by core.train")
    p.add_argument("images", nargs="+", metavar="image", help="one or more image files")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per image and line: path, blank, predicted, "
                        "label, probabilities (or path and error)")
    p.add_argument("--top-k", type=_top_k, default=3, metavar="K",
                   help="how many classes to list per image in the text output (1-10, default 3)")
    return p


def _top_k(text: str) -> int:
    k = int(text)
    if not 1 <= k <= 10:
        raise argparse.ArgumentTypeError(f"must be between 1 and 10, got {k}")
    return k


def classify_file(ckpt: "Checkpoint", path: str) -> dict:
    """One image -> the JSON record; InputError propagates for unusable files."""
    # After parsing, as in main: torch takes seconds to import, --help should not.
    from core.predict.classify import probabilities
    from core.predict.preprocess import from_image

    meta = ckpt.meta
    pre = from_image(path, meta.dataset, mean=meta.mean, std=meta.std)
    if pre.blank:
        return {"path": path, "blank": True, "predicted": None, "label": None,
                "probabilities": None}
    probs = probabilities(ckpt.model, pre)
    best = int(probs.argmax())
    return {"path": path, "blank": False, "predicted": best, "label": meta.class_names[best],
            "probabilities": [float(p) for p in probs]}


def _text(record: dict, class_names: list[str], top_k: int) -> str:
    if record["blank"]:
        return f"{record['path']}: blank (no ink found), not classified"
    probs = record["probabilities"]
    ranked = sorted(range(len(probs)), key=probs.__getitem__, reverse=True)[:top_k]
    lines = [f"{record['path']}: {record['label']}"]
    lines += [f"  {class_names[i]:>12}  {probs[i]:7.2%}" for i in ranked]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Imported after parsing: torch takes seconds to import, --help should not.
    from core.networks.checkpoints import CheckpointError, load_checkpoint
    from core.predict.preprocess import InputError

    try:
        ckpt = load_checkpoint(args.checkpoint)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = 0
    for path in args.images:
        try:
            record = classify_file(ckpt, path)
        except InputError as err:
            failed += 1
            if args.json:
                print(json.dumps({"path": path, "error": str(err)}), flush=True)
            else:
                print(f"{path}: error: {err}", file=sys.stderr)
            continue
        print(json.dumps(record) if args.json else _text(record, ckpt.meta.class_names,
                                                          args.top_k), flush=True)
    return 1 if failed else 0

