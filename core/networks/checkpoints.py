"""One checkpoint format: a state_dict plus metadata, loaded with weights_only=True.

A checkpoint file holds a plain dict:
    {"format": "mnist-studio/1", "state_dict": {...}, "meta": {...},
     "optimizer": {...} | None, "progress": {...} | None}
Only tensors and plain Python containers, so `torch.load(weights_only=True)`
reads it; a pickle that would run code is refused by that loader.
"""
from __future__ import annotations

import datetime as dt
import os
import pickletools
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.data import get_spec
from core.machine.files import atomic_write
from core.networks.calibration import apply_temperature, temperature_of
from core.networks.models import build_model
from core.networks.spec import SpecError, check

FORMAT = "mnist-studio/1"


class CheckpointError(ValueError):
    """The file is not a usable MNIST Studio checkpoint; the message says why."""


@dataclass
class CheckpointMeta:
    dataset: str
    architecture: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    mean: float = 0.0
    std: float = 1.0
    created: str = ""
    torch_version: str = ""
    # Softmax temperature fitted on the validation split (core.networks.calibration); 1.0: none.
    temperature: float = 1.0
    # A custom architecture's layers (core.networks.spec's token string); "" for a built-in one.
    layers: str = ""

    @classmethod
    def new(cls, dataset: str, architecture: str, hyperparameters: dict | None = None,
            metrics: dict | None = None, layers: str = "") -> "CheckpointMeta":
        spec = get_spec(dataset)
        return cls(dataset=dataset, architecture=architecture, layers=layers,
                   hyperparameters=dict(hyperparameters or {}), metrics=dict(metrics or {}),
                   class_names=list(spec.classes), mean=spec.mean, std=spec.std,
                   created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                   torch_version=str(torch.__version__))


@dataclass
class Checkpoint:
    model: nn.Module  # on the CPU, in eval mode
    meta: CheckpointMeta
    optimizer_state: dict | None = None
    progress: dict | None = None  # {"epoch": ..., "step": ..., ...} for resume
    path: Path | None = None


def _cpu_state(state: dict) -> dict:
    return {k: v.detach().cpu().clone() if torch.is_tensor(v) else v for k, v in state.items()}


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: CheckpointMeta,
                    optimizer_state: dict | None = None, progress: dict | None = None) -> Path:
    """Write atomically (core.machine.files.atomic_write): a reader never sees half a checkpoint.
    A model with a Temperature layer must say so in `meta` (its weights do not hold it)."""
    if temperature_of(model) != meta.temperature:
        raise ValueError(f"the model's temperature {temperature_of(model)} is not the "
                         f"metadata's {meta.temperature}: set meta.temperature")
    payload = {"format": FORMAT, "state_dict": _cpu_state(model.state_dict()),
               "meta": asdict(meta), "optimizer": optimizer_state, "progress": progress}
    return atomic_write(path, lambda f: torch.save(payload, f))


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format is a zip archive
_NAMES_A_GLOBAL = {"GLOBAL", "STACK_GLOBAL", "INST"}  # pickle opcodes that import a name


def _raw_bytes(source: str | os.PathLike | Any) -> bytes:
    """The whole file, read again after a failed load (only then: the error path)."""
    try:
        if isinstance(source, (str, os.PathLike)):
            return Path(source).read_bytes()
        source.seek(0)
        return source.read()
    except (OSError, AttributeError, ValueError):
        return b""


def _pickle_globals(data: bytes) -> list[str]:
    """The Python names a complete pickle would import, found without running it.

    torch's weights-only loader stops at protocol 4+ opcodes before it meets the
    globals, so a plain `pickle.dump` of code would otherwise read as random bytes.
    Bytes that are not one whole pickle (random, text, truncated) give [].
    """
    names, strings = [], []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            if opcode.name == "STACK_GLOBAL":
                names.append(".".join(strings[-2:]))
            elif opcode.name in _NAMES_A_GLOBAL:
                names.append(str(arg).replace(" ", "."))
    except Exception:  # genops raises ValueError and others on bytes that are no pickle
        return []
    return names


def _why_unloadable(source: str | os.PathLike | Any, err: Exception) -> str:
    """One line on why torch.load failed, without PyTorch's long text or Python internals."""
    data = _raw_bytes(source)
    # torch names the first global it refused (zip checkpoints, protocol-2 pickles).
    named = re.findall(r"GLOBAL ([\w.]+)", str(err)) or _pickle_globals(data)
    if named:
        return f"refused: a pickle that could run code ({named[0][:60]}), not just weights"
    if not data:
        return "an empty file, not a checkpoint"
    if data.startswith(_ZIP_MAGIC):
        return "not a readable PyTorch checkpoint (corrupt or truncated?)"
    return "not a PyTorch checkpoint (unreadable)"


def read_payload(source: str | os.PathLike | Any) -> dict:
    """The raw dict of a checkpoint (path or file object), safely loaded and checked."""
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint not found: {source}") from None
    except Exception as err:  # UnpicklingError, EOFError, KeyError, zip errors, RuntimeError...
        raise CheckpointError(_why_unloadable(source, err)) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"not an MNIST Studio checkpoint (expected format {FORMAT!r})")
    if not isinstance(payload.get("state_dict"), dict) or not isinstance(payload.get("meta"), dict):
        raise CheckpointError("checkpoint is missing its weights or metadata")
    return payload


def _check_layers(meta: CheckpointMeta, state_dict: dict) -> None:
    """A custom model's layers are checked before anything is built, and must not ask for
    more parameters than the file holds: a small file naming huge layers would otherwise
    make the server allocate them (an upload is at most 20 MB)."""
    if not meta.layers:
        return
    if not isinstance(meta.layers, str):
        raise CheckpointError("checkpoint metadata is malformed: layers must be text")
    try:
        wanted = check(meta.layers).parameters
    except SpecError as err:
        raise CheckpointError(f"its layers cannot be built: {err}") from None
    held = sum(v.numel() for v in state_dict.values() if torch.is_tensor(v))
    if wanted > held:
        raise CheckpointError(f"its layers need {wanted:,} parameters but the file holds "
                              f"{held:,} numbers: not a checkpoint of these layers")


def load_checkpoint(source: str | os.PathLike | Any) -> Checkpoint:
    """Rebuild the model named in the metadata and load its weights (CPU, eval mode)."""
    payload = read_payload(source)
    try:
        meta = CheckpointMeta(**payload["meta"])
    except TypeError as err:
        raise CheckpointError(f"checkpoint metadata is malformed: {err}") from None
    _check_layers(meta, payload["state_dict"])
    try:
        model = build_model(meta.architecture, meta.layers)  # plain data -> modules, no code
        get_spec(meta.dataset)
    except ValueError as err:  # SpecError too
        raise CheckpointError(str(err)) from None
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        first = str(err).split("\n")[0]
        raise CheckpointError(
            f"weights do not fit architecture {meta.architecture!r}: {first}") from None
    try:
        apply_temperature(model, float(meta.temperature))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint temperature is unusable: {err}") from None
    model.eval()
    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    return Checkpoint(model, meta, payload.get("optimizer"), payload.get("progress"), path)
