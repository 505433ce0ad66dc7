"""Two models on the same test set: per-class accuracy deltas and who gets what right."""
from __future__ import annotations

from dataclasses import dataclass

from core.evaluate.metrics import EvalResult


@dataclass
class Comparison:
    class_names: list[str]
    accuracy_a: float
    accuracy_b: float
    per_class_a: list[float]
    per_class_b: list[float]
    per_class_delta: list[float]  # b - a, per class (positive: B is better)
    both_right: int  # test images both models classify correctly
    only_a_right: int
    only_b_right: int
    both_wrong: int

    @property
    def accuracy_delta(self) -> float:
        return self.accuracy_b - self.accuracy_a

    @property
    def rows(self) -> list[dict]:
        """One dict per class, for a table."""
        return [{"class": name, "A": a, "B": b, "B - A": d} for name, a, b, d in
                zip(self.class_names, self.per_class_a, self.per_class_b, self.per_class_delta)]


def compare(a: EvalResult, b: EvalResult, class_names: list[str] | tuple[str, ...]) -> Comparison:
    """Both results must come from the same split (same size)."""
    n_a = sum(map(sum, a.confusion_matrix))
    n_b = sum(map(sum, b.confusion_matrix))
    if n_a != n_b:
        raise ValueError(f"the two evaluations cover different test sets ({n_a} vs {n_b} images)")
    wrong_a, wrong_b = set(a.mistake_indices), set(b.mistake_indices)
    both_wrong = len(wrong_a & wrong_b)
    only_a_right = len(wrong_b - wrong_a)
    only_b_right = len(wrong_a - wrong_b)
    return Comparison(
        class_names=list(class_names), accuracy_a=a.accuracy, accuracy_b=b.accuracy,
        per_class_a=list(a.per_class_accuracy), per_class_b=list(b.per_class_accuracy),
        per_class_delta=[pb - pa for pa, pb in zip(a.per_class_accuracy, b.per_class_accuracy)],
        both_right=n_a - both_wrong - only_a_right - only_b_right,
        only_a_right=only_a_right, only_b_right=only_b_right, both_wrong=both_wrong)


@dataclass
class ClassRow:
    name: str
    accuracy: float
    correct: int
    images: int
    most_confused_with: str | None  # the wrong answer given most often; None if never wrong


def per_class_table(result: EvalResult,
                    class_names: list[str] | tuple[str, ...]) -> list[ClassRow]:
    """One row per class from the confusion matrix (rows = true class)."""
    cm = result.confusion_matrix
    rows = []
    for c, name in enumerate(class_names):
        wrong = [(cm[c][p], p) for p in range(len(class_names)) if p != c and cm[c][p]]
        worst = class_names[max(wrong)[1]] if wrong else None  # ties: the higher class
        rows.append(ClassRow(name, result.per_class_accuracy[c], cm[c][c], sum(cm[c]), worst))
    return rows


def row_normalize(matrix: list[list[int]]) -> list[list[float]]:
    """Each row divided by its total (rows = true class): the share of each prediction."""
    out = []
    for row in matrix:
        total = sum(row)
        out.append([v / total if total else 0.0 for v in row])
    return out
