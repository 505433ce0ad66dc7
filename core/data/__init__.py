"""The two datasets, loaded once per process as uint8 tensors held in memory.

Training never goes through a per-sample PIL pipeline: a split is one
(N, 28, 28) uint8 tensor plus an int64 label vector, and batches are sliced
out of it directly (see core.train).

torch is imported by the functions that use it, not here: the app's first page
reads DATASETS (names, classes, whether one can draw them) before it needs
torch, and importing torch is most of a cold start (about a second).

Beside this module (DatasetSpec, DATASETS, loading, the split, normalize):
    download.py     fetching the raw files (torchvision's mirrors, checksums)
    explore.py      class counts and samples for the Dataset explorer
    imageset.py     labelled 28x28 image sets as files (.npz, IDX)
    handwriting.py  a visitor's own labelled drawings, kept for them alone
    cli.py          `python -m core.data download` (__main__.py runs it)
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.machine.paths import ROOT, configured_dir

if TYPE_CHECKING:
    import torch

ENV_DATA_ROOT = "MNIST_STUDIO_DATA"
DEFAULT_DATA_ROOT = ROOT / "data"  # gitignored (/data/)

TRAIN_SIZE = 48_000
VAL_SIZE = 12_000
SPLIT_SEED = 0  # fixed: every run of the project sees the same validation images


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    classes: tuple[str, ...]
    mean: float  # training-pixel mean of pixels/255
    std: float
    torchvision_name: str  # class in torchvision.datasets
    folder: str  # where torchvision keeps it under the data root
    hflip_ok: bool  # horizontal flips preserve the label (garments yes, digits no)
    noun: str  # what one image shows: "Upload an image of a {noun}"
    drawable: bool  # people can draw one on the canvas (digits yes, garments no)
    # How the dataset's makers placed an object in its 28x28 frame; real inputs
    # (core.predict.preprocess) are made to look the same.
    box: int  # the longer side of the object's bounding box, in pixels
    centring: Literal["mass", "box"]  # centre of mass at (14, 14), or bounding box centred
    # After stretching the ink to 0..1, values below this become background:
    # paper texture, JPEG noise and shadows vanish, strokes stay.
    noise_floor: float
    # The typical stroke width in the 28x28 images: canvas strokes are thinned or
    # thickened to it (core.predict.strokes); None: strokes are left alone.
    stroke_width: float | None = None

    def __post_init__(self) -> None:
        assert len(self.classes) == 10
        assert self.centring in ("mass", "box") and 0 < self.box <= 28

    @property
    def torchvision_class(self) -> type:
        # Imported on first use: torchvision pulls in torch._dynamo, about a second
        # of the app's cold start, and the app's first page needs no dataset.
        from torchvision import datasets
        return getattr(datasets, self.torchvision_name)


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST digits",
        classes=tuple(str(i) for i in range(10)),
        mean=0.1307,
        std=0.3081,
        torchvision_name="MNIST",
        folder="MNIST",
        hflip_ok=False,
        noun="digit",
        drawable=True,
        box=20,
        centring="mass",
        noise_floor=0.2,
        # The median over 5,000 random training images (never validation or test) of
        # core.predict.strokes.stroke_width, measured on each image bilinearly
        # enlarged 4x, divided by 4: 1.75 px (10th percentile 1.25, 90th 2.75).
        # `python -m scripts.stroke_sizes --mnist-width` measures it again.
        stroke_width=1.75,
    ),
    "fashion": DatasetSpec(
        name="fashion",
        title="Fashion-MNIST garments",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        mean=0.2860,
        std=0.3530,
        torchvision_name="FashionMNIST",
        folder="FashionMNIST",
        hflip_ok=True,
        noun="garment",
        drawable=False,
        box=28,  # the longer side touches the frame
        centring="box",
        noise_floor=0.05,  # garments keep faint detail (Fashion-MNIST trimmed at 5%)
    ),
}


def normalize(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), the way every model was trained."""
    return ((images.float() / 255.0 - mean) / std).unsqueeze(1)


class DataMissingError(RuntimeError):
    """The dataset files are not on disk and could not be downloaded."""

    def __init__(self, message: str, dataset: str | None = None) -> None:
        super().__init__(message)
        self.dataset = dataset  # which one: the app offers to download it


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}") from None


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """Where the data lives: the argument, else $MNIST_STUDIO_DATA, else <repo>/data."""
    return configured_dir(explicit, ENV_DATA_ROOT, DEFAULT_DATA_ROOT)


@dataclass(frozen=True)
class Split:
    """One split of a dataset, whole, in memory."""
    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> "Split":
        return Split(self.images[index], self.labels[index])


_cache: dict[tuple[str, bool, Path], Split] = {}
_cache_lock = threading.Lock()


def _load_torchvision(spec: DatasetSpec, train: bool, root: Path, download: bool) -> Split:
    import torch  # here, not with DATASETS: see the module's docstring

    ds = spec.torchvision_class(str(root), train=train, download=download)
    return Split(ds.data.contiguous(), ds.targets.to(torch.int64).contiguous())


def load_split(name: str, train: bool, root: str | os.PathLike | None = None,
               download: bool = True) -> Split:
    """The official training set (train=True, 60k) or test set (train=False, 10k).

    Loaded through torchvision from the data root, once per process. When the
    files are missing it tries torchvision's download; without a network that
    fails and we raise DataMissingError naming the folder and the files.
    """
    spec = get_spec(name)
    root_path = data_root(root)
    key = (name, train, root_path)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        try:
            split = _load_torchvision(spec, train, root_path, download=False)
        except RuntimeError:
            if not download:
                raise DataMissingError(missing_message(spec, root_path), spec.name) from None
            try:
                split = _load_torchvision(spec, train, root_path, download=True)
            except Exception as err:  # URLError, socket errors, checksum errors...
                raise DataMissingError(
                    missing_message(spec, root_path) + f" Download failed: {err}",
                    spec.name) from None
        _cache[key] = split
        return split


def missing_message(spec: DatasetSpec, root: Path) -> str:
    raw = root / spec.folder / "raw"
    return (f"{spec.title} not found under {raw}. Put the four IDX files there "
            "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            f"t10k-labels-idx1-ubyte), or set {ENV_DATA_ROOT} to a folder that holds "
            f"{spec.folder}/raw/, or connect to the internet so torchvision can download it.")


def train_val_indices(n: int = TRAIN_SIZE + VAL_SIZE, val_size: int = VAL_SIZE,
                      seed: int = SPLIT_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic, disjoint split of range(n) into (train, validation) indices."""
    import torch  # here, not with DATASETS: see the module's docstring

    if not 0 < val_size < n:
        raise ValueError(f"val_size must be in (0, {n}), got {val_size}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


@dataclass(frozen=True)
class DataBundle:
    """Everything a training run needs: train / validation / test splits."""
    spec: DatasetSpec
    train: Split
    val: Split
    test: Split


def load_bundle(name: str, root: str | os.PathLike | None = None,
                download: bool = True) -> DataBundle:
    """Train (48k) and validation (12k) carved from the official training set, plus test."""
    full = load_split(name, train=True, root=root, download=download)
    val_size = VAL_SIZE if len(full) == TRAIN_SIZE + VAL_SIZE else max(1, len(full) // 5)
    train_idx, val_idx = train_val_indices(len(full), val_size)
    test = load_split(name, train=False, root=root, download=download)
    return DataBundle(get_spec(name), full.subset(train_idx), full.subset(val_idx), test)

