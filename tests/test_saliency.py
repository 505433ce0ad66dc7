"""core.predict.saliency: maps in 0..1 that point at the pixels the model uses."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.networks.models import build_model
from core.predict.saliency import METHODS, input_gradient, occlusion, saliency


class LooksAtTopLeft(nn.Module):
    """Class 1's logit is the sum of the top-left 6x6 block; nothing else matters."""

    def forward(self, x):
        score = x[:, 0, :6, :6].sum((1, 2))
        return torch.stack([torch.zeros_like(score), score] + [torch.zeros_like(score)] * 8, 1)


def _input() -> torch.Tensor:
    x = torch.full((1, 1, 28, 28), -0.4)
    x[0, 0, 2:5, 2:5] = 2.0  # ink inside the block the model looks at
    x[0, 0, 20:24, 20:24] = 2.0  # ink it ignores
    return x


@pytest.mark.parametrize("method", METHODS)
def test_maps_are_unit_range_and_point_at_used_pixels(method):
    sal = saliency(LooksAtTopLeft(), _input(), 1, method)
    assert sal.values.shape == (28, 28) and sal.method == method and sal.target == 1
    assert sal.values.min() >= 0 and sal.values.max() <= 1 and sal.values.max() > 0.5
    inside = sal.values[:6, :6].mean()
    outside = sal.values[14:, 14:].mean()
    assert inside > 5 * max(outside, 1e-6)


def test_occlusion_highlights_the_ink_that_carries_the_score():
    sal = occlusion(LooksAtTopLeft(), _input(), 1, patch=4, stride=2)
    assert sal.values[3, 3] == pytest.approx(1.0)
    assert sal.values[22, 22] == 0.0  # hiding ignored ink changes nothing


def test_real_model_keeps_mode_and_gets_no_parameter_grads():
    model = build_model("bn-cnn").train()
    sal = input_gradient(model, _input(), 3, samples=4)
    assert model.training  # restored
    assert all(p.grad is None for p in model.parameters())  # nothing accumulated
    assert np.isfinite(sal.values).all() and sal.method == "smoothgrad"


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        saliency(LooksAtTopLeft(), _input(), 1, "magic")
