"""Everything slow, loaded once per process and shared by all sessions.

Checkpoints are cached by (path, mtime, size), so a retrained file is picked up
without restarting the app and an unchanged one is never read twice.
"""
from __future__ import annotations

import copy
from pathlib import Path

import streamlit as st
import torch

from core.networks.catalog import ModelEntry
from core.networks.checkpoints import Checkpoint, load_checkpoint
from core.predict.batching import Batcher
from core.predict.classify import warm_up
from core.data import Split, data_root, load_split
from core.machine.device import cpu_threads, describe_device, pick_device
from core.machine.memory import trim_heap
from core.evaluate.predictions import evaluate_cached
from core.evaluate.embedding import Embedding, embedding_cached
from core.evaluate.metrics import EvalResult
from core.evaluate.robust import DEFAULT_SAMPLES, RobustResult, cached_only, robust_cached
from core.runs.api import RunService, get_service


def _after_batch_work() -> None:
    """Back to one thread per request, and the heap's freed pages to the system: what a
    10,000-image pass allocated is not this process's to keep."""
    use_one_thread()
    trim_heap()


def use_one_thread() -> None:
    """Run this script thread's torch work (one image at a time) on one CPU thread.

    Measured on the 2-core machine while a trainer keeps both cores busy: a CNN
    forward pass takes 0.4 ms on one thread and ~50 ms on two (the second
    thread waits at every op's barrier for a core). torch's thread count is
    per thread here (OpenMP, MKL's local setting), so the trainer keeps its own.
    """
    torch.set_num_threads(1)


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = Path(path).stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@st.cache_resource(show_spinner=False, max_entries=32)
def _checkpoint(path: str, mtime_ns: int, size: int) -> Checkpoint:
    ckpt = load_checkpoint(path)
    warm_up(ckpt.model)
    return ckpt


def load_model(entry: ModelEntry) -> Checkpoint:
    """The model on the CPU in eval mode, shared (read-only) by every session."""
    return _checkpoint(*_stamp(entry.path))


@st.cache_resource(show_spinner=False, max_entries=32)
def _batcher(path: str, mtime_ns: int, size: int) -> Batcher:
    ckpt = _checkpoint(path, mtime_ns, size)
    return Batcher(ckpt.model, ckpt.meta.class_names)


def batcher(entry: ModelEntry) -> Batcher:
    """The model's batcher, shared by every session: the strokes that arrive within a few
    ms of each other, from any visitor, get one model call (core.predict.batching)."""
    return _batcher(*_stamp(entry.path))


@st.cache_resource(show_spinner=False, max_entries=8)
def _split(dataset: str, train: bool, root: str, download: bool) -> Split:
    return load_split(dataset, train=train, root=root, download=download)


def test_split(dataset: str, download: bool = False) -> Split:
    """The 10,000 test images. No download attempt unless asked: offline, a failed
    download on every rerun would make each rerun slow."""
    return _split(dataset, False, str(data_root()), download)


def train_split(dataset: str, download: bool = False) -> Split:
    return _split(dataset, True, str(data_root()), download)


@st.cache_resource(show_spinner=False, max_entries=16)
def _evaluation(path: str, mtime_ns: int, size: int, dataset: str, root: str) -> EvalResult:
    ckpt = _checkpoint(path, mtime_ns, size)
    split = _split(dataset, False, root, False)
    device = pick_device("auto")
    # The cached model is shared by all sessions and stays on the CPU; a GPU
    # evaluation works on a copy.
    model = ckpt.model if device.type == "cpu" else copy.deepcopy(ckpt.model).to(device)
    # 10,000 images: worth every core, unless a training run needs them.
    torch.set_num_threads(1 if sum(run_service().busy()) else cpu_threads())
    try:
        return evaluate_cached(model, path, split, ckpt.meta.mean, ckpt.meta.std, device)
    finally:
        _after_batch_work()


def evaluation(entry: ModelEntry) -> EvalResult:
    """The model's results on its dataset's test set (computed once, then cached on disk)."""
    return _evaluation(*_stamp(entry.path), entry.dataset, str(data_root()))


@st.cache_resource(show_spinner=False, max_entries=64)
def _robust(path: str, mtime_ns: int, size: int, dataset: str, root: str, eps: float
            ) -> RobustResult:
    ckpt = _checkpoint(path, mtime_ns, size)
    split = _split(dataset, False, root, False)
    torch.set_num_threads(1 if sum(run_service().busy()) else cpu_threads())
    try:  # on the CPU, on the shared model: PGD needs no copy (only the input gets a gradient)
        return robust_cached(ckpt.model, path, split, ckpt.meta.mean, ckpt.meta.std, eps,
                             samples=min(DEFAULT_SAMPLES, len(split)))
    finally:
        _after_batch_work()


def robust(entry: ModelEntry, eps: float) -> RobustResult:
    """Clean and PGD accuracy on the fixed test subset (core.evaluate.robust), computed
    once per model and budget, then read from the disk cache."""
    return _robust(*_stamp(entry.path), entry.dataset, str(data_root()), float(eps))


def robust_if_known(entry: ModelEntry, eps: float) -> RobustResult | None:
    """The cached result without computing anything; None when it was never computed."""
    ckpt, split = load_model(entry), test_split(entry.dataset)
    return cached_only(entry.path, split, ckpt.meta.mean, ckpt.meta.std, float(eps),
                       samples=min(DEFAULT_SAMPLES, len(split)))


@st.cache_resource(show_spinner=False, max_entries=16)
def _embedding(path: str, mtime_ns: int, size: int, dataset: str, root: str) -> Embedding:
    ckpt = _checkpoint(path, mtime_ns, size)
    split = _split(dataset, False, root, False)
    torch.set_num_threads(1 if sum(run_service().busy()) else cpu_threads())
    try:  # on the CPU: one pass of the (small) models, then the disk cache
        return embedding_cached(ckpt.model, path, split, ckpt.meta.mean, ckpt.meta.std)
    finally:
        _after_batch_work()


def embedding(entry: ModelEntry) -> Embedding:
    """The model's test-set embedding map (computed once, then cached on disk)."""
    return _embedding(*_stamp(entry.path), entry.dataset, str(data_root()))


@st.cache_resource(show_spinner=False)
def device_label() -> str:
    device = pick_device("auto")
    if device.type == "cpu":
        n = cpu_threads()  # cores, not threads: a run's own page names the threads it trains with
        return f"CPU ({n} core{'s' if n != 1 else ''})"
    return describe_device(device)


def run_service() -> RunService:
    """The run system of this app's runs folder ($MNIST_STUDIO_RUNS, else <repo>/runs)."""
    return get_service()
