"""Counting a model's FLOPs (the Train page's time estimate) leaves other threads alone."""
import threading

import torch

from core.networks.models import build_model
from core.train.cost import counting_flops, training_flops_per_sample


def test_another_threads_input_gradient_works_while_flops_are_counted():
    # Regression (found by bench/serverload.py): FlopCounterMode's ModuleTracker put
    # global hooks on every module; a Classify stroke's autograd.grad in another
    # session's thread failed while a Train page counted FLOPs.
    model = build_model("cnn").eval()
    errors, grads = [], []

    def stroke():
        x = torch.rand(1, 1, 28, 28, requires_grad=True)
        try:
            grads.append(torch.autograd.grad(model(x)[0, 3], x)[0])
        except RuntimeError as err:
            errors.append(err)

    with counting_flops() as counter:
        build_model("ffnn-small")(torch.zeros(2, 1, 28, 28)).sum().backward()
        thread = threading.Thread(target=stroke)
        thread.start()
        thread.join()
    assert not errors and grads[0].shape == (1, 1, 28, 28)
    # Only this thread's work is counted: ffnn-small's forward and backward, not the cnn.
    small = counter.get_total_flops()
    assert 0 < small < 3 * 2 * 2 * sum(p.numel() for p in build_model("cnn").parameters())


def test_flops_still_counted_for_training():
    linear = 784 * 10 + 10  # ffnn-small's size order: positive, forward + backward ~3x forward
    assert training_flops_per_sample("ffnn-small") > 2 * linear
