"""A network is data: a layer list (a spec), checked before anything trains, built into a model.

A spec is a comma-separated list of layer tokens (GRAMMAR, below), read left to right
from the 1x28x28 input to the 10 class logits. A checkpoint stores the canonical token
string (`canonical`), plain data that `weights_only=True` loads: the model is rebuilt
from it, never unpickled.

`check` walks the shapes through every layer and refuses a spec with a message naming
the layer ("layer 5 (conv64k5): a 5x5 kernel on a 2x2 map"); `Bounds` are the server's
limits on size (layers, parameters, FLOPs per image), from the deployment settings.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Callable

from torch import nn

from core.networks.layers import Dropout, Residual, conv_bn

Shape = tuple[int, ...]  # one image's activations: (C, H, W) maps or (F,) features
INPUT_SHAPE: Shape = (1, 28, 28)
CLASSES = 10
MAX_WIDTH = 4096  # channels or units of one layer: a typo guard, before any bound


class SpecError(ValueError):
    """The spec cannot be built or trained; the message names the layer and says why."""


@dataclass(frozen=True)
class Layer:
    """One layer of a spec: its kind (a key of KINDS) and the numbers its kind uses."""
    kind: str
    size: int = 0  # channels (conv, convbn, res), units (fc) or window (pool, avgpool)
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    p: float = 0.0

    @property
    def token(self) -> str:
        return KINDS[self.kind].token(self)


Walk = Callable[[Layer, Shape], tuple[Shape, int, int]]  # -> output shape, parameters, FLOPs


@dataclass(frozen=True)
class Kind:
    """Everything about one layer type, in one place: its grammar, its token, its numbers,
    its shape and cost rule and its module. A new layer type is one entry in KINDS."""
    name: str
    grammar: str  # the token, a regex whose named groups are Layer fields
    help: str  # its line in GRAMMAR
    walk: Walk  # raises ValueError(why) for an input it cannot take
    module: Callable[[Layer, Shape], nn.Module]
    defaults: dict = field(default_factory=dict)  # a field left empty (editor) or out (JSON)
    on_maps: bool = False  # takes (C, H, W) maps only
    flat_input: bool = False  # takes features: a flatten is implied before it
    sized: bool = False  # has a width (channels or units) a sweep may vary
    # The module as plain PyTorch source, for a generated script (core.train.script):
    # "nn.Conv2d(1, 32, 3)". It may call the blocks of core.networks.layers named in
    # `blocks`, whose source the script then carries.
    code: Callable[[Layer, Shape], str] | None = None
    blocks: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """The Layer fields its token carries (the editor's columns for it)."""
        return tuple(re.compile(self.grammar).groupindex)

    @property
    def example(self) -> str:
        return self.token(Layer(self.name, **self.defaults))

    def token(self, layer: Layer) -> str:
        text = self.grammar.split("(", 1)[0]  # the literal head: "conv", "pool", "relu"
        for name in self.fields:
            value = getattr(layer, name)
            if name in ("stride", "padding") and value == getattr(Layer, name):
                continue  # optional parts at their default are left out
            text += {"kernel": "k", "stride": "s", "padding": "p"}.get(name, "")
            text += f"{value:g}" if name == "p" else str(value)
        return text

    def parse(self, text: str) -> Layer | None:
        m = re.fullmatch(self.grammar, text)
        if m is None:
            return None
        numbers = {k: float(v) if k == "p" else int(v) for k, v in m.groupdict().items() if v}
        return Layer(self.name, **numbers)


# ------------------------------------------------------------------ the kinds

def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def _conv(layer: Layer, shape: Shape) -> tuple[Shape, int, int]:
    c, h, w = shape
    if layer.kernel < 1 or layer.stride < 1:
        raise ValueError("kernel and stride must be at least 1")
    if layer.padding >= layer.kernel:
        raise ValueError(f"padding {layer.padding} must be smaller than the kernel")
    if layer.kernel > min(h, w) + 2 * layer.padding:
        raise ValueError(f"a {layer.kernel}x{layer.kernel} kernel on a {h}x{w} map")
    oh, ow = (_conv_out(n, layer.kernel, layer.stride, layer.padding) for n in (h, w))
    params = c * layer.size * layer.kernel ** 2 + layer.size
    return (layer.size, oh, ow), params, 2 * c * layer.kernel ** 2 * layer.size * oh * ow


def _convbn(layer: Layer, shape: Shape) -> tuple[Shape, int, int]:
    c, h, w = shape
    return (layer.size, h, w), c * layer.size * 9 + 2 * layer.size, 2 * c * 9 * layer.size * h * w


def _res(layer: Layer, shape: Shape) -> tuple[Shape, int, int]:
    c, h, w = shape
    if c != layer.size:
        raise ValueError(f"a residual block keeps its width: it gets {c} channels, not "
                         f"{layer.size} (write res{c}, or convbn{layer.size} before it)")
    return shape, 2 * (c * c * 9 + 2 * c), 2 * (2 * c * 9 * c * h * w)


def _pool(layer: Layer, shape: Shape) -> tuple[Shape, int, int]:
    c, h, w = shape
    if layer.size < 1:
        raise ValueError("the pooling window must be at least 1")
    if layer.size > min(h, w):
        raise ValueError(f"a {layer.size}x{layer.size} window on a {h}x{w} map")
    return (c, h // layer.size, w // layer.size), 0, 0


def _drop(layer: Layer, shape: Shape) -> tuple[Shape, int, int]:
    if not 0.0 <= layer.p < 1.0:
        raise ValueError("dropout p must be in [0, 1)")
    return shape, 0, 0


def _fc(layer: Layer, shape: Shape) -> tuple[Shape, int, int]:
    return (layer.size,), shape[0] * layer.size + layer.size, 2 * shape[0] * layer.size


def _same(layer: Layer, shape: Shape) -> tuple[Shape, int, int]:
    return shape, 0, 0


def _conv_code(layer: Layer, shape: Shape) -> str:
    extra = (f", stride={layer.stride}" if layer.stride != 1 else "") + (
        f", padding={layer.padding}" if layer.padding else "")
    return f"nn.Conv2d({shape[0]}, {layer.size}, {layer.kernel}{extra})"


def _kinds() -> dict[str, Kind]:
    size = r"(?P<size>\d+)"
    kinds = [
        Kind("conv", rf"conv{size}k(?P<kernel>\d+)(?:s(?P<stride>\d+))?(?:p(?P<padding>\d+))?",
             "convolution: 32 channels, 3x3 kernel (add s2: stride 2, p1: padding 1)", _conv,
             lambda l, s: nn.Conv2d(s[0], l.size, l.kernel, stride=l.stride, padding=l.padding),
             {"size": 32, "kernel": 3}, on_maps=True, sized=True, code=_conv_code),
        Kind("convbn", rf"convbn{size}", "3x3 conv (padding 1, no bias) + batch norm + ReLU, as one block",
             _convbn, lambda l, s: conv_bn(s[0], l.size), {"size": 64}, on_maps=True, sized=True,
             code=lambda l, s: f"conv_bn({s[0]}, {l.size})", blocks=("conv_bn",)),
        Kind("res", rf"res{size}", "residual block: x + two convbn of its width (keeps the channels and map size)",
             _res, lambda l, s: Residual(l.size), {"size": 64}, on_maps=True, sized=True,
             code=lambda l, s: f"Residual({l.size})", blocks=("conv_bn", "Residual")),
        Kind("pool", rf"pool{size}", "2x2 max pooling", _pool,
             lambda l, s: nn.MaxPool2d(l.size), {"size": 2}, on_maps=True,
             code=lambda l, s: f"nn.MaxPool2d({l.size})"),
        Kind("avgpool", rf"avgpool{size}", "2x2 average pooling", _pool,
             lambda l, s: nn.AvgPool2d(l.size), {"size": 2}, on_maps=True,
             code=lambda l, s: f"nn.AvgPool2d({l.size})"),
        Kind("gmaxpool", "gmaxpool", "global max pooling to 1x1",
             lambda l, s: ((s[0], 1, 1), 0, 0), lambda l, s: nn.AdaptiveMaxPool2d(1), on_maps=True,
             code=lambda l, s: "nn.AdaptiveMaxPool2d(1)"),
        Kind("gavgpool", "gavgpool", "global average pooling to 1x1",
             lambda l, s: ((s[0], 1, 1), 0, 0), lambda l, s: nn.AdaptiveAvgPool2d(1), on_maps=True,
             code=lambda l, s: "nn.AdaptiveAvgPool2d(1)"),
        Kind("bn", "bn", "batch norm (of the channels, or of the features after flatten)",
             lambda l, s: (s, 2 * s[0], 0),
             lambda l, s: nn.BatchNorm2d(s[0]) if len(s) == 3 else nn.BatchNorm1d(s[0]),
             code=lambda l, s: f"nn.BatchNorm{2 if len(s) == 3 else 1}d({s[0]})"),
    ]
    for name, module in (("relu", nn.ReLU), ("gelu", nn.GELU), ("tanh", nn.Tanh),
                         ("sigmoid", nn.Sigmoid)):
        kinds.append(Kind(name, name, f"activation: {module.__name__}", _same,
                          lambda l, s, m=module: m(),
                          code=lambda l, s, m=module: f"nn.{m.__name__}()"))
    kinds += [
        # The app's Dropout draws its mask faster on a CPU; nn.Dropout's has the same law.
        Kind("drop", r"drop(?P<p>\d*\.?\d+)", "dropout, p = 0.5", _drop,
             lambda l, s: Dropout(l.p), {"p": 0.5}, code=lambda l, s: f"nn.Dropout({l.p:g})"),
        Kind("flatten", "flatten", "maps to features (implied before the first fc)",
             lambda l, s: ((math.prod(s),), 0, 0), lambda l, s: nn.Flatten(),
             code=lambda l, s: "nn.Flatten()"),
        Kind("fc", rf"fc{size}", "fully connected, 128 units; the last layer is fc10, one per class",
             _fc, lambda l, s: nn.Linear(s[0], l.size), {"size": 128}, flat_input=True, sized=True,
             code=lambda l, s: f"nn.Linear({s[0]}, {l.size})"),
    ]
    return {kind.name: kind for kind in kinds}


KINDS = _kinds()
ALIASES = {"dropout": "drop", "linear": "fc"}  # the JSON form's other names
GRAMMAR = "\n".join(f"    {k.example:<12} {k.help}" for k in KINDS.values()) + """

e.g. conv32k3,pool2,relu,conv64k3,pool2,relu,fc128,drop0.2,fc10. As JSON (--arch-file):
a list of those tokens, or of objects like {"type": "conv", "channels": 32, "kernel": 3}.
"""


def parse_token(token: str, index: int) -> Layer:
    """One token -> Layer; `index` (1-based) only names the layer in the message."""
    text = token.strip().lower()
    for kind in KINDS.values():
        layer = kind.parse(text)
        if layer is not None:
            return layer
    raise SpecError(f"layer {index}: {token.strip()!r} is not a layer. Layers: "
                    + ", ".join(k.example for k in KINDS.values()))


def _from_object(obj: dict, index: int) -> Layer:
    """{"type": "conv", "channels": 32, "kernel": 3, ...} -> Layer (the JSON form)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise SpecError(f"layer {index}: expected a token or an object with a \"type\"")
    name = ALIASES.get(obj["type"].lower(), obj["type"].lower())
    kind = KINDS.get(name)
    if kind is None:
        return parse_token(name, index)  # says it is not a layer, and what is
    given = {"size": obj.get("channels", obj.get("units", obj.get("size", obj.get("kernel")
                                                                      if not kind.sized else None)))}
    given.update({k: obj[k] for k in ("kernel", "stride", "padding", "p") if k in obj})
    numbers = {**{k: v for k, v in kind.defaults.items() if k != "size"},
               **{k: v for k, v in given.items() if k in kind.fields and v is not None}}
    try:
        return Layer(name, **{k: float(v) if k == "p" else int(v) for k, v in numbers.items()})
    except (TypeError, ValueError) as err:
        raise SpecError(f"layer {index}: {obj}: {err}") from None


def parse(spec: str | list) -> list[Layer]:
    """A token string, a JSON string, or a list of tokens/objects/Layers -> layers."""
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("[") or text.startswith("{"):
            try:
                spec = json.loads(text)
            except json.JSONDecodeError as err:
                raise SpecError(f"the spec is not valid JSON: {err}") from None
        else:
            tokens = [t for t in re.split(r"[,\s]+", text) if t]
            if not tokens:
                raise SpecError("the spec is empty: give at least one layer, ending in fc10")
            return [parse_token(t, i) for i, t in enumerate(tokens, 1)]
    if isinstance(spec, dict):
        spec = spec.get("layers")
    if not isinstance(spec, list) or not spec:
        raise SpecError("the spec is empty: give a list of layers, ending in fc10")
    return [x if isinstance(x, Layer) else parse_token(x, i) if isinstance(x, str)
            else _from_object(x, i) for i, x in enumerate(spec, 1)]


def canonical(spec: str | list) -> str:
    """The spec as its token string: what checkpoints and run configs keep."""
    return ",".join(layer.token for layer in parse(spec))


def widths(spec: str | list) -> list[tuple[int, str]]:
    """(position, token) of the layers whose width can change: every conv, convbn, res
    and fc but the last layer (the 10 classes)."""
    layers = parse(spec)
    return [(i, layer.token) for i, layer in enumerate(layers[:-1], 1) if KINDS[layer.kind].sized]


def with_width(spec: str | list, position: int, size: int) -> str:
    """The spec with layer `position`'s (1-based) channels or units set to `size`."""
    layers = parse(spec)
    if position not in dict(widths(layers)):
        raise SpecError(f"layer {position} has no width to change: choose one of "
                        + ", ".join(f"{i} ({t})" for i, t in widths(layers)))
    layers[position - 1] = replace(layers[position - 1], size=int(size))
    return ",".join(layer.token for layer in layers)


# ------------------------------------------------------------------ shapes and costs

@dataclass(frozen=True)
class LayerInfo:
    index: int  # 1-based, as the user wrote it (an implied flatten shares the next index)
    token: str
    shape: tuple[int, ...]  # output for one image: (C, H, W) or (F,)
    parameters: int
    flops: int  # forward FLOPs for one image (a multiply-add counts 2)


@dataclass
class Report:
    layers: list[LayerInfo] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        return sum(i.parameters for i in self.layers)

    @property
    def flops(self) -> int:
        return sum(i.flops for i in self.layers)


def _fail(index: int, layer: Layer, why: str) -> SpecError:
    return SpecError(f"layer {index} ({layer.token}): {why}")


def check(spec: str | list) -> Report:
    """Walk the shapes from 1x28x28 to the logits; raises SpecError naming the first layer
    that cannot work. Returns each layer's output shape, parameters and FLOPs."""
    layers = parse(spec)
    report, shape = Report(), INPUT_SHAPE
    for i, layer in enumerate(layers, 1):
        kind = KINDS[layer.kind]
        if kind.sized and not 1 <= layer.size <= MAX_WIDTH:
            raise _fail(i, layer, f"width must be 1..{MAX_WIDTH}")
        if kind.on_maps and len(shape) != 3:
            raise _fail(i, layer, "needs feature maps, but the layers before it flattened them "
                                  "(put convolutions and pooling before the first fc)")
        if kind.flat_input and len(shape) == 3:  # the implied flatten
            shape = (math.prod(shape),)
            report.layers.append(LayerInfo(i, "flatten", shape, 0, 0))
        try:
            shape, params, flops = kind.walk(layer, shape)
        except ValueError as err:
            raise _fail(i, layer, str(err)) from None
        report.layers.append(LayerInfo(i, layer.token, shape, params, flops))
    last = layers[-1]
    if last.kind != "fc" or last.size != CLASSES:
        raise SpecError(f"the last layer must be fc{CLASSES}, one output per class "
                        f"(it is {last.token})")
    return report


@dataclass(frozen=True)
class Bounds:
    """A server's limits on one model (core.server.settings: max_layers, max_parameters,
    max_mflops); 0 turns a bound off."""
    layers: int = 0
    parameters: int = 0
    mflops: float = 0.0

    def check(self, report: Report) -> None:
        n = sum(1 for i in report.layers if i.token != "flatten")
        if self.layers and n > self.layers:
            raise SpecError(f"{n} layers: this server allows at most {self.layers}")
        if self.parameters and report.parameters > self.parameters:
            raise SpecError(f"{report.parameters:,} parameters: this server allows at most "
                            f"{self.parameters:,}")
        if self.mflops and report.flops / 1e6 > self.mflops:
            raise SpecError(f"{report.flops / 1e6:,.1f} MFLOPs per image: this server allows at "
                            f"most {self.mflops:,g}")


# ------------------------------------------------------------------ the model

def build(spec: str | list) -> nn.Sequential:
    """The model of a spec (checked first), one module per layer in order (an implied
    flatten is a module too), so a checkpoint's state_dict loads into the model its spec
    builds."""
    report = check(spec)
    modules, shape = [], INPUT_SHAPE
    for info in report.layers:
        layer = parse_token(info.token, info.index)
        modules.append(KINDS[layer.kind].module(layer, shape))
        shape = info.shape
    return nn.Sequential(*modules)


@dataclass(frozen=True)
class ModuleCode:
    """One module of `build(spec)` as PyTorch source, with the layer it comes from."""
    source: str  # "nn.Conv2d(1, 32, 3, padding=1)"
    info: LayerInfo  # its token (an implied flatten: "flatten") and output shape
    blocks: tuple[str, ...]  # the core.networks.layers blocks the source calls


def module_code(spec: str | list) -> list[ModuleCode]:
    """`build(spec)`'s modules as source, in order (each kind's `code` rule): the same
    modules, so the same parameters in the same places. Raises SpecError for a kind
    without a code rule."""
    report = check(spec)
    out, shape = [], INPUT_SHAPE
    for info in report.layers:
        layer = parse_token(info.token, info.index)
        kind = KINDS[layer.kind]
        if kind.code is None:
            raise SpecError(f"layer {info.index} ({info.token}): the {kind.name} kind has no "
                            "code rule, so it cannot be written as a script")
        out.append(ModuleCode(kind.code(layer, shape), info, kind.blocks))
        shape = info.shape
    return out
