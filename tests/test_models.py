import pytest
import torch

from torch import nn

from core.networks.models import (ARCHITECTURES, build_model, count_parameters, device_of, evaluating,
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
    from bench.reference_loop import reference_model
    from core.networks.models import build_model

    torch.manual_seed(0)
    ours = build_model("cnn").eval()
    reference = reference_model("cnn").eval()  # the notebooks' order: conv, ReLU, pool
    assert isinstance(reference[1], torch.nn.ReLU) and isinstance(reference[2], torch.nn.MaxPool2d)
    reference.load_state_dict(ours.state_dict())  # same keys: parameters kept their indices
    x = torch.randn(32, 1, 28, 28)
    out_ours, out_ref = ours(x), reference(x)
    assert torch.equal(out_ours, out_ref)
    out_ours.square().sum().backward()
    out_ref.square().sum().backward()
    for (name, a), b in zip(ours.named_parameters(), reference.parameters()):
        assert torch.equal(a.grad, b.grad), name


def test_dropout_keeps_each_unit_with_probability_one_minus_p_and_scales_it():
    """The CPU mask is drawn differently from torch's, with the same distribution."""
    from core.networks.layers import Dropout

    torch.manual_seed(0)
    drop = Dropout(0.2).train()
    x = torch.ones(1000, 1000, requires_grad=True)
    out = drop(x)
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.8) < 0.002  # 1e6 draws: sd 0.0004
    assert torch.allclose(out[kept], torch.tensor(1.25))  # 1 / (1 - p)
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())  # d(x * mask)/dx = mask: dropped units get none
    assert not kept[0].all() and kept[:, 0].any()  # not one mask broadcast along a dim

    torch.manual_seed(1)
    first = drop(x)
    torch.manual_seed(1)
    assert torch.equal(drop(x), first)  # the seed fixes the mask: resumed runs replay it
    assert torch.equal(drop.eval()(x), x)  # eval: the identity, like nn.Dropout


def test_dropout_is_torch_dropout_where_ours_would_not_help():
    from core.networks.layers import Dropout

    x = torch.randn(64, 64)
    for p in (0.0, 1.0):
        assert torch.equal(Dropout(p).train()(x), torch.nn.functional.dropout(x, p, True))
    assert isinstance(Dropout(0.2), torch.nn.Dropout)  # layer listings skip it like torch's
