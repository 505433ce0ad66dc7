"""Long computations that outlive the page that asked for them, with their progress.

A page that needs a minute of work (an attack over 1,000 images, a pass over the test
set) starts a Task here instead of blocking its script run behind a spinner: the work
runs in a thread of the server process, reports how many items it has done, and keeps
its result. Any session that asks for the same key gets the same task, so a visitor who
leaves the page and comes back (or a second visitor) finds it running, or done, and never
starts it twice. No Streamlit here: the pages poll a task's progress (ui/common/progress.py).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

Progress = Callable[[int, int], None]  # (items done, items in all)


@dataclass
class Task:
    """One computation: its progress while it runs, then its result or its error."""
    key: str
    total: int  # items to do, as first announced (the work may correct it)
    done: int = 0
    result: Any = None
    error: BaseException | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _over: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def succeeded(self) -> bool:
        return self.finished is not None and self.error is None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    def report(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def end(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.finished = result, error, time.monotonic()
        self._over.set()

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for the task to end; whether it has succeeded. A page waits
        a moment before it shows a bar: a small model's pass is over by then."""
        self._over.wait(seconds)
        return self.succeeded


class BackgroundTasks:
    """Tasks by key, one thread each; the newest `keep` finished ones are remembered."""

    def __init__(self, keep: int = 32) -> None:
        self.keep = keep
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Task | None:
        with self._lock:
            return self._tasks.get(key)

    def start(self, key: str, work: Callable[[Progress], Any], total: int) -> Task:
        """The task for `key`: the one running or done already, else a new one running
        `work(progress)` in a thread. A task that failed is started afresh."""
        with self._lock:
            task = self._tasks.get(key)
            if task is not None and task.error is None:
                return task
            task = self._tasks[key] = Task(key, total)
            self._tasks.move_to_end(key)
            self._forget_old()
        threading.Thread(target=self._run, args=(task, work), daemon=True,
                         name=f"background {key[:40]}").start()
        return task

    def _run(self, task: Task, work: Callable[[Progress], Any]) -> None:
        try:
            result = work(task.report)
        except Exception as err:  # kept for the page to show; the thread ends cleanly
            task.end(error=err)
        else:
            task.end(result)
        with self._lock:
            self._forget_old()

    def _forget_old(self) -> None:
        finished = [k for k, t in self._tasks.items() if not t.running]
        for key in finished[:max(0, len(finished) - self.keep)]:
            del self._tasks[key]
