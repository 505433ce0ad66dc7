import pytest
import torch

from torch import nn

from core.models import (ARCHITECTURES, build_model, count_parameters, device_of, evaluating,
                         get_architecture)

EXPECTED_PARAMETERS = {
    "ffnn": 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10,
    "ffnn-deep": 784 * 256 + 256 + 256 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10,
    "ffnn-small": 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10,
    "cnn": (16 * 9 + 16) + (32 * 16 * 9 + 32) + (1568 * 512 + 512) + (512 * 256 + 256) + (256 * 10 + 10),
    "bn-cnn": (6 * 25 + 6) + 12 + (12 * 6 * 25 + 12) + (192 * 120 + 120) + 240 + (120 * 60 + 60) + (60 * 10 + 10),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_output_shape(name):
    model = build_model(name).eval()
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("name", list(EXPECTED_PARAMETERS))
def test_reference_parameter_counts(name):
    assert count_parameters(build_model(name)) == EXPECTED_PARAMETERS[name]


def test_every_architecture_is_described():
    for arch in ARCHITECTURES.values():
        assert len(arch.description) > 20
    assert {"ffnn", "cnn", "ffnn-deep", "bn-cnn", "ffnn-small"} <= {
        a.name for a in ARCHITECTURES.values() if a.reference}
    assert any(not a.reference for a in ARCHITECTURES.values())


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown architecture 'vit'"):
        get_architecture("vit")


def test_evaluating_restores_the_callers_mode_even_after_an_error():
    model = build_model("ffnn").train()
    with evaluating(model):
        assert not model.training and not any(m.training for m in model.modules())
    assert model.training and all(m.training for m in model.modules())
    with pytest.raises(RuntimeError):
        with evaluating(model):
            raise RuntimeError("boom")
    assert model.training
    model.eval()
    with evaluating(model):
        pass
    assert not model.training


def test_device_of_is_where_the_parameters_are():
    assert device_of(build_model("ffnn")) == torch.device("cpu")
    assert device_of(nn.Flatten()) == torch.device("cpu")  # no parameters at all
    assert device_of(nn.Linear(2, 2).to("meta")) == torch.device("meta")
