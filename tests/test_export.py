"""Exported models (ONNX, TorchScript) answer exactly as the originals, with normalisation inside."""
from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from core.networks.catalog import DEFAULT_WEIGHTS_DIR
from core.networks.checkpoints import load_checkpoint
from core.data import load_split, normalize
from core.export.cli import main
from core.export.exporting import ExportFormat, export_bytes
from tests.conftest import REAL_DATA, real_data_present

# A conv net with BatchNorm (2d and 1d) and an MLP with dropout: eval mode must be baked in.
CHECKPOINTS = ["mnist-bn-cnn.pt", "fashion-ffnn-small.pt"]


def _test_images(dataset: str, fake_data_root) -> torch.Tensor:
    root = REAL_DATA if real_data_present(dataset) else fake_data_root
    return load_split(dataset, train=False, root=root, download=False).images[:100]


def _run(fmt: ExportFormat, blob: bytes, pixels: torch.Tensor) -> np.ndarray:
    if fmt is ExportFormat.ONNX:
        session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
        (name,) = [i.name for i in session.get_inputs()]
        return session.run(None, {name: pixels.numpy()})[0]
    module = torch.jit.load(io.BytesIO(blob))
    with torch.no_grad():
        return module(pixels).numpy()


@pytest.mark.parametrize("fmt", list(ExportFormat))
@pytest.mark.parametrize("name", CHECKPOINTS)
def test_export_gives_the_original_logits_on_100_test_images(name, fmt, fake_data_root):
    ckpt = load_checkpoint(DEFAULT_WEIGHTS_DIR / name)
    images = _test_images(ckpt.meta.dataset, fake_data_root)
    assert len(images) == 100
    with torch.no_grad():
        expected = ckpt.model(normalize(images, ckpt.meta.mean, ckpt.meta.std)).numpy()
    blob = export_bytes(ckpt, fmt)
    pixels = (images.float() / 255.0).unsqueeze(1)  # (N, 1, 28, 28) in [0, 1], no constants
    got = _run(fmt, blob, pixels)
    assert got.shape == (100, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    # Any batch size: the batch dimension is dynamic.
    np.testing.assert_allclose(_run(fmt, blob, pixels[:3]), expected[:3], atol=1e-4, rtol=0)
    assert not ckpt.model.training  # exporting worked on a copy


def test_onnx_file_names_its_input_output_and_classes():
    ckpt = load_checkpoint(DEFAULT_WEIGHTS_DIR / "fashion-ffnn-small.pt")
    model = onnx.load_from_string(export_bytes(ckpt, "onnx"))
    assert [i.name for i in model.graph.input] == ["pixels"]
    assert [o.name for o in model.graph.output] == ["logits"]
    props = {p.key: p.value for p in model.metadata_props}
    assert "Ankle boot" in props["class_names"] and props["dataset"] == "fashion"


def test_cli_writes_a_torchscript_file_that_loads(tmp_path, capsys):
    out = tmp_path / "model.torchscript.pt"
    assert main([str(DEFAULT_WEIGHTS_DIR / "mnist-bn-cnn.pt"), "--format", "torchscript",
                 "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    module = torch.jit.load(str(out))
    assert module(torch.zeros(4, 1, 28, 28)).shape == (4, 10)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04 truncated"])
def test_cli_bad_checkpoint_is_a_clear_message_and_exit_2(tmp_path, capsys, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    out = tmp_path / "out.onnx"
    assert main([str(bad), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "checkpoint" in err
    assert not out.exists()


def test_cli_missing_checkpoint_and_unknown_format(tmp_path, capsys):
    assert main([str(tmp_path / "nope.pt"), "--format", "onnx", "--out", "x.onnx"]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nope.pt"), "--format", "tflite", "--out", "x"])
    assert exit_info.value.code == 2
