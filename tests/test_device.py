"""core.device: 'auto' takes the accelerator when there is one; named devices must exist."""
from __future__ import annotations

import pytest
import torch

from core import device


def _accelerator(monkeypatch, kind: str | None) -> None:
    found = torch.device(kind) if kind else None
    monkeypatch.setattr(torch.accelerator, "current_accelerator",
                        lambda check_available=False: found)


@pytest.mark.parametrize("kind", [None, "cuda", "mps"])
def test_auto_prefers_the_accelerator(monkeypatch, kind):
    _accelerator(monkeypatch, kind)
    assert device.pick_device("auto") == torch.device(kind or "cpu")
    assert device.pick_device("cpu") == torch.device("cpu")
    assert device.available_devices() == ["auto", "cpu"] + ([kind] if kind else [])
    if kind:
        assert device.pick_device(kind) == torch.device(kind)


def test_a_named_device_that_is_missing_is_a_clear_error(monkeypatch):
    _accelerator(monkeypatch, None)
    with pytest.raises(RuntimeError, match="CUDA was requested"):
        device.pick_device("cuda")
    with pytest.raises(RuntimeError, match="MPS was requested"):
        device.pick_device("mps")
    _accelerator(monkeypatch, "cuda")
    with pytest.raises(RuntimeError, match="MPS was requested"):
        device.pick_device("mps")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        device.pick_device("tpu")
