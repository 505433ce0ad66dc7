"""The embedding map: a split's penultimate-layer features, projected to 2-D by PCA.

The features are the input of the model's last nn.Linear (the logits layer):
what the classifier draws its ten linear boundaries in. PCA keeps the two
directions of largest variance; it is exact and deterministic, needs no new
dependency, and takes a second on 10,000 x 512 features.

A map costs a pass over the test set, so it is kept on disk under the same
key as the evaluation cache (the checkpoint's bytes, the split's bytes and
the normalisation): core.evaluate.predictions.evaluation_key. A checkpoint may ship its
map beside it, in embeddings/<stem>.npz (weights/embeddings/ for the default models,
written by scripts/ship_insights.py: the coordinates as float16, a plot's precision,
and the key they were made with): it is read first.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from core.data import Split, normalize
from core.evaluate.predictions import cache_dir, evaluation_key, file_digest, split_digest
from core.machine.files import atomic_write
from core.networks.models import device_of, evaluating

FOLDER = "embeddings"


@dataclass
class Embedding:
    coords: np.ndarray  # (N, 2) float32: the first two principal components
    explained: np.ndarray  # (2,) float: the share of the features' variance each keeps
    labels: np.ndarray  # (N,) int64: true classes


def last_linear(model: nn.Module) -> nn.Linear:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the model has no nn.Linear layer: no penultimate features")
    return linears[-1]


@torch.inference_mode()
def penultimate_features(model: nn.Module, split: Split, mean: float, std: float,
                         batch_size: int = 1000,
                         progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(N, D) float32: the input of the last nn.Linear for every image of the split;
    `progress(done, N)` after each batch.

    A forward pre-hook catches it; it records only this thread's passes, since
    the app's models are shared by its sessions.
    """
    caller, batches = threading.get_ident(), []

    def record(_module, inputs) -> None:
        if threading.get_ident() == caller:
            batches.append(inputs[0].detach().float().cpu())

    handle = last_linear(model).register_forward_pre_hook(record)
    try:
        with evaluating(model):
            device = device_of(model)
            for i in range(0, len(split), batch_size):
                model(normalize(split.images[i:i + batch_size].to(device), mean, std))
                if progress is not None:
                    progress(min(i + batch_size, len(split)), len(split))
    finally:
        handle.remove()
    if not batches:
        return np.zeros((0, last_linear(model).in_features), np.float32)
    return torch.cat(batches).reshape(len(split), -1).numpy()


def pca_2d(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coords (N, 2) float32, explained variance ratios (2,)).

    Eigenvectors of the D x D covariance (cheaper than an SVD of N x D). An
    eigenvector's sign is arbitrary, so each is turned to make its largest
    loading positive (as scikit-learn does): the same features give the same map.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need (N >= 2, D) features, got shape {x.shape}")
    x = x - x.mean(axis=0)
    cov = x.T @ x / (len(x) - 1)
    values, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(values)[::-1][:2]
    top = vectors[:, order]
    if top.shape[1] < 2:  # one feature: the second axis is flat
        top = np.pad(top, ((0, 0), (0, 2 - top.shape[1])))
    signs = np.sign(top[np.abs(top).argmax(axis=0), range(top.shape[1])])
    top = top * np.where(signs == 0, 1.0, signs)
    total = values.clip(min=0).sum()
    explained = np.array([values[i] / total if total > 0 else 0.0 for i in order] + [0.0] * 2)[:2]
    return (x @ top).astype(np.float32), explained


def embed(model: nn.Module, split: Split, mean: float, std: float,
          progress: Callable[[int, int], None] | None = None) -> Embedding:
    coords, explained = pca_2d(penultimate_features(model, split, mean, std,
                                                    progress=progress))
    return Embedding(coords, explained, split.labels.cpu().numpy().astype(np.int64))


def embedding_path(checkpoint: str | os.PathLike, split: Split, mean: float, std: float,
                   folder: str | os.PathLike | None = None) -> Path:
    return cache_dir(folder) / FOLDER / f"{evaluation_key(checkpoint, split, mean, std)}.npz"


def shipped_path(checkpoint: str | os.PathLike) -> Path:
    """Where a checkpoint's shipped map lives: embeddings/<stem>.npz beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent / FOLDER / f"{checkpoint.stem}.npz"


def _key(checkpoint: str | os.PathLike, split: Split, mean: float, std: float) -> dict[str, str]:
    return {"checkpoint_sha1": file_digest(checkpoint), "split_sha1": split_digest(split),
            "normalization": repr((float(mean), float(std)))}


def write_shipped(checkpoint: str | os.PathLike, emb: Embedding, split: Split, mean: float,
                  std: float) -> Path:
    """Write the map beside the checkpoint, with the key it was made with."""
    path = shipped_path(checkpoint)
    keys = {k: np.str_(v) for k, v in _key(checkpoint, split, mean, std).items()}
    atomic_write(path, lambda f: np.savez_compressed(
        f, coords=emb.coords.astype(np.float16), explained=emb.explained, **keys))
    return path


def read_shipped(checkpoint: str | os.PathLike, split: Split, mean: float,
                 std: float) -> Embedding | None:
    """The map shipped beside the checkpoint when it is this checkpoint's on this split."""
    try:
        with np.load(shipped_path(checkpoint)) as saved:
            stored = {k: str(saved[k]) for k in ("checkpoint_sha1", "split_sha1", "normalization")}
            coords, explained = saved["coords"].astype(np.float32), saved["explained"]
    except (OSError, ValueError, KeyError):
        return None
    if coords.shape != (len(split), 2) or stored != _key(checkpoint, split, mean, std):
        return None
    return Embedding(coords, explained, split.labels.cpu().numpy().astype(np.int64))


def embedding_if_known(checkpoint: str | os.PathLike, split: Split, mean: float, std: float,
                       folder: str | os.PathLike | None = None) -> Embedding | None:
    """The shipped or cached map, without a pass of the model; None when there is none."""
    shipped = read_shipped(checkpoint, split, mean, std)
    if shipped is not None:
        return shipped
    try:
        with np.load(embedding_path(checkpoint, split, mean, std, folder)) as saved:
            coords, explained = saved["coords"], saved["explained"]
    except (OSError, ValueError, KeyError):
        return None  # none, or damaged: compute again
    if coords.shape != (len(split), 2):
        return None
    return Embedding(coords, explained, split.labels.cpu().numpy().astype(np.int64))


def embedding_cached(model: nn.Module, checkpoint: str | os.PathLike, split: Split, mean: float,
                     std: float, folder: str | os.PathLike | None = None,
                     progress: Callable[[int, int], None] | None = None) -> Embedding:
    """embed(), computed once per checkpoint and split, then read from the cache folder
    (or shipped beside the checkpoint). A damaged file is computed again; an unwritable
    folder only costs the speed-up."""
    known = embedding_if_known(checkpoint, split, mean, std, folder)
    if known is not None:
        return known
    result = embed(model, split, mean, std, progress)
    try:
        atomic_write(embedding_path(checkpoint, split, mean, std, folder),
                     lambda f: np.savez(f, coords=result.coords, explained=result.explained))
    except OSError:
        pass
    return result
