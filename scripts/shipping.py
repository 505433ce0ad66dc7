"""What the ship_* scripts share: their command line and the shipped models it picks.

scripts/ship_predictions.py, ship_insights.py and ship_neighbours.py each write a file
beside some shipped checkpoints; they differ in what they compute, not in how a person
names the checkpoints, the folders and the device.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterator

import torch

from core.machine.device import cpu_threads, pick_device
from core.networks.catalog import ModelEntry, read_manifest, shipped_models


def ship_parser(doc: str, files_help: str, device: str = "auto",
                device_help: str | None = None) -> argparse.ArgumentParser:
    """files, --force, --weights-dir, --data-dir and --device, as every ship_* script takes them."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("files", nargs="*", help=files_help)
    parser.add_argument("--force", action="store_true", help="recompute even when up to date")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default=device, help=device_help)
    return parser


def picked(args: argparse.Namespace, defaults_only: bool) -> Iterator[ModelEntry]:
    """The shipped models the command line names; with none named, the manifest's default
    models (defaults_only, unless --all was given) or every shipped model. Sets the
    threads as the app does and leaves args.device a torch.device."""
    torch.set_num_threads(cpu_threads())
    args.device = pick_device(args.device)
    if args.files:
        wanted = set(args.files)
    elif defaults_only and not getattr(args, "all", False):
        wanted = set((read_manifest(args.weights_dir).get("default") or {}).values())
    else:
        wanted = None
    return (e for e in shipped_models(args.weights_dir) if wanted is None or e.path.name in wanted)
