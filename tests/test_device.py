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


@pytest.mark.parametrize("accelerator,asked,error,message", [
    (None, "cuda", RuntimeError, "CUDA was requested"),
    (None, "mps", RuntimeError, "MPS was requested"),
    ("cuda", "mps", RuntimeError, "MPS was requested"),
    ("cuda", "tpu", ValueError, "unknown device 'tpu'"),
])
def test_a_named_device_that_is_missing_is_a_clear_error(monkeypatch, accelerator, asked, error,
                                                        message):
    _accelerator(monkeypatch, accelerator)
    with pytest.raises(error, match=message):
        device.pick_device(asked)
