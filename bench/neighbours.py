"""How long a "nearest training images" query takes on the CPU, for 48,000 and 60,000
training images, and what storing the features in float16 changes.

    MNIST_STUDIO_DATA=/path/to/data python -m bench.neighbours
    python -m bench.neighbours --model fashion-resnet.pt --queries 500
    python -m bench.neighbours --float16-effect          # + the rounding's effect (minutes)

One thread, as the app gives each visitor's script thread (ui.common.loaders
use_one_thread). The queries are test images (the first --queries of the test set),
each timed as the app answers it: the model's features of the input (one forward
pass) and the exact search over the stored float16 features (core.predict.neighbours).
48,000 is the app's index (the training part of the split, read from the shipped
file); 60,000 adds the features of the 12,000 validation images, computed here, to
time a search over the whole training file. Prints the median and the 90th
percentile of each, the thread's CPU time per query (what it costs a core of its
own: on a shared machine the wall time also waits for one), the index's size and
load time, and the machine's load.

--float16-effect computes the 48,000 features again in float32 and says how far
float16 moves a cosine, and how often it changes which images are the k nearest.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from core.data import load_bundle, load_split, normalize, train_val_indices
from core.evaluate.embedding import penultimate_features
from core.networks.catalog import weights_dir
from core.networks.checkpoints import load_checkpoint
from core.predict.neighbours import (K, FeatureIndex, compute_features, features_path,
                                     input_features, load_features, unit_rows)


def _ms(samples: list[float]) -> str:
    values = np.array(samples) * 1000
    return f"median {np.median(values):5.1f} ms, p90 {np.percentile(values, 90):5.1f} ms"


def _time_queries(model, index: FeatureIndex, queries: torch.Tensor) -> dict[str, list[float]]:
    """Wall time of each part, and the thread's CPU time of the whole query: on a busy
    machine the wall time includes waiting for a core, the CPU time does not."""
    times: dict[str, list[float]] = {"features": [], "search": [], "total": [], "cpu": []}
    for x in queries:
        cpu, start = time.thread_time(), time.perf_counter()
        features, _ = input_features(model, x[None])
        middle = time.perf_counter()
        index.nearest(features, K)
        end = time.perf_counter()
        times["cpu"].append(time.thread_time() - cpu)
        times["features"].append(middle - start)
        times["search"].append(end - middle)
        times["total"].append(end - start)
    return times


def _float16_effect(model, split, mean: float, std: float, stored: np.ndarray,
                    queries: torch.Tensor) -> None:
    print("float16 effect: computing the 48,000 features again in float32...", flush=True)
    exact = torch.from_numpy(unit_rows(penultimate_features(model, split, mean, std)))
    rounded = torch.from_numpy(stored.astype(np.float32))
    q = torch.stack([input_features(model, x[None])[0] for x in queries])
    q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-30)
    true, approx = q @ exact.T, q @ rounded.T
    top_true, top_approx = true.topk(K + 1, dim=1), approx.topk(K, dim=1)
    sets = [(set(a.tolist()), set(b.tolist()))
            for a, b in zip(top_true.indices[:, :K], top_approx.indices)]
    changed = sum(a != b for a, b in sets)
    swapped = max((len(b - a) for a, b in sets), default=0)
    # How much nearer than the worst image float16 picked is float32's k-th, in float32.
    worst = true.gather(1, top_approx.indices).min(dim=1).values
    deficit = (top_true.values[:, K - 1] - worst).max().item()
    gap = (top_true.values[:, K - 1] - top_true.values[:, K]).median().item()
    print(f"float16 effect: largest change of a cosine {(approx - true).abs().max().item():.2e} "
          f"(bound 2^-11 = {2 ** -11:.2e}); the {K} nearest differ from float32's in "
          f"{changed} of {len(queries)} queries, by at most {swapped} image(s), each at most "
          f"{deficit:.1e} farther (float32 cosine) than float32's {K}th; median gap between "
          f"the {K}th and {K + 1}th cosine {gap:.1e}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="mnist-resnet.pt", help="a shipped checkpoint's file name")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--float16-effect", action="store_true")
    args = p.parse_args(argv)
    path = weights_dir() / args.model
    ck = load_checkpoint(path)
    mean, std, dataset = ck.meta.mean, ck.meta.std, ck.meta.dataset
    train_part = load_bundle(dataset, download=False).train
    start = time.perf_counter()
    stored = load_features(features_path(path), path, train_part, mean, std)
    load_s = time.perf_counter() - start
    if stored is None:
        print(f"{features_path(path)} is missing or stale: run python -m scripts.ship_neighbours")
        return 1
    torch.set_num_threads(1)
    test = load_split(dataset, train=False, download=False)
    queries = normalize(test.images[:args.queries], mean, std)
    print(f"{args.model}: {len(stored):,} x {stored.shape[1]} float16 features, file "
          f"{features_path(path).stat().st_size / 2**20:.1f} MB (read and checked in "
          f"{load_s:.2f} s, SHA-1 of the checkpoint and the split included); "
          f"one thread, {len(queries)} test images as queries, load average "
          + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    index = FeatureIndex(stored, train_part.labels)
    _time_queries(ck.model, index, queries[:10])  # warm up
    for label, idx in (("48,000 (the app's)", index), ("60,000", None)):
        if idx is None:
            full = load_split(dataset, train=True, download=False)
            train_idx, val_idx = train_val_indices(len(full))
            torch.set_num_threads(os.cpu_count() or 1)
            rows = np.zeros((len(full), stored.shape[1]), np.float16)
            rows[train_idx.numpy()] = stored
            rows[val_idx.numpy()] = compute_features(ck.model, full.subset(val_idx), mean, std)
            torch.set_num_threads(1)
            idx = FeatureIndex(rows, full.labels)
        times = _time_queries(ck.model, idx, queries)
        print(f"{label:>19} training images: query {_ms(times['total'])} = features "
              f"{_ms(times['features'])} + search {_ms(times['search'])}; CPU time of a "
              f"query {_ms(times['cpu'])}", flush=True)
    if args.float16_effect:
        torch.set_num_threads(os.cpu_count() or 1)
        _float16_effect(ck.model, train_part, mean, std, stored, queries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
