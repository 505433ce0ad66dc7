"""Get the datasets onto this machine: download what is missing, verify everything.

The files are fetched by torchvision's own machinery (the dataset class's
`mirrors` and `resources`, `download_and_extract_archive`, which shows a tqdm
bar on stderr); we add the checks torchvision does not make: the MD5 of each
uncompressed IDX file (the checksums published with the data, below), a named
report of a corrupt file, and a fast failure without a network (torchvision's
own download would wait on the OS's connect timeout, minutes on some machines).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from core.data import DATASETS, DataMissingError, missing_message, data_root, get_spec

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# MD5 of the uncompressed IDX files (the official releases; see the data folder's README).
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
CONNECT_TIMEOUT_S = 3.0

Progress = Callable[[float, str], None]  # (fraction 0..1, what is happening)


class DataCorruptError(DataMissingError):
    """A dataset file is on disk but its checksum is wrong."""


@dataclass(frozen=True)
class FileStatus:
    name: str
    path: Path
    state: str  # "ok", "missing" or "corrupt"


@dataclass(frozen=True)
class DownloadResult:
    dataset: str
    folder: Path  # the raw/ folder holding the four files
    downloaded: tuple[str, ...]  # files fetched now; empty when all were already there

    @property
    def already_present(self) -> bool:
        return not self.downloaded


def raw_folder(name: str, root: str | os.PathLike | None = None) -> Path:
    return data_root(root) / get_spec(name).folder / "raw"


def _md5(path: Path) -> str:
    # torchvision: seconds of import (with torch) that a page offering Download need not pay
    from torchvision.datasets.utils import calculate_md5
    return calculate_md5(str(path))


def verify(name: str, root: str | os.PathLike | None = None) -> list[FileStatus]:
    """Each of the dataset's four files: there and intact, missing, or corrupt."""
    folder = raw_folder(name, root)
    out = []
    for file in FILES:
        path = folder / file
        if not path.is_file():
            state = "missing"
        else:
            state = "ok" if _md5(path) == CHECKSUMS[name][file] else "corrupt"
        out.append(FileStatus(file, path, state))
    return out


def _corrupt_error(name: str, corrupt: list[FileStatus]) -> DataCorruptError:
    listing = ", ".join(str(s.path) for s in corrupt)
    return DataCorruptError(
        f"{get_spec(name).title}: wrong checksum (damaged or a different file): {listing}. "
        "Delete it and download again.", dataset=name)


def _reachable_mirrors(mirrors: list[str]) -> list[str]:
    """The mirrors that accept a connection within CONNECT_TIMEOUT_S, in order."""
    reachable = []
    for mirror in mirrors:
        parts = urlsplit(mirror)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
        except OSError:
            continue
        reachable.append(mirror)
    return reachable


def download(name: str, root: str | os.PathLike | None = None,
             progress: Progress | None = None) -> DownloadResult:
    """Make the dataset's four files present and verified under the data root.

    Files that are already there and verify are kept (nothing is downloaded when all
    are). A corrupt file is never overwritten: it is named in a DataCorruptError.
    Without a network: DataMissingError with the usual "not found" message, fast.
    """
    spec = get_spec(name)
    report = progress or (lambda fraction, text: None)
    report(0.0, f"Checking {spec.title}")
    status = verify(name, root)
    corrupt = [s for s in status if s.state == "corrupt"]
    if corrupt:
        raise _corrupt_error(name, corrupt)
    missing = [s.name for s in status if s.state == "missing"]
    folder = raw_folder(name, root)
    if not missing:
        report(1.0, f"{spec.title}: all {len(FILES)} files present and verified")
        return DownloadResult(name, folder, ())
    cls = spec.torchvision_class
    mirrors = _reachable_mirrors(list(cls.mirrors))
    if not mirrors:
        hosts = ", ".join(urlsplit(m).hostname or m for m in cls.mirrors)
        raise DataMissingError(
            missing_message(spec, data_root(root)) + f" Download failed: no network "
            f"({hosts} did not answer within {CONNECT_TIMEOUT_S:g} s).", dataset=name)
    from torchvision.datasets.utils import download_and_extract_archive  # as above

    archives = dict(cls.resources)  # "train-images-idx3-ubyte.gz" -> MD5 of the .gz
    folder.mkdir(parents=True, exist_ok=True)
    for i, file in enumerate(missing):
        report(i / len(missing), f"Downloading {file} ({i + 1} of {len(missing)})")
        archive = f"{file}.gz"
        errors = []
        for mirror in mirrors:
            try:
                download_and_extract_archive(mirror + archive, download_root=str(folder),
                                             filename=archive, md5=archives[archive],
                                             remove_finished=True)
                break
            except Exception as err:  # URLError, socket timeout, torchvision's MD5 check
                errors.append(f"{mirror}: {err}")
        else:
            raise DataMissingError(missing_message(spec, data_root(root))
                                   + f" Download of {archive} failed: {'; '.join(errors)}",
                                   dataset=name)
    corrupt = [s for s in verify(name, root) if s.state != "ok"]
    if corrupt:
        raise _corrupt_error(name, corrupt)
    report(1.0, f"{spec.title}: downloaded {len(missing)} file(s), all verified")
    return DownloadResult(name, folder, tuple(missing))


def dataset_names(choice: str) -> list[str]:
    """'all' -> every dataset; else the one named."""
    return list(DATASETS) if choice == "all" else [get_spec(choice).name]
