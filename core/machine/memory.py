"""Memory a long-lived process has freed, given back to the system.

glibc's allocator keeps what a big one-off computation freed (an evaluation of 10,000
test images, an embedding map) in its heap for later use, so the web process's resident
size stays at its peak for the rest of its life. malloc_trim hands the free pages back:
after the embedding maps of two models were computed, the resident size fell from
1,225 to 1,118 MB (bench.web_memory).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys


def trim_heap() -> bool:
    """Give the heap's free pages back to the system (glibc only); True if it did."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).malloc_trim(0))
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return False
