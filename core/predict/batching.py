"""Micro-batching: the strokes of many visitors answered by one model call.

Each visitor's stroke is a script run in a thread of its own; alone, each would run
the model on one image. A Batcher serves one model: a stroke's run hands its input to
the batcher's thread and waits; the thread takes every input waiting (up to
`max_batch`) and answers them all with one forward and one backward pass
(core.predict.answer.answers). While the model runs, the next strokes queue up and make
the next batch. When strokes come close together (others were waiting, or the last
batch had several), the thread also waits up to `window_ms` after the first for more.
A lone visitor's stroke does not wait at all, nor change threads: when nothing is
waiting and no model call is in progress, answer() runs the model in the caller's own
thread (a hand-over to another thread and back cost milliseconds on a busy CPU). On the 2-core machine a batch of 8 of the
default resnet costs about as much as 2 single passes (bench.model_paths), and the
answers are the inputs' own (tests/test_batching.py).

The queue is bounded: past `max_queue` waiting inputs, submit() raises Busy at once,
so a visitor is told the server is busy (and the page retries) instead of waiting for
a timeout behind a queue that only grows.

Inputs that want no gradient map (the page shows another explanation) are batched
apart from those that do, one pass each, so every answer is what answer() alone gives.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import torch
from torch import nn

from core.predict.answer import Answer, answers
from core.predict.preprocess import Preprocessed

WINDOW_MS = 4.0  # how long the first input of a batch waits for others
MAX_BATCH = 16  # inputs per model call: a resnet batch of 16 still takes a few ms
MAX_QUEUE = 48  # inputs waiting (not yet in a batch) before submit() says Busy
IDLE_SECONDS = 30.0  # the thread ends after this long without work (submit restarts it)


class Busy(RuntimeError):
    """The batcher's queue is full, or the answer did not come in time: try again shortly."""


@dataclass
class _Request:
    pre: Preprocessed
    k: int
    gradient: bool
    future: Future = field(default_factory=Future)


@dataclass
class BatcherStats:
    """What a batcher did so far: for benchmarks and tests."""
    calls: int = 0  # model passes
    answered: int = 0  # inputs answered
    refused: int = 0  # submit() calls refused as Busy
    largest: int = 0  # the largest batch


class Batcher:
    """Answers inputs for one model, in batches of those that arrive close together."""

    def __init__(self, model: nn.Module, class_names: list[str] | tuple[str, ...],
                 window_ms: float = WINDOW_MS, max_batch: int = MAX_BATCH,
                 max_queue: int = MAX_QUEUE, threads: int = 1) -> None:
        self.model, self.class_names = model, tuple(class_names)
        self.window_s, self.max_batch, self.max_queue = window_ms / 1000, max_batch, max_queue
        self.threads = threads
        self.stats = BatcherStats()
        self._queue: deque[_Request] = deque()
        self._last_batch = 0
        self._working = 0  # model calls in progress (the thread's, and callers' own)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, pre: Preprocessed, k: int = 5, gradient: bool = True) -> Future:
        """Queue one input; its future gives its Answer (or the model's exception).
        Raises Busy when max_queue inputs are waiting already, ValueError for a blank one."""
        if pre.blank:
            raise ValueError("blank input (no ink found): nothing to classify")
        request = _Request(pre, k, gradient)
        with self._cond:
            if len(self._queue) >= self.max_queue:
                self.stats.refused += 1
                raise Busy(f"{len(self._queue)} inputs are waiting for the model")
            self._queue.append(request)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="batcher",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return request.future

    def answer(self, pre: Preprocessed, k: int = 5, gradient: bool = True,
               timeout: float = 10.0) -> Answer:
        """The input's answer. When the batcher is idle (nothing waiting, no model call in
        progress), the calling thread runs the model itself: a lone stroke is not handed
        to another thread and back. Otherwise submit() and wait. Raises Busy when the
        queue is full or the answer takes longer than `timeout` seconds (then the input
        is dropped if it was not started yet)."""
        if pre.blank:
            raise ValueError("blank input (no ink found): nothing to classify")
        with self._cond:
            alone = not self._queue and not self._working
            if alone:
                self._working += 1
        if alone:
            try:
                (found,) = answers(self.model, [pre], self.class_names, [k], gradient)
            finally:
                with self._cond:
                    self._working -= 1
            self._count(1)
            return found
        future = self.submit(pre, k, gradient)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise Busy(f"no answer within {timeout:.0f} s") from None
        except CancelledError:
            raise Busy("the request was dropped") from None

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    # ------------------------------------------------------------ the thread

    def _serve(self) -> None:
        torch.set_num_threads(self.threads)  # per thread: the trainer keeps its own
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            for gradient in (True, False):
                group = [r for r in batch if r.gradient == gradient]
                if group:
                    self._run(group, gradient)

    def _next_batch(self) -> list[_Request] | None:
        """The requests of the next model call: those waiting, and while strokes come
        together, those that come within the window after the first. None after
        IDLE_SECONDS without any (the thread ends)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._queue, IDLE_SECONDS):
                self._thread = None
                return None
            if len(self._queue) > 1 or self._last_batch > 1:  # strokes come together now
                deadline = time.monotonic() + self.window_s
                while len(self._queue) < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._cond.wait(left):
                        break
            count = min(self.max_batch, len(self._queue))
            taken = [self._queue.popleft() for _ in range(count)]
            self._last_batch = count
        return [r for r in taken if r.future.set_running_or_notify_cancel()]

    def _run(self, group: list[_Request], gradient: bool) -> None:
        with self._cond:
            self._working += 1
        try:
            found = answers(self.model, [r.pre for r in group], self.class_names,
                            [r.k for r in group], gradient)
        except Exception as err:  # the model failed: each waiting visitor gets the error
            for r in group:
                r.future.set_exception(err)
            return
        finally:
            with self._cond:
                self._working -= 1
        self._count(len(group))
        for r, a in zip(group, found):
            r.future.set_result(a)

    def _count(self, n: int) -> None:
        with self._cond:
            self.stats.calls += 1
            self.stats.answered += n
            self.stats.largest = max(self.stats.largest, n)
