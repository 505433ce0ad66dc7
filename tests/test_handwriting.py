"""The handwriting set (core/data/handwriting.py): items round-trip, downloads re-read through
the real loaders, the cap, and one visitor's set is out of every other visitor's reach."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from torchvision.datasets.mnist import read_image_file, read_label_file

from core.data.handwriting import HandwritingSet, ItemNotFound, SetFull, visitor_folder
from core.machine.files import folder_bytes
from core.data.imageset import (IDX_IMAGES, IDX_LABELS, ImageSetError, idx_zip, npz_bytes,
                           read_npz)
from core.server.settings import load_settings


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


def test_items_round_trip(tmp_path):
    hw = HandwritingSet(tmp_path, "v:alice")
    a = hw.add(_image(1), 7, strokes='[{"type":"path"}]')
    b = hw.add(_image(2), 3)
    c = hw.add(_image(3), 7)
    assert [i.id for i in hw.items()] == [a.id, b.id, c.id]  # oldest first
    got = hw.get(a.id)
    assert got.label == 7 and got.strokes == '[{"type":"path"}]'
    assert np.array_equal(got.image, _image(1)) and got.image.dtype == np.uint8
    assert hw.counts() == [0, 0, 0, 1, 0, 0, 0, 2, 0, 0]
    assert hw.relabel(b.id, 8).label == 8 and hw.get(b.id).label == 8

    hw.delete(a.id)
    assert [i.id for i in hw.items()] == [b.id, c.id]
    with pytest.raises(ItemNotFound):
        hw.delete(a.id)
    assert folder_bytes(hw.folder) > 0 and hw.folder == visitor_folder(tmp_path, "v:alice")
    assert hw.clear() == 2
    assert len(hw) == 0 and hw.items() == [] and folder_bytes(hw.folder) == 0
    assert hw.arrays().images.shape == (0, 28, 28)


def test_downloads_read_back_through_the_real_loaders(tmp_path):
    hw = HandwritingSet(tmp_path, "v:alice")
    for n, label in enumerate([4, 0, 9, 4]):
        hw.add(_image(n), label)
    arrays = hw.arrays()

    back = read_npz(npz_bytes(arrays.images, arrays.labels))  # what finetune --images reads
    assert np.array_equal(back.images, arrays.images) and back.labels.tolist() == [4, 0, 9, 4]

    with zipfile.ZipFile(io.BytesIO(idx_zip(arrays.images, arrays.labels))) as z:
        z.extractall(tmp_path / "idx")
    images = read_image_file(str(tmp_path / "idx" / IDX_IMAGES))  # torchvision's MNIST reader
    labels = read_label_file(str(tmp_path / "idx" / IDX_LABELS))
    assert torch.equal(images, torch.from_numpy(arrays.images))
    assert labels.tolist() == [4, 0, 9, 4]


def test_another_visitor_cannot_see_use_or_delete_the_set(tmp_path):
    alice, mallory = HandwritingSet(tmp_path, "v:alice"), HandwritingSet(tmp_path, "v:mallory")
    item = alice.add(_image(1), 5)
    assert mallory.items() == [] and len(mallory.arrays()) == 0  # see, use: nothing
    for act in (lambda: mallory.delete(item.id), lambda: mallory.get(item.id),
                lambda: mallory.relabel(item.id, 1)):
        with pytest.raises(ItemNotFound):
            act()
    mallory.clear()  # clears only her own folder
    for trick in ("../" + alice.folder.name + "/" + item.id, str(alice.folder / item.id), ""):
        with pytest.raises(ItemNotFound):  # an id is never a path
            mallory.delete(trick)
    assert [i.id for i in alice.items()] == [item.id]


def test_the_cap_refuses_with_a_message_and_keeps_what_is_there(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_HANDWRITING_ITEMS", "2")
    cap = load_settings(tmp_path / "none.toml").handwriting_items
    hw = HandwritingSet(tmp_path, "v:alice", max_items=cap)
    hw.add(_image(1), 1)
    hw.add(_image(2), 2)
    with pytest.raises(SetFull, match="full \\(2 drawings"):
        hw.add(_image(3), 3)
    assert len(hw) == 2


@pytest.mark.parametrize("image, label, message", [
    (np.zeros((28, 28), np.float32), 1, "uint8"),
    (np.zeros((27, 28), np.uint8), 1, "28, 28"),
    (np.zeros((28, 28), np.uint8), 10, "between 0 and 9"),
])
def test_bad_items_are_refused_and_nothing_is_kept(tmp_path, image, label, message):
    hw = HandwritingSet(tmp_path, "v:alice")
    with pytest.raises(ImageSetError, match=message):
        hw.add(image, label)
    assert len(hw) == 0


def test_a_file_that_is_not_a_set_says_what_is_wrong(tmp_path):
    with pytest.raises(ImageSetError, match="not an .npz"):
        read_npz(b"hello")
    buf = io.BytesIO()
    np.savez(buf, pictures=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ImageSetError, match="no images or labels"):
        read_npz(buf.getvalue())
    with pytest.raises(ImageSetError, match="not found"):
        read_npz(tmp_path / "missing.npz")
