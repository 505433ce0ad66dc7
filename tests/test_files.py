"""core.machine.files.atomic_write: a file is replaced whole or not at all."""
from __future__ import annotations

import pytest

from core.machine.files import atomic_write


def test_writes_bytes_or_through_a_function_creating_folders(tmp_path):
    path = atomic_write(tmp_path / "a" / "b.bin", b"hello")
    assert path == tmp_path / "a" / "b.bin" and path.read_bytes() == b"hello"
    atomic_write(path, lambda f: f.write(b"again"))
    assert path.read_bytes() == b"again"
    assert [p.name for p in path.parent.iterdir()] == ["b.bin"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
