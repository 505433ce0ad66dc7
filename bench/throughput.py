"""Training throughput: our trainer vs the reference notebooks' loop, side by side, and
how far each is from this machine's limit.

    python -m bench.throughput --model cnn [--json]

Beside the ratio it prints the model's FLOPs per training sample (forward and backward,
counted by torch.utils.flop_counter), the GFLOP/s each loop reached, and their share of
the matrix-multiply peak, measured in the same run on the device our trainer used and
in the precision it trained in: on a CPU 2048x2048 with the same threads (fp32, or bf16
where it trains under bf16 autocast); on a GPU 8192x8192 (bf16, or fp32 with TF32).
On a GPU the reference loop runs there too, moving each batch as the notebooks did.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from core.data import DATASETS, load_bundle
from core.machine.device import configure_threads, describe_device, pick_device
from core.networks.models import ARCHITECTURES
from core.train.cost import training_flops_per_sample
from core.train.config import TrainConfig
from core.train.loop import train
from bench.reference_loop import reference_model, reference_samples_per_second


def ours(model: str, dataset: str, batch_size: int, device: str, root: str | None):
    cfg = TrainConfig(dataset=dataset, model=model, epochs=1, batch_size=batch_size,
                      lr=1e-3, optimizer="adam", schedule="constant", device=device)
    return train(cfg, load_bundle(dataset, root))


def matmul_peak_gflops(n: int | None = None, seconds: float = 2.0,
                       device: torch.device = torch.device("cpu"),
                       dtype: torch.dtype = torch.float32) -> float:
    """The best matrix-multiply rate of a few seconds of n x n products, GFLOP/s (on a GPU
    fp32 runs on TF32 tensor cores, as our trainer's fp32 does there)."""
    cuda = device.type == "cuda"
    n = n or (8192 if cuda else 2048)
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    a @ b  # warm-up
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(10 if cuda else 1):
            a @ b
        if cuda:
            torch.cuda.synchronize()
        best = max(best, (10 if cuda else 1) * 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=list(ARCHITECTURES), required=True, help="architecture to time")
    p.add_argument("--dataset", default="mnist", choices=list(DATASETS), help="default mnist")
    p.add_argument("--batch-size", type=int, default=128, help="our trainer's batch (default 128; the reference uses 20)")
    p.add_argument("--seconds", type=float, default=20.0, help="how long to time the reference loop (default 20)")
    p.add_argument("--device", default="auto", help="device for our trainer (the reference loop runs where the notebooks ran: CPU)")
    p.add_argument("--data-dir", default=None, help="data root (default $MNIST_STUDIO_DATA, else ./data)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)

    device = pick_device(args.device)
    threads = configure_threads(torch.device("cpu"))
    torch.manual_seed(0)
    flops = training_flops_per_sample(args.model)
    ref = reference_samples_per_second(reference_model(args.model), args.dataset, args.seconds,
                                       args.data_dir, device.type)
    same_batch = ours(args.model, args.dataset, 20, args.device, args.data_dir).samples_per_second
    result = ours(args.model, args.dataset, args.batch_size, args.device, args.data_dir)
    ours_sps = result.samples_per_second
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    precision = torch.bfloat16 if result.precision.startswith("bf16") else torch.float32
    peak = matmul_peak_gflops(device=device, dtype=precision)

    def reached(sps: float) -> dict:
        gflops = sps * flops / 1e9
        return {"gflops": round(gflops, 1), "percent_of_peak": round(100 * gflops / peak, 1)}
    out = {"model": args.model, "dataset": args.dataset,
           "device": describe_device(device), "threads": threads,
           "step_mode": result.step_mode, "precision": result.precision,
           "matmul_peak_gflops": round(peak, 1), "peak_precision": str(precision).split(".")[-1],
           "training_flops_per_sample": round(flops), "reference_samples_per_second": round(ref, 1),
           "reference": reached(ref),
           "ours_samples_per_second": round(ours_sps, 1), "ours_batch_size": args.batch_size,
           "ours": reached(ours_sps),
           "ours_batch20_samples_per_second": round(same_batch, 1),
           "speedup": round(ours_sps / ref, 2), "speedup_batch20": round(same_batch / ref, 2)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.model} on {args.dataset}, {out['device']} ({result.step_mode}, "
              f"{result.precision}): {flops / 1e6:.2f} MFLOP per training sample; "
              f"{out['peak_precision']} matmul peak {peak:,.0f} GFLOP/s"
              + (f" on {threads} threads" if device.type == "cpu" else ""))
        print(f"  reference loop (DataLoader+ToTensor, batch 20): {ref:>10,.0f} samples/s")
        print(f"  our trainer, batch 20:                          {same_batch:>10,.0f} samples/s  ({out['speedup_batch20']}x)")
        print(f"  our trainer, batch {args.batch_size:<4}:                        {ours_sps:>10,.0f} samples/s  ({out['speedup']}x)")
        for who in ("reference", "ours"):
            print(f"  {who:<9} reaches {out[who]['gflops']:>6.1f} GFLOP/s = "
                  f"{out[who]['percent_of_peak']:>4.1f}% of the matmul peak")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
