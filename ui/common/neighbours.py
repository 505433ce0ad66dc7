"""Nearest training images (core.predict.neighbours), for Classify and Mistakes.

A lazy expander: nothing is computed while it is closed. Open, it finds the k training
images nearest to the input in the model's features and says how many carry the model's
answer. A model whose training-set features are not on disk yet (a run's, an upload's,
a retrained default's) has them computed once, in a thread of their own, with a
progress bar: a stroke's rerun (Classify) ends the page's wait for them, not the work,
and the next run shows the same computation's progress.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from core.data import DATASETS, Split, data_root, load_bundle, normalize
from core.data.explore import enlarge
from core.machine.device import cpu_threads
from core.networks.catalog import ModelEntry
from core.networks.checkpoints import Checkpoint
from core.predict.neighbours import (K, FeatureIndex, Neighbours, feature_problem, neighbours,
                                     stored_index, training_index)
from ui.common.errors import show_error
from ui.common.loaders import load_model, run_service, use_one_thread

POLL_SECONDS = 0.3


@st.cache_resource(show_spinner=False, max_entries=4)
def _train_part(dataset: str, root: str) -> Split:
    """The 48,000 training images of the app's runs (never validation or test)."""
    return load_bundle(dataset, root, download=False).train


def train_part(dataset: str) -> Split:
    return _train_part(dataset, str(data_root()))


@st.cache_resource(show_spinner=False, max_entries=4)
def _stored(path: str, mtime_ns: int, size: int, dataset: str, root: str, mean: float,
            std: float) -> FeatureIndex:
    """The index from disk; LookupError (not cached) when it is not there yet."""
    index = stored_index(path, _train_part(dataset, root), mean, std)
    if index is None:
        raise LookupError(path)
    return index


@dataclass
class _Build:
    """One model's training-set features being computed in a thread of its own."""
    done: int = 0
    total: int = 0
    finished: bool = False
    error: Exception | None = None
    started: float = field(default_factory=time.monotonic)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total


_builds: dict[tuple, _Build] = {}
_builds_lock = threading.Lock()


def _compute(build: _Build, ckpt: Checkpoint, path: str, split: Split) -> None:
    # A pass over 48,000 images: worth every core, unless a training run needs them.
    torch.set_num_threads(1 if sum(run_service().busy()) else cpu_threads())
    try:
        training_index(ckpt.model, path, split, ckpt.meta.mean, ckpt.meta.std,
                       on_progress=build.progress)
    except Exception as err:  # shown by the page that waits for it
        build.error = err
    finally:
        build.finished = True


def _index(entry: ModelEntry, ckpt: Checkpoint) -> FeatureIndex | None:
    """The model's index, waiting (with a progress bar) while it is computed; None when
    the computation failed (said)."""
    stat = Path(entry.path).stat()
    key = (str(entry.path), stat.st_mtime_ns, stat.st_size, entry.dataset, str(data_root()),
           float(ckpt.meta.mean), float(ckpt.meta.std))
    try:
        return _stored(*key)
    except LookupError:
        pass
    with _builds_lock:
        build = _builds.get(key)
        if build is None:
            build = _builds[key] = _Build()
            threading.Thread(target=_compute, name="neighbour-features", daemon=True,
                             args=(build, ckpt, str(entry.path), train_part(entry.dataset))
                             ).start()
    bar = st.progress(0.0, text="Finding the training images' features…")
    while not build.finished:
        fraction = build.done / build.total if build.total else 0.0
        bar.progress(fraction, text=f"Computing this model's features of the {build.total or 0:,} "
                                    f"training images, once: {build.done:,} done "
                                    f"({time.monotonic() - build.started:.0f} s)")
        time.sleep(POLL_SECONDS)
    bar.empty()
    with _builds_lock:
        _builds.pop(key, None)  # done: from now on it is on disk (or failed: try again later)
    if build.error is not None:
        show_error(build.error)
        return None
    return _stored(*key)


def _headline(found: Neighbours, names: list[str], input_name: str) -> str:
    """"Your drawing sits among 6 × 4, 2 × 9: 6 of its 8 nearest training images carry
    its answer, 4." (bold where a person's eye should land)."""
    answer, k, agreeing = names[found.predicted], len(found.items), found.agreeing
    among = ", ".join(f"{count} × **{names[label]}**" for label, count in found.label_counts())
    if agreeing == k:
        share = f"**all {k}** of its nearest training images carry"
    elif agreeing == 0:
        share = f"**none** of its {k} nearest training images carries"
    else:
        share = f"**{agreeing} of its {k}** nearest training images carry"
    return (f"{input_name[0].upper() + input_name[1:]} sits among {among}: {share} its "
            f"answer, **{answer}**.")


def show(entry: ModelEntry, ckpt: Checkpoint, x: torch.Tensor, input_name: str,
         columns: int = 8) -> Neighbours | None:
    """The k nearest training images to the normalised input x (1, 1, 28, 28), with the
    line that says how many carry the model's answer; a word instead for a model without
    features of its own."""
    problem = feature_problem(ckpt.model)
    if problem is not None:
        st.info(f"No nearest training images for this model: {problem}.", icon=":material/info:")
        return None
    index = _index(entry, ckpt)
    if index is None:
        return None
    use_one_thread()
    found = neighbours(ckpt.model, index, x, K)
    names = list(DATASETS[entry.dataset].classes)
    st.markdown(_headline(found, names, input_name))
    images = train_part(entry.dataset).images
    for start in range(0, len(found.items), columns):
        row = st.columns(columns)
        for col, item in zip(row, found.items[start:start + columns]):
            col.image(enlarge(images[item.index].numpy(), 3), width="stretch")
            label = names[item.label]
            col.caption(f"**{label}** · {item.similarity:.3f}" if item.label == found.predicted
                        else f"{label} · {item.similarity:.3f}")
    st.caption(f"The {len(found.items)} of the {len(index):,} training images whose features "
               "(the input of the model's last layer) point most nearly the way the input's "
               "do; the number is that cosine similarity (1: the same direction). Bold: they "
               "carry the model's answer.")
    return found


def section(entry: ModelEntry, image: np.ndarray, input_name: str, key: str,
            columns: int = 8) -> None:
    """`show` for `image` (28x28 uint8, what the model sees) inside an expander that
    computes nothing while it is closed."""
    box = st.expander("Nearest training images: the examples this answer sits among",
                      icon=":material/grid_view:", key=f"{key}_open", on_change="rerun")
    if not box.open:
        return
    with box:
        try:
            ckpt = load_model(entry)
            x = normalize(torch.from_numpy(np.ascontiguousarray(image, dtype=np.uint8))[None],
                          ckpt.meta.mean, ckpt.meta.std)
            show(entry, ckpt, x, input_name, columns)
        except Exception as err:  # a damaged file or a model that cannot run: said, no trace
            show_error(err)
