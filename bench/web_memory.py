"""What the web process's memory holds, step by step: each thing the pages load, in the
order a visitor's first tour loads them, with the process's resident size after it.

    MNIST_STUDIO_DATA=/path/to/data python -m bench.web_memory [--dataset mnist]

One process, the app's own loaders (ui/common/loaders.py, outside a server): streamlit,
torch, the chart libraries, every model of the dataset, the test and training splits,
three models' test results, two embedding maps (computed, into a temporary cache),
then the heap trimmed (core.machine.memory). Prints, after each step, the resident
size (RSS) and how much of it is shared-clean (library code other processes map too),
private-dirty (this process's own) and the peak so far (what a step needed at once). The per-process figures of a running server
under load come from bench.serverload.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _memory() -> dict[str, int]:
    """This process's RSS, shared-clean and private-dirty MB (/proc/self/smaps_rollup)."""
    keys = {"Rss:": "rss", "Shared_Clean:": "shared clean", "Private_Dirty:": "private dirty"}
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key, *rest = line.split()
        if key in keys:
            out[keys[key]] = int(rest[0]) // 1024
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the highest RSS so far
            out["peak"] = int(line.split()[1]) // 1024
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.web_memory", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    args = p.parse_args(argv)
    os.environ["MNIST_STUDIO_CACHE"] = tempfile.mkdtemp(prefix="web-memory-")  # computed here
    rows = []

    def step(name: str) -> None:
        rows.append((name, _memory()))
        print(f"{name:45s} {rows[-1][1]}", flush=True)

    step("python")
    import streamlit  # noqa: F401  (each import measured in turn: the point of this script)
    step("streamlit")
    import torch  # noqa: F401
    step("torch")
    import ui.common.charts  # noqa: F401  (plotly, pandas)
    step("plotly and pandas (ui.common.charts)")
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime" warnings
    from core.evaluate.embedding import embedding_cached
    from core.machine.memory import trim_heap
    from core.networks.catalog import list_models
    from ui.common import loaders

    entries = list_models(args.dataset)
    for entry in entries:
        loaders.load_model(entry)
    step(f"{len(entries)} models")
    loaders.test_split(args.dataset)
    step("test split (and torchvision)")
    loaders.train_split(args.dataset)
    step("training split")
    for entry in entries[:3]:
        loaders.evaluation(entry)
    step("3 models' test results")
    split = loaders.test_split(args.dataset)
    for entry in entries[:2]:  # as the loader computes them, without its heap trim
        ckpt = loaders.load_model(entry)
        embedding_cached(ckpt.model, entry.path, split, ckpt.meta.mean, ckpt.meta.std)
    step("2 embedding maps computed")
    trim_heap()
    step("heap trimmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
