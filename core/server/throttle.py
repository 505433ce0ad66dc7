"""Failed attempts at a secret (the admin token), limited per session and per client address.

Each key (a session, an address) may fail FREE_FAILURES times; after that, each failure
makes it wait before the next try, twice as long each time (1 s, 2 s, 4 s, ...) up to
MAX_DELAY seconds. A script that opens a new session for every try is still held back
by its address. A key that has not failed for FORGET_AFTER seconds starts afresh, which
also bounds the memory kept. A success clears the keys that made it.

At the defaults, one address gets 18 tries in its first hour and 6 an hour after
that, where an unlimited box allowed thousands. No Streamlit here: ui/common/identity.py
keeps one AttemptThrottle per server process.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

FREE_FAILURES = 3  # typos: no wait before the fourth try
FIRST_DELAY = 1.0  # seconds, after the first failure past the free ones; doubles after each
MAX_DELAY = 600.0
FORGET_AFTER = 3600.0  # a key without a failure for this long starts afresh


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    next_allowed: float = 0.0


def delay_after(failures: int, free: int = FREE_FAILURES, first: float = FIRST_DELAY,
                cap: float = MAX_DELAY) -> float:
    """Seconds to wait after `failures` failed attempts: 0 for the free ones, then
    first, 2 * first, 4 * first, ... up to cap."""
    if failures <= free:
        return 0.0
    return min(cap, first * 2.0 ** min(failures - free - 1, 62))


class AttemptThrottle:
    """Counts failed attempts per key and says how long a key must wait; thread-safe
    (every session of the server shares one)."""

    def __init__(self, free: int = FREE_FAILURES, first_delay: float = FIRST_DELAY,
                 max_delay: float = MAX_DELAY, forget_after: float = FORGET_AFTER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.first_delay, self.max_delay = free, first_delay, max_delay
        self.forget_after, self.clock = forget_after, clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> None:
        stale = [k for k, r in self._records.items() if now - r.last_failure >= self.forget_after
                 and now >= r.next_allowed]
        for key in stale:
            del self._records[key]

    def wait_seconds(self, keys: Iterable[str]) -> float:
        """How long until any of these keys may try again (0: now)."""
        now = self.clock()
        with self._lock:
            self._forget_old(now)
            waits = [r.next_allowed - now for k in keys if (r := self._records.get(k))]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[str]) -> int:
        """Record a failed attempt for each key; the highest failure count among them."""
        now, worst = self.clock(), 0
        with self._lock:
            self._forget_old(now)
            for key in keys:
                record = self._records.setdefault(key, _Record())
                record.failures += 1
                record.last_failure = now
                record.next_allowed = now + delay_after(record.failures, self.free,
                                                        self.first_delay, self.max_delay)
                worst = max(worst, record.failures)
        return worst

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._records.pop(key, None)

    def failures(self, key: str) -> int:
        with self._lock:
            record = self._records.get(key)
            return record.failures if record else 0
