"""Processes found through /proc (no psutil needed): what a test or a benchmark started."""
from __future__ import annotations

import os
import time
from pathlib import Path


def _read(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:  # gone, or not ours
        return b""


def _alive(pid: int) -> bool:
    stat = _read(pid, "stat")
    return bool(stat) and stat.rsplit(b")", 1)[-1].split()[0] != b"Z"  # a zombie is dead


def pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children(pid: int) -> list[int]:
    out = []
    for p in pids():
        stat = _read(p, "stat")
        if stat and int(stat.rsplit(b")", 1)[-1].split()[1]) == pid and _alive(p):
            out.append(p)
    return out


def with_environment(name: str, value: str) -> list[int]:
    """Live processes (not this one) started with name=value in their environment:
    a scheduler, its forkserver and its workers inherit the test's MNIST_STUDIO_DATA."""
    needle = f"{name}={value}".encode()
    return [p for p in pids() if p != os.getpid() and _alive(p)
            and needle in _read(p, "environ").split(b"\0")]


def with_command(text: str) -> list[int]:
    return [p for p in pids() if p != os.getpid() and _alive(p)
            and text.encode() in _read(p, "cmdline").replace(b"\0", b" ")]


def wait_gone(find, timeout: float = 15.0) -> list[int]:
    """Poll `find()` until it returns nothing or the time is up; what is left."""
    deadline = time.monotonic() + timeout
    left = find()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = find()
    return left


def descendants(root: int) -> set[tuple[int, str]]:
    """(pid, start time) of every process below `root`, read from /proc (Linux)."""
    parent_of: dict[int, int] = {}
    started: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) "
        pid = int(entry.name)
        parent_of[pid], started[pid] = int(fields[1]), fields[19]
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parent_of.items() if ppid in frontier}
        found |= {(pid, started[pid]) for pid in frontier}
    return found
