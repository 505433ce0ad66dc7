"""core.predict.activations: every layer's output for one input, and the first layer's weights."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from core.networks.models import ARCHITECTURES, build_model
from core.predict.activations import (LayerKind, activations, feature_grid,
                                      first_layer_filters, layers)

# Each architecture's layers for one (1, 1, 28, 28) input: (type, output shape).
# Dropout and Flatten change no value and are not layers here; a Residual block is one.
EXPECTED = {
    "ffnn": [("Linear", (512,)), ("ReLU", (512,)), ("Linear", (256,)), ("ReLU", (256,)),
             ("Linear", (10,))],
    "ffnn-deep": [("Linear", (256,)), ("ReLU", (256,)), ("Linear", (128,)), ("ReLU", (128,)),
                  ("Linear", (64,)), ("ReLU", (64,)), ("Linear", (10,))],
    "ffnn-small": [("Linear", (128,)), ("ReLU", (128,)), ("Linear", (64,)), ("ReLU", (64,)),
                   ("Linear", (10,))],
    "cnn": [("Conv2d", (16, 28, 28)), ("MaxPool2d", (16, 14, 14)), ("ReLU", (16, 14, 14)),
            ("Conv2d", (32, 14, 14)), ("MaxPool2d", (32, 7, 7)), ("ReLU", (32, 7, 7)),
            ("Linear", (512,)), ("ReLU", (512,)), ("Linear", (256,)), ("ReLU", (256,)),
            ("Linear", (10,))],
    "bn-cnn": [("Conv2d", (6, 24, 24)), ("MaxPool2d", (6, 12, 12)), ("ReLU", (6, 12, 12)),
               ("BatchNorm2d", (6, 12, 12)), ("Conv2d", (12, 8, 8)), ("MaxPool2d", (12, 4, 4)),
               ("ReLU", (12, 4, 4)), ("Linear", (120,)), ("ReLU", (120,)),
               ("BatchNorm1d", (120,)), ("Linear", (60,)), ("ReLU", (60,)), ("Linear", (10,))],
    "fastcnn": [("Conv2d", (16, 24, 24)), ("MaxPool2d", (16, 12, 12)), ("ReLU", (16, 12, 12)),
                ("BatchNorm2d", (16, 12, 12)), ("Conv2d", (32, 8, 8)), ("MaxPool2d", (32, 4, 4)),
                ("ReLU", (32, 4, 4)), ("BatchNorm2d", (32, 4, 4)), ("Linear", (128,)),
                ("ReLU", (128,)), ("BatchNorm1d", (128,)), ("Linear", (10,))],
    "fastcnn-wide": [("Conv2d", (32, 28, 28)), ("MaxPool2d", (32, 14, 14)),
                     ("ReLU", (32, 14, 14)), ("BatchNorm2d", (32, 14, 14)),
                     ("Conv2d", (32, 14, 14)), ("MaxPool2d", (32, 7, 7)), ("ReLU", (32, 7, 7)),
                     ("BatchNorm2d", (32, 7, 7)), ("Linear", (128,)), ("ReLU", (128,)),
                     ("BatchNorm1d", (128,)), ("Linear", (10,))],
    "resnet": [("Conv2d", (32, 28, 28)), ("BatchNorm2d", (32, 28, 28)), ("ReLU", (32, 28, 28)),
               ("MaxPool2d", (32, 14, 14)), ("Conv2d", (64, 14, 14)),
               ("BatchNorm2d", (64, 14, 14)), ("ReLU", (64, 14, 14)),
               ("Residual", (64, 14, 14)), ("MaxPool2d", (64, 7, 7)), ("Conv2d", (128, 7, 7)),
               ("BatchNorm2d", (128, 7, 7)), ("ReLU", (128, 7, 7)), ("Residual", (128, 7, 7)),
               ("AdaptiveMaxPool2d", (128, 1, 1)), ("Linear", (10,))],
}
FIRST_LAYER = {"ffnn": (512, 28, 28), "ffnn-deep": (256, 28, 28), "ffnn-small": (128, 28, 28),
               "cnn": (16, 3, 3), "bn-cnn": (6, 5, 5), "fastcnn": (16, 5, 5),
               "fastcnn-wide": (32, 3, 3), "resnet": (32, 3, 3)}


def test_every_architecture_is_covered():
    assert set(EXPECTED) == set(ARCHITECTURES) == set(FIRST_LAYER)


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(name)
    # Trained-looking BatchNorm statistics, so eval mode does not make BN the identity.
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model


@pytest.mark.parametrize("name", list(EXPECTED))
def test_activation_shapes_per_layer(name):
    found = activations(_model(name), torch.randn(1, 1, 28, 28))
    assert [(a.name.split(" · ")[1], a.shape) for a in found] == EXPECTED[name]
    assert [a.name.split(" · ")[0] for a in found] == [str(i) for i in range(1, len(found) + 1)]
    for a in found:
        spatial = len(a.shape) == 3 and a.shape[1] * a.shape[2] > 1
        assert a.kind is (LayerKind.CONV if spatial else LayerKind.DENSE)
        assert a.values.dtype == np.float32
        assert a.values.shape == (a.shape if spatial else (int(np.prod(a.shape)),))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_last_layer_is_the_models_output_and_hooks_are_removed(name):
    model, x = _model(name), torch.randn(1, 1, 28, 28)
    found = activations(model, x)
    model.eval()
    with torch.no_grad():
        logits = model(x)[0].numpy()
    np.testing.assert_allclose(found[-1].values, logits, rtol=1e-5, atol=1e-5)
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training is False  # the caller's mode is kept (eval here)
    model.train()
    activations(model, x)
    assert model.training is True


def test_in_place_relu_does_not_overwrite_the_batchnorm_output():
    """resnet's ReLU(inplace=True) writes over the BatchNorm output before the next layer
    runs: the recorded BatchNorm values must be the ones before the ReLU."""
    found = activations(_model("resnet"), torch.randn(1, 1, 28, 28))
    bn, relu = found[1], found[2]
    assert bn.name.endswith("BatchNorm2d") and relu.name.endswith("ReLU")
    assert (bn.values < 0).any()
    np.testing.assert_allclose(relu.values, np.maximum(bn.values, 0))


def test_a_residual_block_is_one_layer_and_its_output_is_the_sum():
    model = _model("resnet")
    paths = [p for p, _ in layers(model)]
    assert "3" in paths and not any(p.startswith("3.") for p in paths)
    found = activations(model, torch.randn(1, 1, 28, 28))
    before, block = found[6], found[7]  # the block's input (after a ReLU) and its output
    body = model[3].body.eval()
    with torch.no_grad():
        expected = before.values + body(torch.from_numpy(before.values)[None])[0].numpy()
    np.testing.assert_allclose(block.values, expected, rtol=1e-4, atol=1e-4)


def test_only_the_callers_forward_pass_is_recorded():
    """The app's models are shared: another session's forward pass during ours must not
    add layers to our list."""
    model = _model("cnn")
    other_done = threading.Event()

    class Slow(nn.Module):  # runs another thread's forward pass inside ours
        def forward(self, x):
            t = threading.Thread(target=lambda: (model[:1](torch.randn(1, 1, 28, 28)),
                                                 other_done.set()))
            t.start()
            t.join()
            return x

    model.insert(1, Slow())
    found = activations(model, torch.randn(1, 1, 28, 28))
    assert other_done.is_set()
    assert [a.name.split(" · ")[1] for a in found][:2] == ["Conv2d", "Slow"]
    assert sum(a.name.endswith("Conv2d") for a in found) == 2


def test_one_input_at_a_time():
    with pytest.raises(ValueError, match="one input at a time"):
        activations(_model("cnn"), torch.randn(2, 1, 28, 28))


@pytest.mark.parametrize("name", list(FIRST_LAYER))
def test_first_layer_filters(name):
    model = _model(name)
    filters = first_layer_filters(model)
    assert filters.shape == FIRST_LAYER[name]
    first = next(m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    np.testing.assert_array_equal(filters.reshape(len(filters), -1),
                                  first.weight.detach().numpy().reshape(len(filters), -1))


def test_feature_grid_tiles_every_map_with_one_scale_per_layer():
    maps = np.zeros((6, 4, 4), np.float32)
    maps[2] = 10.0  # one strong channel, one weak one
    maps[3] = 1.0
    grid = feature_grid(maps, width=10_000, gap=1)
    scale, gap = 16, 16 // 3  # the largest scale; gaps of a third of a scaled pixel
    columns = 4  # ceil(sqrt(2 * 6)): about twice as wide as tall
    side = 4 * scale
    assert grid.shape == (2 * side + gap, columns * side + (columns - 1) * gap)
    assert grid.dtype == np.uint8
    cell = side + gap
    assert grid[0, 2 * cell] == 255  # channel 2 at full brightness
    assert grid[0, 3 * cell] == round(255 / 10)  # channel 3 dim on the layer's scale
    assert grid[0, 0] == 0
    assert grid[0, side] == 90  # a gap
