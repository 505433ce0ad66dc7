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


def test_cnn_pools_before_relu_and_computes_the_notebooks_function_exactly():
    """Reordered for speed; outputs and every gradient equal the reference order's."""
    from torch import nn

    from core.models import build_model

    torch.manual_seed(0)
    ours = build_model("cnn").eval()
    reference = nn.Sequential(  # the notebooks' order: conv, ReLU, pool
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.2), nn.Flatten(),
        nn.Linear(32 * 7 * 7, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 10)).eval()
    reference.load_state_dict(ours.state_dict())  # same keys: parameters kept their indices
    x = torch.randn(32, 1, 28, 28)
    out_ours, out_ref = ours(x), reference(x)
    assert torch.equal(out_ours, out_ref)
    out_ours.square().sum().backward()
    out_ref.square().sum().backward()
    for (name, a), b in zip(ours.named_parameters(), reference.parameters()):
        assert torch.equal(a.grad, b.grad), name
