import torch
from torch import nn

from core.data import Split
from core.evaluate.metrics import evaluate


class FixedLogits(nn.Module):
    """Returns preset logits for each sample, found by its first pixel (the sample index)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x):
        idx = torch.round(x[:, 0, 0, 0]).long()  # mean 0, std 1: pixel value == index
        return self.logits[idx]


def test_hand_made_example_gives_exact_matrix():
    true = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    pred = torch.tensor([0, 0, 1, 1, 1, 2, 0, 2, 3, 3])
    logits = torch.full((10, 10), -5.0)
    logits[torch.arange(10), pred] = 5.0
    images = torch.zeros(10, 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = torch.arange(10, dtype=torch.uint8)
    split = Split(images, true)
    result = evaluate(FixedLogits(logits), split, mean=0.0, std=1 / 255, batch_size=4)
    cm = torch.zeros(10, 10, dtype=torch.int64)
    for t, p in zip(true, pred):
        cm[t, p] += 1
    assert result.confusion_matrix == cm.tolist()
    assert result.accuracy == 0.7
    assert result.per_class_accuracy[:4] == [2 / 3, 1.0, 0.5, 1.0]
    assert all(a != a for a in result.per_class_accuracy[4:])  # nan: no samples
    assert result.mistake_indices == [2, 6, 8]
    assert result.mistake_true == [0, 2, 2] and result.mistake_predicted == [1, 0, 3]
    assert result.mistake_probabilities.shape == (3, 10)
    assert abs(result.mistake_probabilities.sum(1) - 1).max() < 1e-5
