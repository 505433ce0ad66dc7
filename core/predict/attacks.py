"""Adversarial examples: FGSM and PGD under an L-inf budget measured in pixels.

The app's models take normalised images, (pixels - mean) / std, but a budget
people can read is in pixel units: eps = 0.1 lets every pixel move by a tenth
of the way from black to white. So the attack works on pixels in [0, 1]: it
steps, clips the change to [-eps, eps] and the image to [0, 1] in pixel space,
and normalises only inside the forward pass. The perturbed image is therefore
a real image, and its change never exceeds the budget.

- `perturb` is the one attack, on a batch: PGD (Madry et al. 2018) with a step
  of 2.5 * eps / steps, optionally from a random start, untargeted (raise the
  loss of the true class) or targeted (lower the loss of the target class).
  FGSM (Goodfellow et al. 2015) is its one step of size eps. A sample stops
  moving once it is fooled, so the image shown is the first that fooled the
  model, and the steps used say how hard it was.
- `attack` is one input from the app: validation, the result a page shows.
- `transfer`: the same perturbed image through other models.
- `training_attack`: the perturbation adversarial training trains on
  (core/train/loop.py): fast FGSM with a random start and a step of
  1.25 * eps (Wong, Rice and Kolter 2020), or PGD-k.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.networks.models import device_of, evaluating
from core.predict.classify import rank

METHODS = ("fgsm", "pgd")
MAX_EPS = 0.5  # beyond half the pixel range a "perturbation" can paint any digit
MAX_STEPS = 200
DEFAULT_STEPS = 40
# The budget Classify's Fool it opens on: the smallest of 0.1, 0.15, 0.2 that fooled every
# one of 300 inputs (drawings and validation images) of the default model, the shipped
# mnist-resnet, with the panel's PGD-40; 0.1 fooled 30% of the drawings, 0.15 92%
# (python -m bench.fool_budget, docs/robustness.md).
DEFAULT_EPS = 0.2
PGD_STEP = 2.5  # step size = PGD_STEP * eps / steps: the budget can be crossed 2.5 times
FAST_FGSM_STEP = 1.25  # Wong et al. 2020's step for FGSM training from a random start


def pgd_step_size(eps: float, steps: int) -> float:
    return PGD_STEP * eps / steps


def perturb(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, eps: float,
            steps: int, step_size: float, mean: float, std: float,
            random_start: bool = False, target: torch.Tensor | None = None,
            stop_when_fooled: bool = True) -> tuple[torch.Tensor, int]:
    """Perturbed pixels (N, 1, 28, 28) in [0, 1] within eps of `pixels` in L-inf, and the
    steps used.

    labels: the classes to move away from (untargeted), or, with `target`, the classes
    to move towards. The model's mode is the caller's (eval for an attack, train
    during adversarial training); only the input gets a gradient (autograd.grad), so
    nothing accumulates in the model's parameters.
    """
    pixels = pixels.detach()
    delta = torch.zeros_like(pixels)
    if random_start:
        delta.uniform_(-eps, eps)
        delta = (pixels + delta).clamp(0, 1) - pixels
    moving = torch.ones(len(pixels), dtype=torch.bool, device=pixels.device)
    used = 0
    for used in range(steps + 1):
        if used == steps and not stop_when_fooled:
            break  # training: no forward pass just to look
        delta.requires_grad_(True)
        with torch.enable_grad():
            logits = model((pixels + delta - mean) / std)
            if stop_when_fooled:
                moving &= ~_fooled(logits.detach(), labels, target)
            if used == steps or not moving.any():
                break
            goal = labels if target is None else target
            loss = F.cross_entropy(logits.float(), goal, reduction="sum")
            (grad,) = torch.autograd.grad(loss, delta)
        direction = grad.sign() if target is None else -grad.sign()
        step = step_size * direction * moving.view(-1, 1, 1, 1)
        delta = (delta.detach() + step).clamp(-eps, eps)
        delta = (pixels + delta).clamp(0, 1) - pixels  # a real image: pixels stay in [0, 1]
    return (pixels + delta.detach()).clamp(0, 1), used


def _fooled(logits: torch.Tensor, labels: torch.Tensor, target: torch.Tensor | None
            ) -> torch.Tensor:
    predicted = logits.argmax(1)
    return predicted != labels if target is None else predicted == target


# ------------------------------------------------------------------ one input, for the app

@dataclass
class AttackResult:
    method: str  # "fgsm" or "pgd"
    eps: float  # the budget, in pixel units
    steps: int  # the budget of steps (1 for FGSM)
    steps_used: int  # steps taken until the model was fooled (or all of them)
    target: int | None  # the class aimed at; None: any other class
    original_class: int  # the model's answer for the original image
    original_label: str  # its name
    original: np.ndarray  # (28, 28) float32 pixels in [0, 1]
    perturbed: np.ndarray  # (28, 28) float32 pixels in [0, 1]
    probabilities: np.ndarray  # (10,) float64: the model's answer for the perturbed image
    top: list[tuple[int, str, float]]  # (class, name, probability), most probable first
    success: bool  # the model now says another class (or the target)
    seconds: float

    @property
    def perturbation(self) -> np.ndarray:
        return self.perturbed - self.original

    @property
    def predicted(self) -> int:
        return self.top[0][0]

    @property
    def linf(self) -> float:
        return float(np.abs(self.perturbation).max())

    @property
    def l2(self) -> float:
        return float(np.sqrt((self.perturbation.astype(np.float64) ** 2).sum()))

    @property
    def message(self) -> str:
        steps = f"{self.steps_used} step{'s' if self.steps_used != 1 else ''}"
        if self.success:
            return (f"fooled: it now says {self.top[0][1]} (was {self.original_label}) at "
                    f"eps={self.eps:g} after {steps}")
        budget = "1 step" if self.method == "fgsm" else f"{self.steps} steps"
        aim = "" if self.target is None else f" into {self.target}"
        hint = "try a larger budget" + (" or PGD" if self.method == "fgsm" else "")
        return f"not fooled{aim} at eps={self.eps:g} in {budget}; {hint}"


def check_budget(eps: float, steps: int, method: str) -> None:
    """Raises ValueError with a short message for a budget the attack cannot use."""
    if method not in METHODS:
        raise ValueError(f"unknown attack {method!r}: choose one of {', '.join(METHODS)}")
    if not isinstance(eps, (int, float)) or not 0 < eps <= MAX_EPS:
        raise ValueError(f"the budget eps must be more than 0 and at most {MAX_EPS:g} "
                         f"(pixel units, 0-1), got {eps!r}: at 0 nothing may change")
    if not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")


def as_pixels(image: np.ndarray) -> torch.Tensor:
    """(28, 28) uint8 (0-255) or float (0-1) -> (1, 1, 28, 28) float32 in [0, 1]."""
    arr = np.asarray(image)
    pixels = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    if pixels.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {pixels.shape}")
    return torch.from_numpy(np.clip(pixels, 0.0, 1.0)).view(1, 1, 28, 28)


def attack(model: nn.Module, image: np.ndarray, mean: float, std: float,
           class_names: list[str] | tuple[str, ...], eps: float, method: str = "pgd",
           steps: int = DEFAULT_STEPS, target: int | None = None, random_start: bool = False,
           k: int = 5) -> AttackResult:
    """Attack one 28x28 image (the input the model saw). Raises ValueError for a budget
    of 0 or out of range, a blank image, or a target the model already answers."""
    check_budget(eps, steps, method)
    if target is not None and not 0 <= target < len(class_names):
        raise ValueError(f"target must be a class from 0 to {len(class_names) - 1}, got {target}")
    start = time.perf_counter()
    device = device_of(model)
    pixels = as_pixels(image).to(device)
    if not pixels.any():
        raise ValueError("blank input (no ink found): nothing to attack")
    with evaluating(model):
        with torch.inference_mode():
            original_class = int(model((pixels - mean) / std).argmax(1))
        if target == original_class:
            raise ValueError(f"the model already answers {class_names[target]}: pick another "
                             f"target, or any other class")
        labels = torch.tensor([original_class], device=device)
        aim = None if target is None else torch.tensor([target], device=device)
        steps = 1 if method == "fgsm" else steps
        size = eps if method == "fgsm" else pgd_step_size(eps, steps)
        adv, used = perturb(model, pixels, labels, eps, steps, size, mean, std,
                            random_start=random_start and method == "pgd", target=aim)
        with torch.inference_mode():
            probs = model((adv - mean) / std).double().softmax(-1).cpu().numpy().reshape(-1)
    top = rank(probs, class_names, k)
    success = top[0][0] != original_class if target is None else top[0][0] == target
    return AttackResult(method, float(eps), steps, used, target, original_class,
                        class_names[original_class],
                        pixels.cpu().numpy().reshape(28, 28), adv.cpu().numpy().reshape(28, 28),
                        probs, top, success, time.perf_counter() - start)


@dataclass
class TransferRow:
    model: str  # the model's name, as the caller gives it
    original: int  # its answer for the original image
    perturbed: int  # its answer for the perturbed image
    confidence: float  # its probability for that answer
    fooled: bool  # moved off its original answer (untargeted) or onto the target


def transfer(result: AttackResult, models: Iterable[tuple[str, nn.Module, float, float]]
             ) -> list[TransferRow]:
    """The perturbed image of `result` through other models: (name, model, mean, std)."""
    rows = []
    for name, model, mean, std in models:
        batch = torch.from_numpy(np.stack([result.original, result.perturbed]))[:, None]
        with evaluating(model), torch.inference_mode():
            probs = model((batch.to(device_of(model)) - mean) / std).softmax(-1).cpu()
        before, after = int(probs[0].argmax()), int(probs[1].argmax())
        fooled = after != before if result.target is None else after == result.target
        rows.append(TransferRow(name, before, after, float(probs[1, after]), fooled))
    return rows


# ------------------------------------------------------------------ adversarial training

def training_attack(kind: str, eps: float, steps: int, mean: float, std: float
                    ) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """What adversarial training does to each normalised batch before the training step:
    None for "none"; "fgsm": fast FGSM from a random start, one step of 1.25 * eps;
    "pgd": `steps` steps of 2.5 * eps / steps from a random start."""
    if kind == "none":
        return None
    steps, size = (1, FAST_FGSM_STEP * eps) if kind == "fgsm" else (steps, pgd_step_size(eps, steps))

    def adversarial(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        adv, _ = perturb(model, x * std + mean, y, eps, steps, size, mean, std,
                         random_start=True, stop_when_fooled=False)
        return (adv - mean) / std  # elementwise: keeps the batch's memory layout

    return adversarial


def attack_passes(kind: str, steps: int) -> int:
    """Extra forward-and-backward passes per training sample the attack costs."""
    return {"none": 0, "fgsm": 1}.get(kind, steps)

