"""Picking the device, and what to say about it."""
from __future__ import annotations

import os

import torch

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")  # what a person may ask for; availability varies


def pick_device(preference: str = "auto") -> torch.device:
    """cuda > mps > cpu for 'auto'; a named device must be available."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was requested but no CUDA GPU is available")
    if preference == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("MPS was requested but is not available")
    if preference not in DEVICE_NAMES:
        raise ValueError(f"unknown device {preference!r}; use auto, cpu, cuda or mps")
    return torch.device(preference)


def available_devices() -> list[str]:
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        out.append("mps")
    return out


def cpu_threads() -> int:
    """The cores this process may use (cgroup/affinity aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def configure_threads(device: torch.device) -> int:
    """One intra-op thread per core for CPU training, and no more.

    Oversubscribing (more threads than cores, or two busy processes sharing
    them) makes small-kernel training several times slower, because every
    op ends in a barrier that waits for the slowest, descheduled, thread.
    MNIST_STUDIO_THREADS overrides the count, e.g. 1 for a background run
    that shares the machine.
    """
    override = os.environ.get("MNIST_STUDIO_THREADS")
    if override:
        n = max(1, int(override))
    else:
        n = cpu_threads() if device.type == "cpu" else min(4, cpu_threads())
    torch.set_num_threads(n)
    return n


def describe_device(device: torch.device | None = None) -> str:
    """A short human label: 'NVIDIA H100 80GB HBM3' or 'CPU (2 threads)'."""
    device = device or pick_device("auto")
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def supports_bf16_autocast(device: torch.device) -> bool:
    """bf16 autocast helps on GPUs with bf16 tensor cores.

    On CPUs without native bf16 (no AVX512-BF16/AMX) it is emulated and makes
    training several times slower (measured: see README), so it stays off on CPU.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return False
