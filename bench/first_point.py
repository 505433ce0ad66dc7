"""Time to the first point: from Start to the first point of the live loss chart, on a warm
server, and where that time goes.

    python -m bench.first_point [--device cpu|cuda] [--model fastcnn] [--repeats 3]

End to end: a run submitted through RunService exactly as the Train page's Start does
(the scheduler claims it, a worker process forks from the scheduler's warm forkserver, trains,
and flushes its first step into the store); timed until the store holds a step, which is
what the page's live chart draws. The first run of a fresh runner is reported apart
(the forkserver is started and imports torch then): "warm server" means the later ones.

The split: the same work as a worker does, phase by phase, in a process forked from one
that has imported the trainer (as the forkserver has): CUDA init, loading the data,
model and data to the device, the first step (the graph's warm-up and capture included
on CUDA), and the first read of the loss.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

import torch

from core.data import load_bundle
from core.machine.device import pick_device
from core.runs.api import RunService
from core.server.visitors import Viewer
from core.train.config import TrainConfig
from core.train.loop import train


def end_to_end(device: str, model: str, repeats: int) -> dict:
    me = Viewer("v:bench", admin=True)
    times, claims = [], []
    with tempfile.TemporaryDirectory() as runs:
        service = RunService(Path(runs))
        try:
            for i in range(repeats + 1):  # the first warms the scheduler's forkserver
                cfg = TrainConfig(dataset="mnist", model=model, epochs=1, device=device, seed=i)
                t0 = time.perf_counter()
                run = service.submit(cfg, me)
                view = service.wait(run.id, me, until=lambda r: r.step >= 1, timeout=120, poll=0.01)
                times.append(time.perf_counter() - t0)
                record = service.db.get(run.id)
                claims.append((record.started_at or 0) - (record.queued_at or 0))
                service.stop(run.id, me)
                service.wait(run.id, me, timeout=300)
                del view
        finally:
            service.shutdown()
    return {"first_run_seconds": round(times[0], 3), "warm_seconds": [round(t, 3) for t in times[1:]],
            "warm_median_seconds": round(statistics.median(times[1:]), 3),
            "queue_to_claim_seconds": round(statistics.median(claims[1:]), 3)}


def _phases(device: str, model: str, queue) -> None:
    marks = {"forked": time.perf_counter()}
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.zeros(1, device=dev)
        torch.cuda.synchronize()
    marks["device ready (CUDA init)"] = time.perf_counter()
    data = load_bundle("mnist")
    marks["data loaded (from disk)"] = time.perf_counter()
    cfg = TrainConfig(dataset="mnist", model=model, epochs=1, device=device)
    stop = []

    def on_event(e) -> None:
        if e.kind == "step" and not stop:
            marks["first loss read"] = time.perf_counter()
            stop.append(True)
    result = train(cfg, data, on_event, should_stop=lambda: bool(stop))
    marks["run ended"] = time.perf_counter()
    queue.put({"marks": marks, "setup_seconds": result.setup_seconds, "step_mode": result.step_mode})


def split(device: str, model: str) -> dict:
    import torchvision.datasets  # noqa: F401

    import core.train.loop  # noqa: F401  (what the forkserver preloads)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    t0 = time.perf_counter()
    proc = ctx.Process(target=_phases, args=(device, model, queue))
    proc.start()
    out = queue.get(timeout=60)
    proc.join()
    marks, prev, rows = out["marks"], t0, {}
    for name, t in marks.items():
        rows[name] = round(t - prev, 3)
        prev = t
    rows["of which graph warm-up and capture"] = round(out["setup_seconds"], 3)
    return {"phases_seconds": rows, "step_mode": out["step_mode"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.first_point", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--model", default="fastcnn")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    # The split first: a process that has not yet touched CUDA can fork.
    out = {"device": args.device, "model": args.model, "split": split(args.device, args.model),
           "end_to_end": end_to_end(args.device, args.model, args.repeats)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
