"""The test images a model gets wrong: filtered by class, sorted, a page at a time."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.evaluate.metrics import EvalResult

SORTS = {
    "confident": "Most confident mistakes first",
    "unsure": "Least confident mistakes first",
    "index": "Test-set order",
}


@dataclass
class MistakeTable:
    """Parallel arrays, one row per misclassified test image."""
    indices: np.ndarray  # (M,) int64, positions in the test split
    true: np.ndarray  # (M,) int64
    predicted: np.ndarray  # (M,) int64
    probabilities: np.ndarray  # (M, 10) float32

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def confidence(self) -> np.ndarray:
        """The probability the model gave its (wrong) answer."""
        if len(self) == 0:
            return np.zeros(0, np.float32)
        return self.probabilities[np.arange(len(self)), self.predicted]

    def take(self, rows: np.ndarray) -> "MistakeTable":
        return MistakeTable(self.indices[rows], self.true[rows], self.predicted[rows],
                            self.probabilities[rows])

    def row(self, i: int) -> "Mistake":
        return Mistake(int(self.indices[i]), int(self.true[i]), int(self.predicted[i]),
                       float(self.confidence[i]), self.probabilities[i])


@dataclass
class Mistake:
    index: int  # position in the test split
    true: int
    predicted: int
    confidence: float
    probabilities: np.ndarray  # (10,)


@dataclass
class PageSlice:
    page: int  # 1-based, clamped into range
    pages: int  # at least 1
    start: int
    stop: int


def from_eval(result: EvalResult) -> MistakeTable:
    m = len(result.mistake_indices)
    probs = np.asarray(result.mistake_probabilities, dtype=np.float32).reshape(m, -1) if m \
        else np.zeros((0, 10), np.float32)
    return MistakeTable(np.asarray(result.mistake_indices, dtype=np.int64),
                        np.asarray(result.mistake_true, dtype=np.int64),
                        np.asarray(result.mistake_predicted, dtype=np.int64), probs)


def filter_mistakes(table: MistakeTable, true_class: int | None = None,
                    predicted_class: int | None = None, sort: str = "confident") -> MistakeTable:
    """Rows matching both filters (None = any class), in the requested order.

    Ties in confidence keep test-set order, so a page never reshuffles.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose one of {sorted(SORTS)}")
    keep = np.ones(len(table), dtype=bool)
    if true_class is not None:
        keep &= table.true == true_class
    if predicted_class is not None:
        keep &= table.predicted == predicted_class
    rows = np.flatnonzero(keep)
    if sort != "index":
        conf = table.confidence[rows]
        order = np.lexsort((table.indices[rows], -conf if sort == "confident" else conf))
        rows = rows[order]
    else:
        rows = rows[np.argsort(table.indices[rows], kind="stable")]
    return table.take(rows)


def paginate(n_items: int, page: int, per_page: int) -> PageSlice:
    """Which rows page `page` shows; out-of-range pages are clamped, not errors."""
    per_page = max(1, int(per_page))
    pages = max(1, math.ceil(n_items / per_page))
    page = min(max(1, int(page)), pages)
    start = (page - 1) * per_page
    return PageSlice(page, pages, start, min(start + per_page, n_items))


