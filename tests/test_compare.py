"""core.evaluate.compare: per-class deltas and agreement between two models."""
from __future__ import annotations

import numpy as np
import pytest

from core.evaluate.compare import compare, per_class_table, row_normalize
from core.evaluate.metrics import EvalResult


def _result(per_class, mistakes, n=20) -> EvalResult:
    cm = [[0] * 10 for _ in range(10)]
    cm[0][0] = n  # only the total matters to compare()
    return EvalResult(1 - len(mistakes) / n, 0.1, per_class, cm, mistakes,
                      [0] * len(mistakes), [1] * len(mistakes),
                      np.zeros((len(mistakes), 10), np.float32))


def test_per_class_delta_and_agreement():
    a = _result([0.5] * 10, [1, 2, 3])
    b = _result([0.5] * 9 + [0.8], [3, 4])
    comp = compare(a, b, [str(i) for i in range(10)])
    assert comp.per_class_delta[-1] == pytest.approx(0.3)
    assert comp.per_class_delta[:9] == [0.0] * 9
    assert comp.accuracy_delta == pytest.approx(0.05)
    assert (comp.both_wrong, comp.only_a_right, comp.only_b_right, comp.both_right) == (1, 1, 2, 16)
    assert comp.rows[9] == {"class": "9", "A": 0.5, "B": 0.8, "B - A": pytest.approx(0.3)}


def test_different_test_sets_are_refused():
    with pytest.raises(ValueError, match="different test sets"):
        compare(_result([0.5] * 10, [], n=20), _result([0.5] * 10, [], n=30), list("0123456789"))


def test_row_normalize():
    out = row_normalize([[3, 1], [0, 0]])
    assert out == [[0.75, 0.25], [0.0, 0.0]]


def test_per_class_table_from_the_confusion_matrix():
    cm = [[0] * 10 for _ in range(10)]
    cm[0][0], cm[0][3], cm[0][5] = 8, 1, 2
    cm[1][1] = 5
    res = EvalResult(0.9, 0.1, [8 / 11, 1.0] + [float("nan")] * 8, cm, [], [], [],
                     np.zeros((0, 10), np.float32))
    rows = per_class_table(res, list("0123456789"))
    assert (rows[0].correct, rows[0].images, rows[0].most_confused_with) == (8, 11, "5")
    assert rows[1].most_confused_with is None and rows[1].accuracy == 1.0
