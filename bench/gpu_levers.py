"""The GPU step's levers, per architecture, side by side in one process: eager vs the
CUDA graph, fp32 (TF32 matmuls) vs bf16 autocast, NCHW vs channels_last.

    python -m bench.gpu_levers [--models cnn resnet ...] [--batch-size 256] [--steps 200]

Each cell times `--steps` training steps of the trainer's own step classes
(core/train/step.py) on random data after their warm-up and capture, and prints
samples per second (median of 3 rounds).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from core.machine.device import configure_cuda
from core.networks.models import ARCHITECTURES, build_model
from core.train.config import TrainConfig
from core.train.loop import uses_conv
from core.train.optim import make_optimizer, make_scheduler, shadow_scheduler
from core.train.step import EagerStep, GraphStep, StepInputs


def samples_per_second(name: str, graph: bool, autocast: bool, channels_last: bool,
                       batch_size: int, steps: int) -> float:
    device = torch.device("cuda")
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(name).to(device, memory_format=fmt)
    n = batch_size * 16
    x = torch.randn(n, 1, 28, 28, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (n,), device=device)
    cfg = TrainConfig(dataset="mnist", model=name, batch_size=batch_size, epochs=1)
    total = steps + 10
    opt = make_optimizer(cfg, model, device, capturable=graph)
    sched = make_scheduler(cfg, opt, total, cycle_momentum=not graph)
    inputs = StepInputs(x, y, batch_size, 0.0, autocast, None)
    if graph:
        step = GraphStep(model, opt, sched, inputs, shadow_scheduler(cfg, total), 0, total)
    else:
        step = EagerStep(model, opt, sched, inputs)
    batches = [torch.randint(0, n, (batch_size,), device=device) for _ in range(16)]
    for i in range(5):  # warm-up (and, for the graph, capture)
        step(batches[i % 16])
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(steps):
        step(batches[i % 16])
    torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_levers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=200)
    args = p.parse_args(argv)
    configure_cuda()
    for name in args.models:
        conv = uses_conv(build_model(name))
        cells = [(g, a, c) for g in (False, True) for a in (False, True)
                 for c in ((False, True) if conv else (False,))]
        row = {}
        for graph, autocast, cl in cells:
            rounds = [samples_per_second(name, graph, autocast, cl, args.batch_size, args.steps)
                      for _ in range(3)]
            key = f"{'graph' if graph else 'eager'}/{'bf16' if autocast else 'fp32'}/{'cl' if cl else 'nchw'}"
            row[key] = round(statistics.median(rounds))
        print(json.dumps({"model": name, "batch_size": args.batch_size, "samples_per_second": row}),
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
