"""A run as a standalone PyTorch script: "show me the code".

`script(cfg)` writes a Python file that imports only torch, torchvision and the
standard library and trains what `cfg` trains, the way the app does: the same
network (each layer kind's `code` rule in core.networks.spec, so the same modules
with the same parameters in the same places), the same split of the training file
into training and validation images (core.data.train_val_indices), the same
optimizer and schedule (core.train.optim), augmentation (core.train.augment, whose
functions it carries as they are), label smoothing, adversarial training, the best
epoch chosen by validation loss, and one score on the test set at the end.

What it leaves out is speed and bookkeeping the app adds around the same recipe:
channels-last memory, fused optimizers, bf16 autocast where the CPU has it, CUDA
graphs, the per-step reseeding that makes a resumed run bit-exact, stop and resume;
and outlier exposure and canvas redraws, whose images the app's generators draw (its
header says so when the run uses them).
So its numbers differ from the app's run by the luck of the draw, not by the recipe
(tests/test_script.py trains both and compares).
"""
from __future__ import annotations

import inspect
import textwrap

from core.data import DATASETS, SPLIT_SEED, TRAIN_SIZE, VAL_SIZE
from core.networks import layers as blocks
from core.networks.models import CUSTOM, get_architecture
from core.networks.spec import module_code
from core.train import augment as augmentation
from core.train.config import TrainConfig

MAX_SHIFT = inspect.signature(augmentation.augment).parameters["max_shift"].default
OPTIMIZERS = {
    "adam": "torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)",
    "adamw": "torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)",
    "sgd": "torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=True,\n"
           "                                weight_decay=WEIGHT_DECAY)",
}
ATTACKS = {"fgsm": "fast FGSM (Wong et al. 2020): one step, from a random start",
           "pgd": "PGD: {steps} steps, from a random start"}


def spec_of(cfg: TrainConfig) -> str:
    """The layers the run trains: a built-in architecture's, or its own (custom)."""
    return cfg.layers if cfg.model == CUSTOM else get_architecture(cfg.model).spec


def script(cfg: TrainConfig) -> str:
    """The run of `cfg` as one Python file (see the module docstring)."""
    parts = [_header(cfg) + "\n" + _IMPORTS, _settings(cfg), _network(cfg)]
    if cfg.augment:
        parts.append(_augmentation(cfg))
    if cfg.adversarial != "none":
        parts.append(_ADVERSARIAL)
    parts += [_DATA, _train_loop(cfg), _MAIN]
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


def _header(cfg: TrainConfig) -> str:
    spec = DATASETS[cfg.dataset]
    model = "a custom network" if cfg.model == CUSTOM else cfg.model
    what = textwrap.fill(
        "Generated from the run's settings; it needs only torch and torchvision, and does "
        "what the app's trainer does with them: the same network, the same "
        f"{TRAIN_SIZE:,} training and {VAL_SIZE:,} validation images, optimizer, schedule"
        + (", augmentation" if cfg.augment else "") + "; the best epoch (by validation "
        "loss) is scored once on the 10,000 test images. The app adds only speed "
        "(channels-last, fused optimizers, bf16 where the CPU has it) and stop/resume, so "
        "a run of this script ends within the luck of the draw of the app's.", width=88)
    if cfg.outlier_exposure > 0 or cfg.canvas_redraws > 0:
        what += "\n\n" + textwrap.fill(
            "Left out: outlier exposure and canvas redraws. Their images come from the "
            "app's own generators (core/predict/ood_sets.py, core/predict/redraw.py), so "
            "this script trains without them.", width=88)
    return f'''"""An MNIST Studio run as a standalone PyTorch script: {model} on {spec.title}.

{what}

    python run.py --data DIR --epochs {cfg.epochs}

DIR is a torchvision data root: it holds {spec.folder}/raw/, or the files are
downloaded there (when the network allows). Add --device cpu or cuda to choose.
"""'''


_IMPORTS = '''
import argparse
import copy
import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import datasets
'''


