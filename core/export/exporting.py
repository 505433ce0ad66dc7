"""A checkpoint as a self-contained ONNX or TorchScript model.

What the exported model takes: a (N, 1, 28, 28) float32 tensor of pixel values
in [0, 1], ink bright on dark, as in the datasets (any batch size N). What it
returns: the (N, 10) logits. The dataset's mean and std are inside, so its
users need no constants; the class names are in the checkpoint's metadata
(and in the ONNX file's metadata_props).
"""
from __future__ import annotations

import copy
import io
import json
import os
import warnings
from enum import Enum
from pathlib import Path

import torch
from torch import nn

from core.machine.files import atomic_write
from core.networks.checkpoints import Checkpoint

INPUT_NAME, OUTPUT_NAME = "pixels", "logits"


class ExportFormat(str, Enum):
    ONNX = "onnx"
    TORCHSCRIPT = "torchscript"

    @property
    def suffix(self) -> str:
        return ".onnx" if self is ExportFormat.ONNX else ".torchscript.pt"

    @property
    def mime(self) -> str:
        return "application/octet-stream"


class Normalized(nn.Module):
    """(x - mean) / std, then the model: pixels in [0, 1] in, logits out."""

    def __init__(self, model: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model((pixels - self.mean) / self.std)


def wrapped(ckpt: Checkpoint) -> Normalized:
    """The checkpoint's model (a copy, in eval mode) behind its normalisation."""
    model = copy.deepcopy(ckpt.model).cpu().eval()
    return Normalized(model, ckpt.meta.mean, ckpt.meta.std).eval()


def _onnx(module: nn.Module, ckpt: Checkpoint) -> bytes:
    example = torch.rand(2, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's progress chatter
        program = torch.onnx.export(
            module, (example,), dynamo=True, input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME], dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False)
    onnx_model = program.model_proto
    meta = {"dataset": ckpt.meta.dataset, "architecture": ckpt.meta.architecture,
            "class_names": json.dumps(ckpt.meta.class_names),
            "input": "(N, 1, 28, 28) float32 pixels in [0, 1], ink bright on dark",
            "output": "(N, 10) logits"}
    for key, value in meta.items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    return onnx_model.SerializeToString()


def _torchscript(module: nn.Module, ckpt: Checkpoint) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch.jit is deprecated in favour of torch.export, but TorchScript is the
        # format C++ (libtorch) and older deployments load.
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(module)
        extra = {"meta.json": json.dumps({"dataset": ckpt.meta.dataset,
                                          "architecture": ckpt.meta.architecture,
                                          "class_names": ckpt.meta.class_names})}
        torch.jit.save(scripted, buffer, _extra_files=extra)
    return buffer.getvalue()


def export_bytes(ckpt: Checkpoint, fmt: ExportFormat | str) -> bytes:
    """The exported model as the bytes of its file."""
    fmt = ExportFormat(fmt)
    module = wrapped(ckpt)
    with torch.no_grad():
        return _onnx(module, ckpt) if fmt is ExportFormat.ONNX else _torchscript(module, ckpt)


def export_file(ckpt: Checkpoint, fmt: ExportFormat | str, out: str | os.PathLike) -> Path:
    return atomic_write(out, export_bytes(ckpt, fmt))
