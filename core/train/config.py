"""TrainConfig: the one schema of a training run's settings.

Each field carries a Setting (its help text and what it accepts). The
command-line flags of `python -m core.train`, the Train page's widgets and
the validation below all read it, so a range or a list of choices is
written down once.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Mapping, get_type_hints

from core.data import DATASETS
from core.machine.device import DEVICE_NAMES
from core.networks.models import ARCHITECTURES, CUSTOM
from core.networks.spec import SpecError, canonical, check

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "onecycle")
ADVERSARIAL = ("none", "fgsm", "pgd")  # core.predict.attacks.training_attack


class ConfigError(ValueError):
    """One or more settings are invalid; the message names each field and what it accepts."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems  # field name -> "epochs must be between 1 and 200, got 500"
        super().__init__("; ".join(problems.values()))


@dataclass(frozen=True)
class Setting:
    """What one TrainConfig field accepts, and how to explain it."""
    help: str
    low: float | None = None  # inclusive bounds of a number
    high: float | None = None
    choices: tuple[str, ...] = ()
    noun: str | None = None  # "unknown <noun> 'x'" in messages (default: the field's name)
    cli_required: bool = False  # `python -m core.train` insists on it

    @property
    def range_text(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"between {_number(self.low)} and {_number(self.high)}"
        return ""

    def problem(self, name: str, value: Any) -> str | None:
        """Why `value` is not acceptable for the field `name`, or None when it is."""
        if self.choices and value not in self.choices:
            return f"unknown {self.noun or name} {value!r}: {name} must be {self.range_text}"
        if self.low is None:
            return None
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not is_number or not self.low <= value <= self.high:
            shown = _number(value) if is_number else repr(value)
            return f"{name} must be {self.range_text}, got {shown}"
        return None


def _number(x: float) -> str:
    """2147483647 as such, 1e-05 as such."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def setting(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with its Setting as metadata."""
    return field(default=default, metadata={"setting": Setting(help, **kw)})


@dataclass
class TrainConfig:
    dataset: str = setting("mnist", "mnist (digits) or fashion (garments)",
                           choices=tuple(DATASETS), noun="dataset", cli_required=True)
    model: str = setting("cnn", "architecture name, e.g. ffnn, cnn, resnet; custom: your own "
                         "--layers", choices=(*ARCHITECTURES, CUSTOM), noun="architecture",
                         cli_required=True)
    layers: str = setting("", "a custom model's layers, e.g. conv32k3,pool2,relu,fc128,fc10 "
                          "(the grammar: below)")
    epochs: int = setting(5, "passes over the 48,000 training images", low=1, high=200)
    batch_size: int = setting(128, "samples per step", low=1, high=8192)
    lr: float = setting(1e-3, "learning rate; the peak under onecycle", low=1e-5, high=2.0)
    optimizer: str = setting("adam", "optimizer", choices=OPTIMIZERS, noun="optimizer")
    schedule: str = setting("onecycle", "learning-rate schedule: onecycle warms up to the "
                            "peak rate, then anneals; constant keeps it",
                            choices=SCHEDULES, noun="schedule")
    weight_decay: float = setting(0.0, "weight decay", low=0.0, high=1.0)
    label_smoothing: float = setting(0.0, "label smoothing", low=0.0, high=0.5)
    augment: bool = setting(False, "random shifts of up to 2 px (and horizontal flips for "
                            "fashion)")
    erase: int = setting(0, "with augment: cutout square side in px (0 = off)", low=0, high=14)
    adversarial: str = setting("none", "adversarial training: train on perturbed images; "
                               "fgsm is fast FGSM from a random start (Wong et al. 2020), "
                               "pgd takes adv-steps steps (slower, stronger)",
                               choices=ADVERSARIAL, noun="adversarial training")
    adv_eps: float = setting(0.3, "with adversarial: the L-inf budget in pixel units (0-1) "
                             "that training images are perturbed within", low=0.01, high=0.5)
    adv_steps: int = setting(7, "with adversarial pgd: attack steps per training step",
                             low=1, high=40)
    outlier_exposure: float = setting(0.0, "outlier exposure: the weight of a second loss "
                                      "that shows each step half a batch of generated "
                                      "inputs of none of the classes (letters, strokes, "
                                      "shapes, pairs and crops of the images, the other "
                                      "dataset, textures) and teaches a uniform answer on "
                                      "them, so the model can say \"I don't know\"; 0 = off "
                                      "(the first run on a machine spends a few minutes "
                                      "drawing them)", low=0.0, high=5.0)
    canvas_redraws: float = setting(0.0, "share of each batch's images swapped for training "
                                    "images as a person gives them to the app (digits "
                                    "drawn as canvas strokes, garments photographed), so "
                                    "drawings and photos look familiar; 0 = off",
                                    low=0.0, high=1.0)
    seed: int = setting(0, "random seed", low=0, high=2**31 - 1)
    device: str = setting("auto", "auto picks cuda, then mps, then cpu",
                          choices=DEVICE_NAMES, noun="device")
    data_dir: str | None = setting(None, "data root holding MNIST/raw and FashionMNIST/raw "
                                   "(default: $MNIST_STUDIO_DATA, else <repo>/data)")

    def __post_init__(self) -> None:
        problems = {name: text for name, s in self.settings().items()
                    if (text := s.problem(name, getattr(self, name))) is not None}
        if "model" not in problems and (text := self._layers_problem()) is not None:
            problems["layers"] = text
        if problems:
            raise ConfigError(problems)

    def _layers_problem(self) -> str | None:
        """A custom model needs layers that make a model (kept in canonical form); a
        built-in one takes none."""
        if self.model != CUSTOM:
            return (f"{self.model} has fixed layers: choose model custom to give your own"
                    if self.layers else None)
        if not isinstance(self.layers, str) or not self.layers.strip():
            return "a custom model needs its layers, e.g. conv32k3,pool2,relu,fc128,fc10"
        try:
            check(self.layers)
            self.layers = canonical(self.layers)
        except SpecError as err:
            return f"layers: {err}"
        return None

    def unused(self) -> set[str]:
        """The settings that do nothing for this run: the layers of a built-in model, the
        cutout without augmentation, the adversarial budget without adversarial training
        (and its steps without PGD)."""
        unused = set()
        if self.model != CUSTOM:
            unused.add("layers")
        if not self.augment:
            unused.add("erase")
        if self.adversarial == "none":
            unused.add("adv_eps")
        if self.adversarial != "pgd":
            unused.add("adv_steps")
        return unused

    @classmethod
    def settings(cls) -> dict[str, Setting]:
        """Every field's Setting, in field order."""
        return {f.name: f.metadata["setting"] for f in fields(cls)}

    @classmethod
    def types(cls) -> dict[str, type]:
        """Each field's value type (str for `str | None`)."""
        hints = get_type_hints(cls)
        return {name: next(t for t in (bool, int, float, str) if t == hints[name]
                           or t in getattr(hints[name], "__args__", ()))
                for name in cls.settings()}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """From stored settings (config.json, checkpoint metadata); unknown keys are ignored."""
        names = cls.settings()
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "TrainConfig":
        """From values a person entered (widgets, flags): each converted to its field's type.

        A value that does not convert is reported like an out-of-range one,
        naming the field, and nothing is replaced by a default silently.
        """
        types, settings = cls.types(), cls.settings()
        converted, problems = {}, {}
        for name, value in values.items():
            if name not in types:
                continue
            try:
                converted[name] = _convert(value, types[name])
            except (TypeError, ValueError):
                kind = {int: "a whole number", float: "a number"}.get(types[name], "text")
                extra = f" {settings[name].range_text}" if settings[name].range_text else ""
                problems[name] = f"{name} must be {kind}{extra}, got {value!r}"
        problems |= {name: text for name, value in converted.items()
                     if (text := settings[name].problem(name, value)) is not None}
        if problems:
            raise ConfigError({name: problems[name] for name in settings if name in problems})
        return cls(**converted)


def _convert(value: Any, kind: type) -> Any:
    if value is None or kind is bool:
        return value if value is None else bool(value)
    if kind is int and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return kind(value)
