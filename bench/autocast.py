"""bf16 autocast against fp32 on this CPU, per architecture, side by side in one process.

    python -m bench.autocast [--models cnn fastcnn resnet ffnn] [--rounds 3] [--seconds 2]

Times the trainer's own eager step (core/train/step.py) at batch 256 on random data in
channels_last, fused Adam, all cores, alternating fp32 and bf16 rounds; prints the
median samples/s of each and their ratio, and whether this CPU has bf16 in hardware
(core.machine.device.cpu_has_native_bf16) and what the trainer would choose.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from core.machine.device import configure_threads, cpu_has_native_bf16, use_bf16_autocast
from core.networks.models import build_model
from core.train.config import TrainConfig
from core.train.loop import uses_conv
from core.train.optim import make_optimizer, make_scheduler
from core.train.step import EagerStep, StepInputs


def samples_per_second(name: str, autocast: bool, seconds: float, batch_size: int = 256) -> float:
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    model = build_model(name)
    fmt = torch.channels_last if uses_conv(model) else torch.contiguous_format
    model = model.to(memory_format=fmt)
    n = batch_size * 8
    x = torch.randn(n, 1, 28, 28).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (n,))
    cfg = TrainConfig(dataset="mnist", model=name, batch_size=batch_size, schedule="constant")
    opt = make_optimizer(cfg, model, cpu)
    step = EagerStep(model, opt, make_scheduler(cfg, opt, 1), StepInputs(x, y, batch_size, 0.0, autocast, None))
    batches = [torch.randint(0, n, (batch_size,)) for _ in range(8)]
    for i in range(3):  # warm-up
        step(batches[i])
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(batches[done % 8])
        done += 1
    return done * batch_size / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.autocast", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["cnn", "fastcnn", "resnet", "ffnn"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    args = p.parse_args(argv)
    threads = configure_threads(torch.device("cpu"))
    native = cpu_has_native_bf16()
    print(f"{threads} threads; bf16 in hardware: {native}; load average {os.getloadavg()[0]:.2f}")
    for name in args.models:
        runs = {False: [], True: []}
        for _ in range(args.rounds):
            for autocast in (False, True):
                runs[autocast].append(samples_per_second(name, autocast, args.seconds))
        fp32, bf16 = statistics.median(runs[False]), statistics.median(runs[True])
        chosen = use_bf16_autocast(torch.device("cpu"), name)
        print(json.dumps({"model": name, "fp32": round(fp32), "bf16": round(bf16),
                          "ratio": round(bf16 / fp32, 2), "trainer_uses_bf16": chosen,
                          "fp32_range": [round(min(runs[False])), round(max(runs[False]))],
                          "bf16_range": [round(min(runs[True])), round(max(runs[True]))]}),
              flush=True)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
