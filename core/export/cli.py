"""python -m core.export CHECKPOINT --format onnx|torchscript --out FILE

    python -m core.export weights/mnist-resnet.pt --format onnx --out mnist-resnet.onnx

The exported model takes (N, 1, 28, 28) float32 pixels in [0, 1], ink bright on
dark, and returns the 10 logits; normalisation is built in. Exit status 0 on
success, 2 when the checkpoint is unusable or the file cannot be written.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m core.export",
        description="Export a checkpoint to ONNX or TorchScript. Input: (N, 1, 28, 28) float32 "
                    "pixels in [0, 1], ink bright on dark; output: the 10 logits. "
                    "Normalisation is built into the exported model.")
    p.add_argument("checkpoint", help="path to a .pt checkpoint written by core.train")
    p.add_argument("--format", required=True, choices=["onnx", "torchscript"], dest="fmt")
    p.add_argument("--out", required=True, help="the file to write")
    args = p.parse_args(argv)
    # Imported after parsing: torch takes seconds to import, --help should not.
    from core.networks.checkpoints import CheckpointError, load_checkpoint
    from core.export.exporting import export_file

    try:
        ckpt = load_checkpoint(args.checkpoint)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        path = export_file(ckpt, args.fmt, args.out)
    except OSError as err:
        print(f"error: cannot write {args.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({args.fmt}, {path.stat().st_size / 1024:.0f} KB): "
          f"{ckpt.meta.dataset} {ckpt.meta.architecture}, input (N, 1, 28, 28) pixels in [0, 1], "
          "output 10 logits")
    return 0
