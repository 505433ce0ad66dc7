"""core.predict.classify: ranking, names and model time around core.preprocess.predict."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.predict.classify import classify, from_dataset_image, rank, warm_up
from core.networks.models import build_model
from core.data import DATASETS
from core.predict.preprocess import from_canvas


class Fixed(nn.Module):
    def forward(self, x):
        return torch.tensor([[0.0, 3.0, 1.0, 0, 0, 0, 0, 2.0, 0, 0]]).expand(len(x), -1)


def test_rank_orders_by_probability_then_class():
    names = DATASETS["fashion"].classes
    top = rank(np.array([0.1, 0.3, 0.3, 0.2, 0.1, 0, 0, 0, 0, 0]), names, 3)
    assert [c for c, _, _ in top] == [1, 2, 3]
    assert top[0][1] == "Trouser"


def test_classify_a_drawing():
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[40:240, 130:150, :3] = 255  # a "1"
    pre = from_canvas(canvas, "mnist")
    out = classify(Fixed(), pre, DATASETS["mnist"].classes, k=3)
    assert out.predicted == 1 and out.label == "1"
    assert out.confidence == pytest.approx(out.probabilities[1])
    assert [c for c, _, _ in out.top] == [1, 7, 2]
    assert out.probabilities.sum() == pytest.approx(1.0)
    assert out.model_ms >= 0


def test_dataset_images_are_used_as_they_are():
    image = np.zeros((28, 28), np.uint8)
    image[5:9, 5:9] = 255
    pre = from_dataset_image(image, 0.5, 0.25)
    assert not pre.blank and (pre.image == image).all()
    assert pre.tensor.shape == (1, 1, 28, 28)
    assert pre.tensor[0, 0, 6, 6].item() == pytest.approx(2.0)
    assert from_dataset_image(np.zeros((28, 28)), 0.5, 0.25).blank


def test_warm_up_keeps_the_mode():
    model = build_model("bn-cnn").train()
    warm_up(model)
    assert model.training
