"""A visitor's own handwriting: the 28x28 inputs they labelled on Classify, kept for them alone.

Each visitor has one folder, <runs folder>/.handwriting/<hash of their id>/, and
each item is one small file in it (`<item id>.npz`: the image exactly as the
model saw it, uint8, ink bright on dark; its label; the canvas strokes as JSON
when it was drawn). One file per item: two tabs adding at once lose nothing,
and a visitor's bytes are that folder's size. The folder is found from the
visitor's id and nothing else, so no call can reach another visitor's items:
an item id from someone else's set is simply "not found" here.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.machine.files import atomic_write
from core.data.imageset import ImageSet, check

FOLDER = ".handwriting"  # hidden: the runs folder's listing of runs never sees it
CLASSES = 10
_ITEM_ID = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{6}$")  # what new_item_id makes, nothing else


class SetFull(RuntimeError):
    """The visitor's set holds as many items as this server allows."""


class ItemNotFound(KeyError):
    def __str__(self) -> str:
        return f"item {self.args[0]!r} not found in your set"


@dataclass(frozen=True)
class Item:
    id: str
    label: int
    image: np.ndarray  # (28, 28) uint8
    created: float
    strokes: str = ""  # the canvas's fabric.js objects as JSON, when it was drawn


def visitor_folder(runs_dir: str | os.PathLike, viewer_id: str) -> Path:
    """One folder per visitor, named by a hash (an id may hold '@' or '/')."""
    return Path(runs_dir) / FOLDER / hashlib.sha1(viewer_id.encode()).hexdigest()[:16]


def new_item_id() -> str:
    # Time first, so a listing by name is in the order items were added.
    return f"{time.time_ns():016x}-{secrets.token_hex(3)}"


class HandwritingSet:
    """One visitor's set. `max_items` caps it (core.server.settings: handwriting_items)."""

    def __init__(self, runs_dir: str | os.PathLike, viewer_id: str, max_items: int = 500) -> None:
        self.folder = visitor_folder(runs_dir, viewer_id)
        self.max_items = max_items

    def _path(self, item_id: str) -> Path:
        if not _ITEM_ID.match(item_id or ""):  # never a path: no '..', no '/'
            raise ItemNotFound(item_id)
        return self.folder / f"{item_id}.npz"

    def ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.npz") if _ITEM_ID.match(p.stem))

    def __len__(self) -> int:
        return len(self.ids())

    def add(self, image: np.ndarray, label: int, strokes: str = "") -> Item:
        """Keep one labelled image; SetFull when the set is at its cap."""
        image = np.asarray(image)
        check(image[None], np.array([label]), CLASSES)
        if len(self) >= self.max_items:
            raise SetFull(f"Your handwriting set is full ({self.max_items} drawings, this "
                          "server's limit). Delete some on the Your handwriting page to add more.")
        item = Item(new_item_id(), int(label), image.astype(np.uint8), time.time(), strokes)
        buf = io.BytesIO()
        np.savez_compressed(buf, image=item.image, label=np.int64(item.label),
                            created=np.float64(item.created), strokes=np.str_(strokes))
        atomic_write(self._path(item.id), buf.getvalue())
        return item

    def get(self, item_id: str) -> Item:
        path = self._path(item_id)
        try:
            with np.load(path, allow_pickle=False) as z:
                return Item(item_id, int(z["label"]), z["image"], float(z["created"]),
                            str(z["strokes"]))
        except FileNotFoundError:
            raise ItemNotFound(item_id) from None

    def items(self) -> list[Item]:
        """Every item, oldest first (one that vanished meanwhile is skipped)."""
        out = []
        for item_id in self.ids():
            try:
                out.append(self.get(item_id))
            except ItemNotFound:  # deleted from another tab while we listed
                continue
        return out

    def relabel(self, item_id: str, label: int) -> Item:
        """The same drawing under another label (a second click on Classify)."""
        old = self.get(item_id)
        check(old.image[None], np.array([label]), CLASSES)
        buf = io.BytesIO()
        np.savez_compressed(buf, image=old.image, label=np.int64(label),
                            created=np.float64(old.created), strokes=np.str_(old.strokes))
        atomic_write(self._path(item_id), buf.getvalue())
        return Item(old.id, int(label), old.image, old.created, old.strokes)

    def delete(self, item_id: str) -> None:
        try:
            self._path(item_id).unlink()
        except FileNotFoundError:
            raise ItemNotFound(item_id) from None

    def clear(self) -> int:
        """Delete every item; how many there were."""
        n = len(self)
        shutil.rmtree(self.folder, ignore_errors=True)
        return n

    def arrays(self) -> ImageSet:
        """The whole set as arrays, oldest first: what the downloads and the fine-tune read."""
        items = self.items()
        images = np.stack([i.image for i in items]) if items else np.zeros((0, 28, 28), np.uint8)
        return ImageSet(images, np.array([i.label for i in items], dtype=np.int64))

    def counts(self) -> list[int]:
        return self.arrays().counts(CLASSES)


def strokes_json(objects: list | None) -> str:
    """The canvas's strokes as compact JSON ('' when there are none)."""
    return json.dumps(objects, separators=(",", ":")) if objects else ""
