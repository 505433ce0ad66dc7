"""The fastest CPU path for a stroke's model pass: eager PyTorch, TorchScript or ONNX Runtime.

    python -m bench.model_paths [--dataset mnist] [--batches 1 8] [--rounds 5] [--reps 40]

For each shipped model of the dataset, on real-looking drawings (bench/strokes.py,
preprocessed as the app does), one thread as the app's batcher uses: the median time of
- the forward pass alone (what a stroke costs with no map, and the other models' votes):
  eager, TorchScript (traced, frozen, optimised for inference) and ONNX Runtime;
- the forward and the backward pass of the input gradient (what a stroke costs with the
  default map): eager and TorchScript (traced, not frozen: autograd runs through it).
  ONNX Runtime has no backward pass (its training build is not installed), so with the
  map it cannot serve a stroke alone.
Rounds alternate the paths, so a busy machine slows each alike; the load average is
printed with the numbers. It also checks that every path answers as eager does (the same
class, probabilities within 1e-5): tests/test_model_paths.py asserts it.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from bench.strokes import canvas_value  # noqa: E402
from core.networks.catalog import list_models  # noqa: E402
from core.networks.checkpoints import load_checkpoint  # noqa: E402
from core.predict.preprocess import from_canvas  # noqa: E402


def drawings(n: int, seed: int = 0) -> torch.Tensor:
    """n rough digits as the canvas sends them, preprocessed: (n, 1, 28, 28) normalised
    with MNIST's constants."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        url = canvas_value(i % 10, rng)["drawing"]["data"]
        rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        out.append(from_canvas(rgba, "mnist").tensor)
    return torch.cat(out)


def traced(model: nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    """TorchScript by tracing, as is: autograd runs through it (for the gradient)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.trace(model.eval(), example, check_trace=False)


def frozen(model: nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    """TorchScript traced, frozen (weights as constants) and optimised for inference."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced(model, example)))


def onnx_session(model: nn.Module, example: torch.Tensor, folder: Path) -> ort.InferenceSession:
    """The model exported to ONNX (any batch size) in an ONNX Runtime session, one thread."""
    path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (example,), str(path), input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
                          dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def forward_paths(model: nn.Module, example: torch.Tensor, folder: Path
                  ) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Each path's forward pass: a batch (n, 1, 28, 28) in, its logits (n, 10) out."""
    script = frozen(model, example)
    session = onnx_session(model, example, folder)

    def eager(x):
        with torch.inference_mode():
            return model(x)

    def torchscript(x):
        with torch.inference_mode():
            return script(x)

    def onnxruntime(x):
        return torch.from_numpy(session.run(None, {"x": x.numpy()})[0])

    return {"eager": eager, "torchscript": torchscript, "onnxruntime": onnxruntime}


def gradient_paths(model: nn.Module, example: torch.Tensor
                   ) -> dict[str, Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]]:
    """Each path's forward and input-gradient pass: (logits, gradient of each input's
    predicted logit), as core.predict.answer.answers computes them."""
    script = traced(model, example)

    def through(module):
        def run(x):
            x = x.clone().requires_grad_(True)
            with torch.enable_grad():
                logits = module(x)
                chosen = logits.argmax(1)
                (grad,) = torch.autograd.grad(logits[torch.arange(len(x)), chosen].sum(), x)
            return logits.detach(), grad
        return run

    return {"eager": through(model), "torchscript": through(script)}


def _median_ms(fn: Callable, x: torch.Tensor, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(fns: dict[str, Callable], x: torch.Tensor, rounds: int, reps: int) -> dict[str, float]:
    """Median ms per call of each path, rounds alternating between them."""
    for fn in fns.values():
        for _ in range(5):  # warm-up: first calls pay for kernel choices and allocation
            fn(x)
    found: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(fns)[::-1]
        for name in order:
            found[name].append(_median_ms(fns[name], x, reps))
    return {name: statistics.median(v) for name, v in found.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.model_paths", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=40)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, 1 thread; load "
          f"{[round(v, 2) for v in os.getloadavg()]}", flush=True)
    x_all = drawings(max(args.batches), seed=1)
    with tempfile.TemporaryDirectory(prefix="model-paths-") as tmp:
        for entry in list_models(args.dataset):
            model = load_checkpoint(entry.path).model.eval()
            arch = entry.details.get("architecture", entry.label)
            fwd = forward_paths(model, x_all[:1], Path(tmp))
            grad = gradient_paths(model, x_all[:1])
            reference = fwd["eager"](x_all).softmax(1)
            agree = all(torch.allclose(f(x_all).softmax(1), reference, atol=1e-5)
                        and torch.equal(f(x_all).argmax(1), reference.argmax(1))
                        for f in fwd.values())
            for n in args.batches:
                x = x_all[:n]
                f = measure(fwd, x, args.rounds, args.reps)
                g = measure(grad, x, args.rounds, args.reps)
                print(f"{arch:13s} batch {n:2d}: forward eager {f['eager']:.3f} ms, torchscript "
                      f"{f['torchscript']:.3f}, onnxruntime {f['onnxruntime']:.3f}; forward+"
                      f"gradient eager {g['eager']:.3f}, torchscript {g['torchscript']:.3f}"
                      f"{'' if agree else '  (ANSWERS DIFFER)'}", flush=True)
    print(f"load {[round(v, 2) for v in os.getloadavg()]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
