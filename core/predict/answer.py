"""One input's answer from one pass of the model: the ranked classes, the logits (which
the "I don't know" score is computed from) and the input-gradient map; and the answers
of many inputs from one pass over their batch (core.predict.batching gathers them).

classify() and saliency() each run the model on their own, and the "I don't know" score
(ood.judge) needs the logits too. The app needs all three after every stroke, and the
input gradient's forward pass already gives the logits: one forward and one backward
pass instead of three forward passes and a backward one. (A forward pass with autograd
on gives the same logits, bit for bit, as one in inference mode: tests/test_answer.py
checks every shipped model.)

A batch's backward pass gives each input its own gradient: in eval mode no layer mixes
the inputs of a batch (BatchNorm uses its running statistics, dropout is off), so the
gradient of the sum of each input's predicted logit is, input by input, the gradient of
its own logit. tests/test_answer.py checks that a batch's answers are those of the
inputs one by one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

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
    batch: int = 1  # how many inputs shared the model pass (classification.model_ms is its time)
    gradient_ms: float = 0.0  # the backward pass's wall time (0 without the map)


def answer(model: nn.Module, pre: Preprocessed, class_names: list[str] | tuple[str, ...],
           k: int = 5, gradient: bool = True) -> Answer:
    """Classify `pre`; with `gradient`, also the input-gradient map of the predicted class
    (saliency.input_gradient's), from the same forward pass and one backward pass.
    Without it (the page shows another method, which runs the model on other inputs
    anyway), one forward pass in inference mode and no map.

    Raises ValueError for a blank input (check pre.blank first).
    """
    return answers(model, [pre], class_names, [k], gradient)[0]


def answers(model: nn.Module, inputs: Sequence[Preprocessed],
            class_names: list[str] | tuple[str, ...], ks: Sequence[int],
            gradient: bool = True) -> list[Answer]:
    """answer() for each of `inputs` (with its own top k, `ks`), from one forward pass over
    their batch and, with `gradient`, one backward pass.

    Raises ValueError for a blank input (check pre.blank first).
    """
    for pre in inputs:
        require_ink(pre)
    n = len(inputs)
    with evaluating(model):
        x = torch.cat([pre.tensor.detach() for pre in inputs]).to(device_of(model),
                                                                  torch.float32)
        if gradient:
            x = x.clone().requires_grad_(True)
        with torch.enable_grad() if gradient else torch.inference_mode():
            start = time.perf_counter()
            logits = model(x)
            model_ms = (time.perf_counter() - start) * 1000
            results = [from_logits(logits[i:i + 1], class_names, k, model_ms)
                       for i, k in enumerate(ks)]
            if not gradient:
                return [Answer(r, logits[i:i + 1], None, n) for i, r in enumerate(results)]
            start = time.perf_counter()
            chosen = torch.tensor([r.predicted for r in results], device=logits.device)
            # autograd.grad, not backward(): nothing accumulates in the (shared, cached)
            # model's parameters, so concurrent sessions cannot interfere.
            (grad,) = torch.autograd.grad(logits[torch.arange(n), chosen].sum(), x)
            gradient_ms = (time.perf_counter() - start) * 1000
    logits = logits.detach()
    return [Answer(r, logits[i:i + 1], gradient_map(grad[i:i + 1], r.predicted), n,
                   gradient_ms) for i, r in enumerate(results)]
