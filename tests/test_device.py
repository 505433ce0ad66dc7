"""core.machine.device: 'auto' takes the accelerator when there is one; named devices must exist."""
from __future__ import annotations

import pytest
import torch

from core.machine import device


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


@pytest.mark.parametrize("native,override,expected", [
    (True, None, True),    # AMX / AVX512-BF16: measured faster (bench.autocast)
    (False, None, False),  # emulated bf16: several times slower
    (True, "off", False),
    (False, "on", False),  # "on" cannot make emulated bf16 native
    (True, "on", True),
])
def test_bf16_autocast_on_the_cpu_where_it_is_native(monkeypatch, native, override, expected):
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native)
    if override:
        monkeypatch.setenv("MNIST_STUDIO_AUTOCAST", override)
    else:
        monkeypatch.delenv("MNIST_STUDIO_AUTOCAST", raising=False)
    assert device.use_bf16_autocast(torch.device("cpu"), "cnn") is expected


def test_bf16_on_a_cpu_is_read_off_its_instruction_sets(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert device.cpu_has_native_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert device.cpu_has_native_bf16() is True
