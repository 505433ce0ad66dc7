"""The CPU paths bench.model_paths times answer as eager PyTorch does: TorchScript (frozen
for the forward pass, traced for the gradient) and ONNX Runtime give each input the same
class and probabilities within 1e-5, and TorchScript the same input gradient. (Eager is
the app's path: the fastest measured with the gradient map, docs/speed.md.)"""
from __future__ import annotations

import pytest
import torch

from bench.model_paths import drawings, forward_paths, gradient_paths
from core.networks.catalog import list_models
from core.networks.checkpoints import load_checkpoint
from core.networks.models import build_model


def _models():
    shipped = [(e.label, load_checkpoint(e.path).model) for e in list_models("mnist")]
    if shipped:
        return shipped
    torch.manual_seed(0)
    return [(arch, build_model(arch)) for arch in ("ffnn-small", "bn-cnn", "resnet")]


@pytest.mark.parametrize("batch", [1, 8])
def test_every_path_answers_as_eager_does(tmp_path, batch):
    x = drawings(batch, seed=2)
    for label, model in _models():
        model.eval()
        paths = forward_paths(model, x[:1], tmp_path)
        eager = paths["eager"](x).softmax(1)
        for name, run in paths.items():
            got = run(x).softmax(1)
            assert torch.equal(got.argmax(1), eager.argmax(1)), (label, name)
            torch.testing.assert_close(got, eager, rtol=0, atol=1e-5, msg=f"{label} {name}")
        grads = gradient_paths(model, x[:1])
        logits, grad = grads["eager"](x)
        script_logits, script_grad = grads["torchscript"](x)
        assert torch.equal(script_logits.argmax(1), logits.argmax(1)), label
        scale = grad.abs().max()
        torch.testing.assert_close(script_grad / scale, grad / scale, rtol=0, atol=1e-4,
                                   msg=label)
