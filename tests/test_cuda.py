"""The trainer on a CUDA GPU: the graph step against the eager step, stop and resume inside
a graph run, divergence, and bf16 autocast on and off. Skipped where there is no CUDA."""
import pytest
import torch

from core.data import load_bundle
from core.train.config import TrainConfig
from core.train.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@pytest.fixture(autouse=True)
def graphs_on(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_CUDA_GRAPHS", "on")


@pytest.fixture(scope="module")
def bundle(fake_data_root):
    return load_bundle("mnist", fake_data_root)


def cfg(**kw):
    base = dict(dataset="mnist", model="fastcnn", epochs=2, batch_size=32, lr=3e-3,
                device="cuda", seed=0)
    return TrainConfig(**{**base, **kw})


def _losses(config, bundle, monkeypatch):
    from core.train import loop
    monkeypatch.setattr(loop, "READ_EVERY", {**loop.READ_EVERY, "cuda": 1})  # every loss
    events = []
    result = train(config, bundle, lambda e: events.append(e) if e.kind == "step" else None)
    return [e.loss for e in events], result


def test_the_graph_step_trains_like_the_eager_step(bundle, monkeypatch):
    """20 steps of the same run, captured and eager: the same losses within tolerance
    (the eager run's fused Adam and the graph's multi-tensor Adam round differently)."""
    config = cfg(epochs=2, schedule="constant", augment=True)
    graph, g = _losses(config, bundle, monkeypatch)
    monkeypatch.setenv("MNIST_STUDIO_CUDA_GRAPHS", "off")
    eager, e = _losses(config, bundle, monkeypatch)
    assert g.step_mode == "cuda graph" and e.step_mode == "eager"
    assert "CUDA graphs are off" in e.step_note
    assert g.setup_seconds > 0  # warm-up and capture, timed apart
    assert len(graph) >= 20 and len(eager) >= 20
    assert torch.allclose(torch.tensor(graph[:20]), torch.tensor(eager[:20]), rtol=2e-3, atol=2e-3)


def test_a_graph_run_drops_the_last_short_batch(bundle):
    result = train(cfg(epochs=1, batch_size=48), bundle)  # 416 training images: 8 x 48 + 32
    assert result.step_mode == "cuda graph" and result.steps == 416 // 48


def test_stop_and_resume_inside_a_graph_run_is_bit_exact(bundle, tmp_path):
    whole = train(cfg(augment=True), bundle)
    last, steps = tmp_path / "last.pt", []
    first = train(cfg(augment=True), bundle, lambda e: steps.append(e) if e.kind == "step" else None,
                  should_stop=lambda: len(steps) >= 1, last_path=last)
    assert first.stopped and 0 < first.steps < whole.steps
    resumed = train(cfg(augment=True), bundle, resume_from=last)
    assert resumed.step_mode == "cuda graph" and resumed.steps == whole.steps
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_diverging_graph_run_ends_diverged(bundle):
    result = train(cfg(model="cnn", lr=2.0, batch_size=8, epochs=1), bundle)
    assert result.step_mode == "cuda graph"
    assert result.diverged and "learning rate 2 is too high for adam" in result.divergence


@pytest.mark.parametrize("autocast", ["on", "off"])
def test_autocast_on_and_off_both_train(bundle, monkeypatch, autocast):
    monkeypatch.setenv("MNIST_STUDIO_AUTOCAST", autocast)
    result = train(cfg(epochs=3), bundle)
    assert result.precision.startswith("bf16" if autocast == "on" else "fp32")
    assert result.best_val_accuracy > 0.6  # chance is 0.1; the fake classes are easy
