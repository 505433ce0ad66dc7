"""Each speed lever's effect on a training step, measured side by side in one process.

    python -m bench.levers --model cnn [--rounds 5] [--json]

Starts from the reference model as its source wrote it (bench.reference_loop's
`reference_model`) in torch's default layout with torch's own Adam, then turns on
our trainer's levers one at a time, cumulatively:

  channels_last   NHWC activations and weights, the layout oneDNN's convolutions want
  pool_first      conv -> max-pool -> ReLU: the same function, a quarter of the ReLU work
  fused_adam      Adam(fused=True): one kernel per step instead of ~10 ops per tensor
  cheap_dropout   core.networks.models.Dropout: the same mask distribution, drawn 2.6x faster
  batch_N         then every batch size in --batches: our best choice for this model

and last, with --trainer, core.train.loop.train itself for one epoch of real MNIST at
the best batch: the whole trainer (data indexing, seeding, events, the
per-epoch validation not counted) should be as fast as the bare step above it.

Each configuration trains on random tensors already in memory (as our trainer's
data is), so only the step is timed. Rounds alternate the configurations, so a
burst of machine noise hits all of them; the median round is reported with the
spread, and the load average before and after says how quiet the machine was.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench.reference_loop import reference_model, torch_dropout
from bench.throughput import ours
from core.machine.device import configure_threads
from core.networks.models import ARCHITECTURES, build_model
from core.train.loop import uses_conv


@dataclass(frozen=True)
class Levers:
    channels_last: bool = False
    pool_first: bool = False
    fused_adam: bool = False
    cheap_dropout: bool = False
    batch_size: int = 128


def _model(name: str, levers: Levers) -> tuple[nn.Module, torch.memory_format]:
    model = build_model(name) if levers.pool_first or name != "cnn" else reference_model(name)
    if not levers.cheap_dropout:
        model = torch_dropout(model)
    layout = (torch.channels_last if levers.channels_last and uses_conv(model)
              else torch.contiguous_format)
    return model.to(memory_format=layout), layout


def samples_per_second(name: str, levers: Levers, seconds: float) -> float:
    torch.manual_seed(0)
    model, layout = _model(name, levers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=levers.fused_adam)
    bs = levers.batch_size
    x = torch.randn(16 * bs, 1, 28, 28).contiguous(memory_format=layout)
    y = torch.randint(0, 10, (16 * bs,))

    def step(i: int) -> None:
        j = (i % 16) * bs
        loss = F.cross_entropy(model(x[j:j + bs]), y[j:j + bs])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()  # as our trainer does every CPU step

    for i in range(3):  # warm-up: oneDNN picks its kernels on the first calls
        step(i)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(steps)
        steps += 1
    return steps * bs / (time.perf_counter() - start)


def ladder(name: str, batches: list[int]) -> list[tuple[str, Levers]]:
    """The cumulative configurations, baseline first; levers that do not apply are skipped."""
    model = build_model(name)
    convolutional = uses_conv(model)
    has_dropout = any(isinstance(m, nn.Dropout) for m in model.modules())
    steps, lv = [("baseline", Levers())], Levers()
    for lever, applies in (("channels_last", convolutional), ("pool_first", name == "cnn"),
                           ("fused_adam", True), ("cheap_dropout", has_dropout)):
        if applies:
            lv = Levers(**{**lv.__dict__, lever: True})
            steps.append((lever, lv))
    for bs in batches:
        if bs != lv.batch_size:
            steps.append((f"batch_{bs}", Levers(**{**lv.__dict__, "batch_size": bs})))
    return steps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.levers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=list(ARCHITECTURES), required=True)
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--seconds", type=float, default=2.0, help="timed per configuration and round")
    p.add_argument("--batches", default="64,256,512", help="batch sizes tried after the levers")
    p.add_argument("--trainer", action="store_true",
                   help="also time our trainer on real MNIST ($MNIST_STUDIO_DATA) at the best batch")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)

    threads = configure_threads(torch.device("cpu"))
    configs = ladder(args.model, [int(b) for b in args.batches.split(",") if b])
    load_before = os.getloadavg()[0]
    rounds: dict[str, list[float]] = {label: [] for label, _ in configs}
    for _ in range(args.rounds):
        for label, levers in configs:
            rounds[label].append(samples_per_second(args.model, levers, args.seconds))
    base = statistics.median(rounds["baseline"])
    if args.trainer:
        label, best = max(configs, key=lambda c: statistics.median(rounds[c[0]]))
        configs.append(("our_trainer", best))
        rounds["our_trainer"] = [ours(args.model, "mnist", best.batch_size, "cpu", None)
                                 for _ in range(args.rounds)]
    load_after = os.getloadavg()[0]
    rows = [{"lever": label, "batch_size": lv.batch_size,
             "samples_per_second": round(statistics.median(rounds[label])),
             "min": round(min(rounds[label])), "max": round(max(rounds[label])),
             "vs_baseline": round(statistics.median(rounds[label]) / base, 2)}
            for label, lv in configs]
    out = {"model": args.model, "threads": threads, "rounds": args.rounds,
           "load_average": [round(load_before, 2), round(load_after, 2)], "rows": rows}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{args.model}: training step, {threads} threads, median of {args.rounds} alternating "
          f"rounds (load average {load_before:.2f} -> {load_after:.2f})")
    previous = base
    for row in rows:
        if row["lever"] == "our_trainer":
            print(f"  our trainer, real MNIST, batch {row['batch_size']}: "
                  f"{row['samples_per_second']:,} samples/s ({row['min']:,}-{row['max']:,})")
            continue
        step_gain = row["samples_per_second"] / previous
        name = "baseline" if row["lever"] == "baseline" else "+ " + row["lever"]
        print(f"  {name:<18} batch {row['batch_size']:<4} {row['samples_per_second']:>8,} "
              f"samples/s ({row['min']:,}-{row['max']:,})  x{row['vs_baseline']:.2f} of "
              f"baseline, x{step_gain:.2f} this step")
        if not row["lever"].startswith("batch_"):
            previous = row["samples_per_second"]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