def _settings(cfg: TrainConfig) -> str:
    spec = DATASETS[cfg.dataset]
    lines = [
        "# ---- the run's settings",
        f"DATASET = datasets.{spec.torchvision_name}",
        f"MEAN, STD = {spec.mean}, {spec.std}  # the training pixels' (0..1): inputs are "
        "normalised",
        f"EPOCHS = {cfg.epochs}",
        f"BATCH_SIZE = {cfg.batch_size}",
        f"LR = {cfg.lr!r}  # " + ("the peak rate of the one-cycle schedule"
                                  if cfg.schedule == "onecycle" else "constant"),
        f"WEIGHT_DECAY = {cfg.weight_decay!r}",
        f"LABEL_SMOOTHING = {cfg.label_smoothing!r}",
        f"SEED = {cfg.seed}",
    ]
    if cfg.adversarial != "none":
        steps, size = (1, "1.25 * EPS") if cfg.adversarial == "fgsm" else (
            cfg.adv_steps, f"2.5 * EPS / {cfg.adv_steps}")
        lines += [f"EPS = {cfg.adv_eps!r}  # adversarial training's budget, in pixel units (0..1)",
                  "# " + ATTACKS[cfg.adversarial].format(steps=cfg.adv_steps),
                  f"ATTACK_STEPS, STEP_SIZE = {steps}, {size}"]
    return "\n".join(lines)


def _network(cfg: TrainConfig) -> str:
    modules = module_code(spec_of(cfg))
    needed = {name for m in modules for name in m.blocks}
    # In dependency order (Residual calls conv_bn), each as core.networks.layers has it.
    helpers = [inspect.getsource(getattr(blocks, name)) for name in ("conv_bn", "Residual")
               if name in needed]
    width = max(len(m.source) for m in modules) + 1
    rows = [f"        {m.source + ',':<{width}}  # {m.info.token:<10} -> "
            + " x ".join(map(str, m.info.shape)) for m in modules]
    name = "Your own layers" if cfg.model == CUSTOM else cfg.model
    doc = textwrap.fill(f"{name}: {spec_of(cfg).replace(',', ', ')}. Each line is one layer "
                        "and its output for one image (channels x height x width).",
                        width=84, subsequent_indent="    ")
    return "# ---- the network\n" + "\n\n".join([*helpers, f'''def make_model() -> nn.Sequential:
    """{doc}"""
    return nn.Sequential(
{chr(10).join(rows)}
    )'''])


def _augmentation(cfg: TrainConfig) -> str:
    spec = DATASETS[cfg.dataset]
    used = [augmentation.random_shift]
    calls = [f"x = random_shift(x, {MAX_SHIFT}, FILL)"]
    if spec.hflip_ok:
        used.append(augmentation.random_hflip)
        calls.append("x = random_hflip(x)")
    if cfg.erase:
        used.append(augmentation.random_erase)
        calls.append(f"x = random_erase(x, {cfg.erase}, FILL)")
    what = [f"each image shifted by up to {MAX_SHIFT} px"] + (
        ["half of them mirrored"] if spec.hflip_ok else []) + (
        [f"a square of {cfg.erase} px blanked in half of them"] if cfg.erase else [])
    body = textwrap.indent("\n".join(calls + ["return x"]), "    ")
    doc = textwrap.fill(f"The normalised (B, 1, 28, 28) batch changed: {', '.join(what)}.",
                        width=84, subsequent_indent="    ")
    return ("# ---- augmentation: each training batch is changed a little, differently every "
            "time\nFILL = (0.0 - MEAN) / STD  # a black pixel, normalised\n\n\n"
            + "\n\n".join([*[inspect.getsource(f) for f in used],
                            f'''def augment(x: torch.Tensor) -> torch.Tensor:
    """{doc}"""
{body}''']))


_ADVERSARIAL = '''
# ---- adversarial training: each batch is trained on as perturbed to raise the loss
def adversarial(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The normalised batch x, changed by at most EPS per pixel (in 0..1 pixel units):
    a random start, then ATTACK_STEPS signed-gradient steps up the loss."""
    pixels = x * STD + MEAN
    delta = torch.empty_like(pixels).uniform_(-EPS, EPS)
    delta = (pixels + delta).clamp(0, 1) - pixels  # a real image: pixels stay in 0..1
    for _ in range(ATTACK_STEPS):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model((pixels + delta - MEAN) / STD), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, delta)  # the input's gradient, not the weights'
        delta = (delta.detach() + STEP_SIZE * grad.sign()).clamp(-EPS, EPS)
        delta = (pixels + delta).clamp(0, 1) - pixels
    return (pixels + delta - MEAN) / STD
'''

