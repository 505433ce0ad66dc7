"""Opt-in timings of script runs, stage by stage: where a rerun's milliseconds go.

    MNIST_STUDIO_TIMINGS=test-output/timings.jsonl streamlit run streamlit_app.py

Off by default (then every call here is a no-op). With the variable set to a file
path, each script run appends one JSON line to that file; set to 1, the same line
goes to the server log (logger "mnist_studio", level WARNING, so Streamlit's
default log level shows it). A line:

    {"run": "app", "page": "classify", "start": <epoch s>, "total_ms": 41.2,
     "stages": [["page", 3.1, 39.8], ...], "marks": [["canvas", 12.5, false, 912], ...],
     "counts": {"model answer": 1, ...}, "values": {"model_ms": 2.9, ...},
     "torch": [false, true]}

Stage start and end, and marks, are ms since the run's start, which is the first
line of the entry script (or of a fragment): Streamlit's own work before that
(the widget states arriving, callbacks) and after the run's last line (the
"finished" message) is not counted. A mark also says whether torch was imported
by then and how many modules were; "torch" says it for the run's start and end.
Counts say how often the run did an expensive thing (a model answer, a preprocessing, a
figure built): tests check that a stroke's rerun builds nothing twice and nothing that
did not change. Values are numbers measured elsewhere (the model's own time).
tests/e2e and bench/app_latency.py read the file.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

ENV = "MNIST_STUDIO_TIMINGS"

log = logging.getLogger("mnist_studio")
T = TypeVar("T")
_local = threading.local()  # Streamlit runs each script run in a thread of its own
_write_lock = threading.Lock()


def destination() -> str | None:
    """Where the lines go: a file path, "1" (the server log), or None (off)."""
    return os.environ.get(ENV) or None


def _record() -> dict[str, Any] | None:
    return getattr(_local, "record", None)


@contextmanager
def script_run(name: str) -> Iterator[None]:
    """Around a whole script run (the entry script's body, a fragment's body)."""
    if destination() is None or _record() is not None:  # off, or already inside a run
        yield
        return
    record = {"run": name, "page": None, "start": time.time(), "stages": [], "marks": [],
              "counts": {}, "values": {}, "torch": ["torch" in sys.modules]}
    _local.record, _local.t0 = record, time.perf_counter()
    try:
        yield  # st.stop() and st.rerun() end a run by an exception: still recorded
    finally:
        record["total_ms"] = _ms()
        record["torch"].append("torch" in sys.modules)
        _local.record = None
        _write(record)


def _ms() -> float:
    return round((time.perf_counter() - _local.t0) * 1000, 2)


def recorded(name: str, func: Callable[..., T]) -> Callable[..., T]:
    """`func` recorded as a script run named `name` when it runs on its own (a fragment's
    rerun); inside another run it is a part of that run."""
    @functools.wraps(func)
    def run(*args, **kwargs) -> T:
        with script_run(name):
            return func(*args, **kwargs)

    return run


@contextmanager
def stage(name: str) -> Iterator[None]:
    """`with stage("classify"):` records the block's start and end in this run."""
    record = _record()
    if record is None:
        yield
        return
    start = _ms()
    try:
        yield
    finally:
        record["stages"].append([name, start, _ms()])


def mark(name: str) -> None:
    """A moment of this run (e.g. "prediction": its element has been sent)."""
    record = _record()
    if record is not None:
        record["marks"].append([name, _ms(), "torch" in sys.modules, len(sys.modules)])


def count(name: str, n: int = 1) -> None:
    """This run did `name` (once, or n times)."""
    record = _record()
    if record is not None:
        record["counts"][name] = record["counts"].get(name, 0) + n


def value(name: str, number: float) -> None:
    """A number of this run measured elsewhere (the model's time in its batch)."""
    record = _record()
    if record is not None:
        record["values"][name] = round(float(number), 3)


def set_page(name: str) -> None:
    record = _record()
    if record is not None:
        record["page"] = name


def _write(record: dict[str, Any]) -> None:
    line = json.dumps(record)
    where = destination()
    if where == "1":
        log.warning("timings %s", line)
        return
    try:
        with _write_lock, open(where, "a") as out:
            out.write(line + "\n")
    except OSError as err:  # timings must never break the app
        log.warning("cannot write timings to %s: %s", where, err)


def read(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a timings file, oldest first ([] when there is none yet)."""
    try:
        with open(path) as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        return []
