"""core.evaluate.mistakes: filtering, sorting and paging misclassified test images."""
from __future__ import annotations

import numpy as np
import pytest

from core.evaluate.metrics import EvalResult
from core.evaluate.mistakes import filter_mistakes, from_eval, paginate


def _result() -> EvalResult:
    true = [0, 0, 1, 2, 2, 2]
    pred = [1, 2, 0, 1, 1, 0]
    conf = [0.9, 0.5, 0.7, 0.6, 0.95, 0.6]
    probs = np.zeros((6, 10), np.float32)
    for i, (p, c) in enumerate(zip(pred, conf)):
        probs[i, p] = c
        probs[i, true[i]] = 1 - c
    return EvalResult(0.9, 0.3, [0.9] * 10, [[0] * 10 for _ in range(10)],
                      [3, 8, 11, 20, 25, 31], true, pred, probs)


def test_filters_return_only_matching_rows():
    table = from_eval(_result())
    assert len(table) == 6
    only = filter_mistakes(table, true_class=2)
    assert set(only.true.tolist()) == {2} and len(only) == 3
    pair = filter_mistakes(table, true_class=2, predicted_class=1)
    assert pair.indices.tolist() == [25, 20]  # most confident first
    assert (pair.true == 2).all() and (pair.predicted == 1).all()
    assert len(filter_mistakes(table, true_class=5)) == 0
    assert set(filter_mistakes(table, predicted_class=0).indices.tolist()) == {11, 31}


def test_sort_orders_and_ties_keep_test_order():
    table = from_eval(_result())
    conf = filter_mistakes(table).confidence.tolist()
    assert conf == sorted(conf, reverse=True)
    assert filter_mistakes(table).indices.tolist() == [25, 3, 11, 20, 31, 8]  # 0.6 tie: 20, 31
    assert filter_mistakes(table, sort="unsure").indices.tolist() == [8, 20, 31, 11, 3, 25]
    assert filter_mistakes(table, sort="index").indices.tolist() == [3, 8, 11, 20, 25, 31]
    with pytest.raises(ValueError):
        filter_mistakes(table, sort="random")


def test_row_exposes_confidence_and_probabilities():
    table = filter_mistakes(from_eval(_result()))
    m = table.row(0)
    assert (m.index, m.true, m.predicted) == (25, 2, 1)
    assert m.confidence == pytest.approx(0.95)
    assert m.probabilities.shape == (10,)


def test_paginate_clamps_and_slices():
    assert paginate(50, 1, 24).__dict__ == {"page": 1, "pages": 3, "start": 0, "stop": 24}
    assert paginate(50, 3, 24).__dict__ == {"page": 3, "pages": 3, "start": 48, "stop": 50}
    assert paginate(50, 9, 24).page == 3
    assert paginate(0, 1, 24).__dict__ == {"page": 1, "pages": 1, "start": 0, "stop": 0}


def test_empty_result_and_pair_counts():
    empty = EvalResult(1.0, 0.0, [1.0] * 10, [[0] * 10] * 10, [], [], [],
                       np.zeros((0, 10), np.float32))
    table = from_eval(empty)
    assert len(filter_mistakes(table, true_class=1)) == 0
    table = from_eval(_result())
    assert len(filter_mistakes(table, true_class=2, predicted_class=1)) == 2 and len(table) == 6