_DATA = f'''
# ---- the data: whole splits as tensors in memory (no per-image pipeline needed)
def load(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (N, 1, 28, 28) images and their labels, read by torchvision."""
    try:
        ds = DATASET(root, train=train, download=True)  # no download when the files are there
    except Exception as err:  # offline and missing, or damaged
        raise SystemExit(f"cannot load {{DATASET.__name__}} under {{root}}: {{err}}")
    x = (ds.data.float() / 255 - MEAN) / STD
    return x.unsqueeze(1), ds.targets.long()


def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training file's images split into (train, validation) positions, the same way
    every time: {VAL_SIZE:,} of the {TRAIN_SIZE + VAL_SIZE:,} (a fifth of any other size) chosen by
    a fixed seed choose the best epoch; the model never trains on them."""
    val_size = {VAL_SIZE} if n == {TRAIN_SIZE + VAL_SIZE} else max(1, n // 5)
    order = torch.randperm(n, generator=torch.Generator().manual_seed({SPLIT_SEED}))
    return order[val_size:].sort().values, order[:val_size].sort().values


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean loss and accuracy over a split, in eval mode (dropout off, BatchNorm's
    running statistics)."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), 1000):
        logits = model(x[i:i + 1000])
        loss += F.cross_entropy(logits, y[i:i + 1000], reduction="sum").item()
        correct += (logits.argmax(1) == y[i:i + 1000]).sum().item()
    return loss / len(y), correct / len(y)
'''


def _train_loop(cfg: TrainConfig) -> str:
    onecycle = cfg.schedule == "onecycle"
    schedule = '''
    # One cycle: the rate warms up from LR / 10 to LR over the first quarter of the steps,
    # then anneals to LR / 1000 (a run of a handful of steps warms up over a larger share;
    # one of fewer than 3 steps keeps LR).
    total = epochs * math.ceil(len(train_y) / BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LR, total_steps=total, pct_start=min(0.5, max(0.25, 2 / total)),
        div_factor=10.0, final_div_factor=100.0) if total >= 3 else None''' if onecycle else ""
    changes = "".join(line for on, line in (
        (cfg.augment, "            x = augment(x)\n"),
        (cfg.adversarial != "none", "            x = adversarial(model, x, y)  # after augmenting\n"),
    ) if on)
    step = '''
            if schedule is not None:
                schedule.step()  # the rate changes every step''' if onecycle else ""
    return f'''
# ---- training: the best epoch by validation loss is kept
def train(model: nn.Module, train_x, train_y, val_x, val_y, epochs: int) -> nn.Module:
    optimizer = {OPTIMIZERS[cfg.optimizer]}{schedule}
    best_loss, best_state = math.inf, None
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train_y), device=train_y.device)
        for i in range(0, len(order), BATCH_SIZE):
            x, y = train_x[order[i:i + BATCH_SIZE]], train_y[order[i:i + BATCH_SIZE]]
{changes}            loss = F.cross_entropy(model(x), y, label_smoothing=LABEL_SMOOTHING)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(){step}
        val_loss, val_accuracy = evaluate(model, val_x, val_y)
        print(f"epoch {{epoch}}/{{epochs}}  val loss {{val_loss:.4f}}  val accuracy {{val_accuracy:.4f}}")
        if best_state is None or val_loss < best_loss:
            best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model
'''


_MAIN = '''
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--data", default="data", help="torchvision data root")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(SEED)  # the same starting weights as the app's run of this seed

    images, labels = load(args.data, train=True)
    train_idx, val_idx = split(len(labels))
    test_x, test_y = load(args.data, train=False)
    model = make_model().to(device)
    model = train(model, images[train_idx].to(device), labels[train_idx].to(device),
                  images[val_idx].to(device), labels[val_idx].to(device), args.epochs)
    _, accuracy = evaluate(model, test_x.to(device), test_y.to(device))
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
'''
