"""core.predict.answer: one pass of the model gives what classify(), ood.judge() of an
inference pass's logits and the input-gradient saliency give with three."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.networks.catalog import list_models
from core.networks.checkpoints import load_checkpoint
from core.networks.models import build_model, evaluating
from core.predict.answer import answer
from core.predict.classify import classify
from core.predict.ood import Calibration, judge
from core.predict.preprocess import Preprocessed, from_canvas
from core.predict.saliency import input_gradient

CAL = Calibration("energy", -5.0, 0.05, 0.05)


def _drawing() -> Preprocessed:
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[40:240, 130:145] = 255  # a white bar: "1"
    rgba[40:55, 100:145] = 255
    return from_canvas(rgba, "mnist")


def _inputs() -> list[Preprocessed]:
    rng = np.random.default_rng(0)
    noisy = [Preprocessed(torch.from_numpy(rng.normal(size=(1, 1, 28, 28)).astype(np.float32)),
                          np.zeros((28, 28), np.uint8), blank=False) for _ in range(3)]
    return [_drawing(), *noisy]


def _same(model, pre: Preprocessed) -> None:
    names = [str(c) for c in range(10)]
    one = answer(model, pre, names, k=5)
    alone = classify(model, pre, names, k=5)
    assert np.array_equal(one.classification.probabilities, alone.probabilities)
    assert one.classification.top == alone.top
    assert (one.classification.predicted, one.classification.label) == (alone.predicted,
                                                                         alone.label)
    sal = input_gradient(model, pre.tensor, alone.predicted)
    assert (one.saliency.method, one.saliency.target) == ("gradient", alone.predicted)
    np.testing.assert_array_equal(one.saliency.values, sal.values)
    with evaluating(model), torch.inference_mode():  # a separate inference pass's verdict
        inferred = model(pre.tensor)
    assert judge(one.logits, CAL) == judge(inferred, CAL)
    without = answer(model, pre, names, k=5, gradient=False)
    assert without.saliency is None
    assert np.array_equal(without.classification.probabilities, alone.probabilities)


@pytest.mark.parametrize("arch", ["ffnn-small", "bn-cnn", "resnet"])
def test_one_pass_equals_the_three_passes(arch):
    torch.manual_seed(0)
    model = build_model(arch).eval()
    for pre in _inputs():
        _same(model, pre)
    assert not model.training and all(p.grad is None for p in model.parameters())


def test_one_pass_equals_the_three_passes_for_every_shipped_model():
    models = list_models()
    if not models:
        pytest.skip("no shipped weights")
    for entry in models:
        model = load_checkpoint(entry.path).model
        for pre in _inputs():
            _same(model, pre)


def test_blank_input_is_refused():
    blank = Preprocessed(torch.zeros(1, 1, 28, 28), np.zeros((28, 28), np.uint8), blank=True)
    with pytest.raises(ValueError, match="blank"):
        answer(build_model("ffnn-small"), blank, [str(c) for c in range(10)])
