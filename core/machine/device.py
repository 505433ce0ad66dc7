"""Picking the device, and what to say about it."""
from __future__ import annotations

import os

import torch

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")  # what a person may ask for; availability varies


KNOWN_DEVICES = DEVICE_NAMES[1:]  # the concrete ones


def _accelerator() -> torch.device | None:
    """The GPU-like device torch can use here (cuda, mps, ...), or None."""
    found = torch.accelerator.current_accelerator(check_available=True)
    return torch.device(found.type) if found is not None else None


def pick_device(preference: str = "auto") -> torch.device:
    """The accelerator, if there is one, else the CPU, for 'auto'; a named device must
    be available."""
    if preference == "auto":
        return _accelerator() or torch.device("cpu")
    if preference not in KNOWN_DEVICES:
        raise ValueError(f"unknown device {preference!r}; use auto, {', '.join(KNOWN_DEVICES)}")
    if preference != "cpu" and preference not in available_devices():
        what = "a CUDA GPU" if preference == "cuda" else preference.upper()
        raise RuntimeError(f"{preference.upper()} was requested but {what} is not available "
                           f"here; use one of: {', '.join(available_devices())}")
    return torch.device(preference)


def available_devices() -> list[str]:
    """What pick_device accepts on this machine: auto, cpu, and the accelerator if any."""
    accelerator = _accelerator()
    return ["auto", "cpu"] + ([accelerator.type] if accelerator is not None else [])


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
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"


def configure_cuda() -> None:
    """How a CUDA run computes: fp32 matrix products on TF32 tensor cores, and cuDNN's
    deterministic algorithms, so a resumed run repeats the uninterrupted one bit for bit."""
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def cpu_has_native_bf16() -> bool:
    """AMX tiles or AVX512-BF16: bf16 matrix work in hardware, not emulated."""
    cpu = torch.cpu
    return bool(getattr(cpu, "_is_amx_tile_supported", lambda: False)()
                or getattr(cpu, "_is_avx512_bf16_supported", lambda: False)())


# GPU architectures whose training step measured faster under bf16 autocast than in
# fp32/TF32 on an H200 (bench.gpu_levers, docs/speed.md); elsewhere the casts cost more
# than the smaller matrix products save.
GPU_BF16_FASTER: frozenset[str] = frozenset()


def use_bf16_autocast(device: torch.device, model: str | None = None) -> bool:
    """Train in bf16 autocast where it is native and measured faster.

    CUDA: on GPUs with bf16 tensor cores, for the architectures in GPU_BF16_FASTER.
    CPU: where the CPU has bf16 in hardware (AMX, AVX512-BF16). Measured side by side
    (`python -m bench.autocast`, 2 threads, batch 256, quiet, a Zen 4 with AVX512-BF16;
    docs/speed.md): cnn 1.59x, fastcnn 1.31x, fastcnn-wide 2.46x, resnet 1.92x, bn-cnn
    1.18x, ffnn 1.52-1.63x, ffnn-deep 1.26x, ffnn-small 0.98x (even); on a Xeon with
    AMX, cnn 1.63x, fastcnn 1.70x, resnet 2.27x. Without native bf16 it is emulated
    and several times slower (Zen 3: cnn 6.7x slower), so it stays off there.
    MNIST_STUDIO_AUTOCAST=on|off overrides the choice (on still needs native bf16).
    """
    override = os.environ.get("MNIST_STUDIO_AUTOCAST", "auto").lower()
    if device.type == "cuda":
        supported, chosen = torch.cuda.is_bf16_supported(), model in GPU_BF16_FASTER
    elif device.type == "cpu":
        supported = chosen = cpu_has_native_bf16()
    else:
        return False
    if override in ("on", "off"):
        return supported and override == "on"
    return supported and chosen
