"""Training throughput: our trainer vs the reference notebooks' loop, side by side.

    python -m bench.throughput --model cnn [--json]
"""
from __future__ import annotations

import argparse
import json

import torch

from core.data import DATASETS, load_bundle
from core.device import configure_threads, describe_device, pick_device
from core.models import build_model
from core.train.config import TrainConfig
from core.train.loop import train
from bench.reference_loop import reference_samples_per_second


def ours(model: str, dataset: str, batch_size: int, device: str, root: str | None) -> float:
    cfg = TrainConfig(dataset=dataset, model=model, epochs=1, batch_size=batch_size,
                      lr=1e-3, optimizer="adam", schedule="constant", device=device)
    return train(cfg, load_bundle(dataset, root)).samples_per_second


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["cnn", "ffnn"], required=True, help="architecture to time")
    p.add_argument("--dataset", default="mnist", choices=list(DATASETS), help="default mnist")
    p.add_argument("--batch-size", type=int, default=128, help="our trainer's batch (default 128; the reference uses 20)")
    p.add_argument("--seconds", type=float, default=20.0, help="how long to time the reference loop (default 20)")
    p.add_argument("--device", default="auto", help="device for our trainer (the reference loop runs where the notebooks ran: CPU)")
    p.add_argument("--data-dir", default=None, help="data root (default $MNIST_STUDIO_DATA, else ./data)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)

    configure_threads(torch.device("cpu"))
    torch.manual_seed(0)
    ref = reference_samples_per_second(build_model(args.model), args.dataset, args.seconds, args.data_dir)
    same_batch = ours(args.model, args.dataset, 20, args.device, args.data_dir)
    ours_sps = ours(args.model, args.dataset, args.batch_size, args.device, args.data_dir)
    out = {"model": args.model, "dataset": args.dataset,
           "device": describe_device(pick_device(args.device)),
           "reference_samples_per_second": round(ref, 1),
           "ours_samples_per_second": round(ours_sps, 1), "ours_batch_size": args.batch_size,
           "ours_batch20_samples_per_second": round(same_batch, 1),
           "speedup": round(ours_sps / ref, 2), "speedup_batch20": round(same_batch / ref, 2)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.model} on {args.dataset}, {out['device']}")
        print(f"  reference loop (DataLoader+ToTensor, batch 20): {ref:>10,.0f} samples/s")
        print(f"  our trainer, batch 20:                          {same_batch:>10,.0f} samples/s  ({out['speedup_batch20']}x)")
        print(f"  our trainer, batch {args.batch_size:<4}:                        {ours_sps:>10,.0f} samples/s  ({out['speedup']}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
