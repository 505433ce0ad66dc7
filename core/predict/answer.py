"""One input's answer from one pass of the model: the ranked classes, the logits (which
the "I don't know" score is computed from) and the input-gradient map.

classify() and saliency() each run the model on their own, and the "I don't know" score
(ood.judge) needs the logits too. The app needs all three after every stroke, and the input gradient's forward pass already gives the
logits: one forward and one backward pass instead of three forward passes and a
backward one. (A forward pass with autograd on gives the same logits, bit for bit, as
one in inference mode: tests/test_answer.py checks every shipped model.)
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from core.networks.models import device_of, evaluating
from core.predict.classify import Classification, from_logits, require_ink
from core.predict.preprocess import Preprocessed
from core.predict.saliency import SaliencyMap, gradient_map


@dataclass
class Answer:
    classification: Classification
    logits: torch.Tensor  # (1, 10) float, detached: for core.predict.ood.judge
    saliency: SaliencyMap | None  # the input-gradient map of the predicted class, if asked


def answer(model: nn.Module, pre: Preprocessed, class_names: list[str] | tuple[str, ...],
           k: int = 5, gradient: bool = True) -> Answer:
    """Classify `pre`; with `gradient`, also the input-gradient map of the predicted class
    (saliency.input_gradient's), from the same forward pass and one backward pass.
    Without it (the page shows another method, which runs the model on other inputs
    anyway), one forward pass in inference mode and no map.

    Raises ValueError for a blank input (check pre.blank first).
    """
    require_ink(pre)
    with evaluating(model):
        x = pre.tensor.detach().to(device_of(model), torch.float32)
        if gradient:
            x = x.clone().requires_grad_(True)
        with torch.enable_grad() if gradient else torch.inference_mode():
            start = time.perf_counter()
            logits = model(x)
            model_ms = (time.perf_counter() - start) * 1000
            result = from_logits(logits, class_names, k, model_ms)
            if not gradient:
                return Answer(result, logits, None)
            # autograd.grad, not backward(): nothing accumulates in the (shared, cached)
            # model's parameters, so concurrent sessions cannot interfere.
            (grad,) = torch.autograd.grad(logits[0, result.predicted], x)
    return Answer(result, logits.detach(), gradient_map(grad, result.predicted))
