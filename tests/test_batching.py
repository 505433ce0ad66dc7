"""Micro-batching (core.predict.batching, core.predict.answer.answers): one model call for
many visitors' strokes gives each the answer it would get alone; a full queue says Busy."""
from __future__ import annotations

import base64
import io
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from bench.strokes import canvas_value
from core.networks.catalog import list_models
from core.networks.checkpoints import load_checkpoint
from core.networks.models import build_model
from core.predict.answer import Answer, answer, answers
from core.predict.batching import Batcher, Busy
from core.predict.preprocess import Preprocessed, from_canvas

NAMES = [str(c) for c in range(10)]


def _drawings(n: int, seed: int = 0) -> list[Preprocessed]:
    """Rough digits as the canvas sends them (bench/strokes.py), preprocessed."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        url = canvas_value(i % 10, rng)["drawing"]["data"]
        rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        out.append(from_canvas(rgba, "mnist"))
    return out


def _assert_same(batched: Answer, alone: Answer) -> None:
    """The same answer: the class, the ranking (classes closer than 1e-4 may swap: no CPU
    promises the last bits of a batched pass), probabilities within 1e-5 (the page shows
    0.1%), the same map within 1e-4 of its 0..1 range."""
    b, a = batched.classification, alone.classification
    assert (b.predicted, b.label) == (a.predicted, a.label)
    np.testing.assert_allclose(b.probabilities, a.probabilities, rtol=0, atol=1e-5)
    assert len(b.top) == len(a.top) and {c for c, _, _ in b.top} <= set(range(10))
    for (cb, _, pb), (ca, _, pa) in zip(b.top, a.top):
        assert cb == ca or abs(a.probabilities[cb] - a.probabilities[ca]) < 1e-4
    np.testing.assert_allclose(batched.logits.numpy(), alone.logits.numpy(), rtol=1e-4,
                               atol=1e-4)
    if alone.saliency is None:
        assert batched.saliency is None
        return
    assert batched.saliency.target == alone.saliency.target
    np.testing.assert_allclose(batched.saliency.values, alone.saliency.values, atol=1e-4)


@pytest.mark.parametrize("arch", ["ffnn-small", "bn-cnn", "resnet"])
@pytest.mark.parametrize("gradient", [True, False])
def test_a_batch_answers_each_input_as_it_is_answered_alone(arch, gradient):
    torch.manual_seed(0)
    model = build_model(arch).eval()
    inputs = _drawings(12, seed=1)
    ks = [3, 5, 10] * 4
    together = answers(model, inputs, NAMES, ks, gradient)
    for pre, k, batched in zip(inputs, ks, together):
        assert batched.batch == len(inputs)
        _assert_same(batched, answer(model, pre, NAMES, k, gradient))
    assert all(p.grad is None for p in model.parameters())


def test_batches_of_every_shipped_model_answer_as_one_by_one():
    entries = list_models()
    if not entries:
        pytest.skip("no shipped weights")
    inputs = _drawings(8, seed=2)
    for entry in entries:
        model = load_checkpoint(entry.path).model
        for batched, pre in zip(answers(model, inputs, NAMES, [5] * 8), inputs):
            _assert_same(batched, answer(model, pre, NAMES, 5))


def test_inputs_that_arrive_together_share_a_model_call():
    torch.manual_seed(0)
    model = build_model("bn-cnn").eval()
    inputs = _drawings(16, seed=3)
    batcher = Batcher(model, NAMES, window_ms=50)  # wide: the threads below all make it
    start = threading.Barrier(len(inputs))
    got: dict[int, Answer] = {}

    def visitor(i: int) -> None:
        start.wait()
        got[i] = batcher.answer(inputs[i], k=5)

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(got) == list(range(len(inputs)))
    assert batcher.stats.answered == len(inputs)
    assert batcher.stats.calls < len(inputs) and batcher.stats.largest > 1
    for i, pre in enumerate(inputs):
        _assert_same(got[i], answer(model, pre, NAMES, 5))


def test_mixed_requests_get_what_each_asked_for():
    torch.manual_seed(0)
    model = build_model("ffnn-small").eval()
    a, b = _drawings(2, seed=4)
    batcher = Batcher(model, NAMES, window_ms=50)
    with_map, without = batcher.submit(a, 3, gradient=True), batcher.submit(b, 10, False)
    assert with_map.result(10).saliency is not None and without.result(10).saliency is None
    assert len(without.result().classification.top) == 10
    _assert_same(with_map.result(), answer(model, a, NAMES, 3))
    _assert_same(without.result(), answer(model, b, NAMES, 10, gradient=False))


class _Gate(nn.Module):
    """A model that waits for its gate before answering: a slow model call."""

    def __init__(self) -> None:
        super().__init__()
        self.inner, self.gate, self.entered = build_model("ffnn-small"), threading.Event(), \
            threading.Event()

    def forward(self, x):
        self.entered.set()
        assert self.gate.wait(30)
        return self.inner(x)


def test_a_full_queue_says_busy_at_once_and_loses_nothing_queued():
    model = _Gate().eval()
    inputs = _drawings(4, seed=5)
    batcher = Batcher(model, NAMES, window_ms=0, max_batch=1, max_queue=2)
    first = batcher.submit(inputs[0])
    assert model.entered.wait(10)  # the first is in the model; two may wait behind it
    queued = [batcher.submit(inputs[1]), batcher.submit(inputs[2])]
    with pytest.raises(Busy):
        batcher.submit(inputs[3])
    assert batcher.stats.refused == 1
    model.gate.set()
    assert [f.result(30).classification.label for f in [first, *queued]]
    assert batcher.stats.answered == 3


def test_an_answer_that_takes_too_long_is_busy_and_dropped():
    model = _Gate().eval()
    a, b = _drawings(2, seed=6)
    batcher = Batcher(model, NAMES, window_ms=0, max_batch=1)
    first = batcher.submit(a)
    assert model.entered.wait(10)
    with pytest.raises(Busy):
        batcher.answer(b, timeout=0.2)  # waits behind the first, past its timeout
    model.gate.set()
    first.result(30)
    assert batcher.stats.answered == 1  # the dropped one never ran


def test_a_failing_model_fails_each_waiting_request_not_the_batcher():
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("broken model")

    batcher = Batcher(Broken(), NAMES)
    with pytest.raises(RuntimeError, match="broken model"):
        batcher.answer(_drawings(1)[0])
    blank = Preprocessed(torch.zeros(1, 1, 28, 28), np.zeros((28, 28), np.uint8), blank=True)
    with pytest.raises(ValueError, match="blank"):
        batcher.submit(blank)


def test_a_lone_stroke_does_not_wait_for_company():
    """The window is for strokes that come together: one visitor's stroke goes to the
    model at once (a 3 s window, far longer than the answer takes anywhere)."""
    torch.manual_seed(0)
    batcher = Batcher(build_model("ffnn-small").eval(), NAMES, window_ms=3000)
    pre = _drawings(1)[0]
    batcher.answer(pre)  # the thread started, the model warm
    start = time.monotonic()
    batcher.answer(pre)
    assert time.monotonic() - start < 2.0
    assert batcher.stats.largest == 1
