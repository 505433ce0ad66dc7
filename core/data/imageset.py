"""Labelled 28x28 image sets as files: the `.npz` the fine-tune reads, and IDX like MNIST's.

An `.npz` holds `images`, (N, 28, 28) uint8, ink bright on dark as the app keeps
them, and `labels`, (N,) integers. The IDX pair is the format MNIST itself ships
in (magic 0x803 for images, 0x801 for labels, big-endian sizes), so torchvision's
own readers (torchvision.datasets.mnist.read_image_file / read_label_file) and
any MNIST loader read it. No Streamlit, no torch here.
"""
from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

SIDE = 28
IDX_IMAGES = "handwriting-images-idx3-ubyte"
IDX_LABELS = "handwriting-labels-idx1-ubyte"


class ImageSetError(ValueError):
    """A file that is not a labelled image set; the message says what is wrong."""


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64

    def __post_init__(self) -> None:
        check(self.images, self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self, classes: int = 10) -> list[int]:
        return np.bincount(self.labels, minlength=classes)[:classes].tolist()


def check(images: np.ndarray, labels: np.ndarray, classes: int = 10) -> None:
    """Raise ImageSetError unless images are (N, 28, 28) uint8 and labels (N,) in 0..classes-1."""
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise ImageSetError(f"images must be (N, 28, 28), got {tuple(images.shape)}")
    if images.dtype != np.uint8:
        raise ImageSetError(f"images must be uint8 (0-255, ink bright on dark), got {images.dtype}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ImageSetError(f"labels must be (N,) = ({len(images)},), got {tuple(labels.shape)}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ImageSetError(f"labels must be integers, got {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise ImageSetError(f"labels must be between 0 and {classes - 1}, got "
                            f"{int(labels.min())}..{int(labels.max())}")


def npz_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    check(images, labels)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels.astype(np.int64))
    return buf.getvalue()


def read_npz(source: str | Path | BinaryIO | bytes) -> ImageSet:
    """An `.npz` with `images` and `labels`; ImageSetError says what is wrong with others."""
    name = source if isinstance(source, (str, Path)) else "the file"
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        with np.load(source, allow_pickle=False) as z:
            missing = [k for k in ("images", "labels") if k not in z.files]
            if missing:
                raise ImageSetError(f"{name} has no {' or '.join(missing)} array (it has: "
                                    f"{', '.join(z.files) or 'nothing'})")
            images, labels = z["images"], z["labels"]
    except FileNotFoundError:
        raise ImageSetError(f"{name} not found") from None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        if isinstance(err, ImageSetError):
            raise
        raise ImageSetError(f"{name} is not an .npz file with images and labels") from None
    return ImageSet(images, labels.astype(np.int64))


def idx_images(images: np.ndarray) -> bytes:
    """IDX3: magic 0x00000803, then N, 28, 28 as big-endian uint32, then the pixels."""
    return struct.pack(">IIII", 0x803, len(images), SIDE, SIDE) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    """IDX1: magic 0x00000801, then N, then one unsigned byte per label."""
    return struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()


def idx_zip(images: np.ndarray, labels: np.ndarray) -> bytes:
    """A zip of the two IDX files, named like MNIST's."""
    check(images, labels)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(IDX_IMAGES, idx_images(images))
        z.writestr(IDX_LABELS, idx_labels(labels))
    return buf.getvalue()
