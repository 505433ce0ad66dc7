"""Everything slow, loaded once per process and shared by all sessions.

Checkpoints are cached by (path, mtime, size), so a retrained file is picked up
without restarting the app and an unchanged one is never read twice. The computations
that take a minute (an attack, an embedding map) run as background tasks of the
process (core/machine/background.py): a page shows their progress, and a visitor who
leaves finds them running, or done, on return.
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
from core.evaluate.embedding import Embedding, embedding_cached, embedding_if_known
from core.evaluate.metrics import EvalResult
from core.evaluate.robust import DEFAULT_SAMPLES, RobustResult, cached_only, robust_cached
from core.machine.background import BackgroundTasks, Progress, Task
from core.runs.api import RunService, get_service


def use_one_thread() -> None:
    """Run this script thread's torch work (one image at a time) on one CPU thread.

    Measured on the 2-core machine while a trainer keeps both cores busy: a CNN
    forward pass takes 0.4 ms on one thread and ~50 ms on two (the second
    thread waits at every op's barrier for a core). torch's thread count is
    per thread here (OpenMP, MKL's local setting), so the trainer keeps its own.
    """
    torch.set_num_threads(1)


def _after_batch_work() -> None:
    """Back to one thread per request, and the heap's freed pages to the system: what a
    10,000-image pass allocated is not this process's to keep."""
    use_one_thread()
    trim_heap()


def _threads_for_a_pass() -> None:
    # A pass over thousands of images: worth every core, unless a training run needs them.
    # torch's thread count is per thread here: the calling thread's only.
    torch.set_num_threads(1 if sum(run_service().busy()) else cpu_threads())


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
    _threads_for_a_pass()
    try:
        return evaluate_cached(model, path, split, ckpt.meta.mean, ckpt.meta.std, device)
    finally:
        _after_batch_work()


def evaluation(entry: ModelEntry) -> EvalResult:
    """The model's results on its dataset's test set (computed once, then cached on disk)."""
    return _evaluation(*_stamp(entry.path), entry.dataset, str(data_root()))


@st.cache_resource(show_spinner=False)
def background() -> BackgroundTasks:
    """The process's background tasks, shared by every session."""
    return BackgroundTasks()




def _robust_key(entry: ModelEntry, eps: float) -> str:
    return "robust:" + repr((*_stamp(entry.path), entry.dataset, str(data_root()), float(eps)))


def robust_task(entry: ModelEntry, eps: float, start: bool = False) -> Task | None:
    """The attack on the fixed test subset (core.evaluate.robust) for this model and
    budget: the task running or done, a new one with `start`, else None."""
    key = _robust_key(entry, eps)
    if not start:
        return background().get(key)
    ckpt, split = load_model(entry), test_split(entry.dataset)
    samples = min(DEFAULT_SAMPLES, len(split))

    def work(progress: Progress) -> RobustResult:
        _threads_for_a_pass()  # on the CPU, on the shared model: PGD needs no copy (only
        # the input gets a gradient)
        try:
            return robust_cached(ckpt.model, entry.path, split, ckpt.meta.mean,
                                 ckpt.meta.std, float(eps), samples=samples, progress=progress)
        finally:
            trim_heap()
    return background().start(key, work, samples)


@st.cache_resource(show_spinner=False, max_entries=64)
def _known_robust(path: str, mtime_ns: int, size: int, dataset: str, root: str, eps: float
                  ) -> RobustResult:
    # Found once, kept (hashing the checkpoint and the images on every rerun costs ms);
    # LookupError while there is none: an exception is not cached, so it is asked again.
    ckpt, split = _checkpoint(path, mtime_ns, size), _split(dataset, False, root, False)
    found = cached_only(path, split, ckpt.meta.mean, ckpt.meta.std, eps,
                        samples=min(DEFAULT_SAMPLES, len(split)))
    if found is None:
        raise LookupError(path)
    return found


def robust_if_known(entry: ModelEntry, eps: float) -> RobustResult | None:
    """The shipped or cached result (or a finished task's) without computing anything;
    None when it was never computed."""
    try:
        return _known_robust(*_stamp(entry.path), entry.dataset, str(data_root()), float(eps))
    except LookupError:
        task = robust_task(entry, eps)
        return task.result if task is not None and task.succeeded else None


def _embedding_key(entry: ModelEntry) -> str:
    return "embedding:" + repr((*_stamp(entry.path), entry.dataset, str(data_root())))


@st.cache_resource(show_spinner=False, max_entries=16)
def _known_embedding(path: str, mtime_ns: int, size: int, dataset: str, root: str) -> Embedding:
    # As _known_robust: kept once found, asked again while there is none.
    ckpt, split = _checkpoint(path, mtime_ns, size), _split(dataset, False, root, False)
    found = embedding_if_known(path, split, ckpt.meta.mean, ckpt.meta.std)
    if found is None:
        raise LookupError(path)
    return found


def embedding_if_ready(entry: ModelEntry) -> Embedding | None:
    """The model's test-set embedding map when it is shipped, cached or just computed."""
    try:
        return _known_embedding(*_stamp(entry.path), entry.dataset, str(data_root()))
    except LookupError:
        task = background().get(_embedding_key(entry))
        return task.result if task is not None and task.succeeded else None


def embedding_task(entry: ModelEntry, start: bool = False) -> Task | None:
    """The map's computation (one pass over the test set, then PCA, then the test-set
    predictions the map marks its mistakes with): the task running or done, a new one
    with `start` (also after a failure), else None."""
    key = _embedding_key(entry)
    if not start:
        return background().get(key)
    ckpt, split = load_model(entry), test_split(entry.dataset)

    def work(progress: Progress) -> Embedding:
        _threads_for_a_pass()  # on the CPU: one pass of the (small) models, then the disk cache
        try:
            emb = embedding_cached(ckpt.model, entry.path, split, ckpt.meta.mean,
                                   ckpt.meta.std, progress=progress)
            evaluate_cached(ckpt.model, entry.path, split, ckpt.meta.mean, ckpt.meta.std)
        finally:
            trim_heap()
        return emb
    return background().start(key, work, len(split))


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
