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

from torch import nn

from core.layers import Dropout, Residual, conv_bn

GRAMMAR = """\
    conv32k3     convolution: 32 channels, 3x3 kernel (add s2: stride 2, p1: padding 1)
    convbn64     3x3 conv (padding 1, no bias) + batch norm + ReLU, as one block
    res64        residual block: x + two convbn64 (keeps 64 channels and the map size)
    pool2        2x2 max pooling (avgpool2: average pooling)
    gmaxpool     global max pooling to 1x1 (gavgpool: global average)
    bn           batch norm (of the channels, or of the features after flatten)
    relu, gelu, tanh, sigmoid
    drop0.2      dropout, p = 0.2
    flatten      (implied before the first fc)
    fc128        fully connected, 128 units; the last layer is fc10, one per class

e.g. conv32k3,pool2,relu,conv64k3,pool2,relu,fc128,drop0.2,fc10. As JSON (--arch-file):
a list of those tokens, or of objects like {"type": "conv", "channels": 32, "kernel": 3}.
"""
INPUT_SHAPE = (1, 28, 28)
CLASSES = 10
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
GLOBAL_POOLS = {"gmaxpool": nn.AdaptiveMaxPool2d, "gavgpool": nn.AdaptiveAvgPool2d}
POOLS = {"pool": nn.MaxPool2d, "avgpool": nn.AvgPool2d}
MAX_WIDTH = 4096  # channels or units of one layer: a typo guard, before any bound

_CONV = re.compile(r"conv(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?")
_PATTERNS = [  # (kind, regex): the grammar, one line per layer type
    ("conv", _CONV),
    ("convbn", re.compile(r"convbn(\d+)")),
    ("res", re.compile(r"res(\d+)")),
    ("pool", re.compile(r"(avg)?pool(\d+)")),
    ("global", re.compile(r"(gmaxpool|gavgpool)")),
    ("bn", re.compile(r"bn")),
    ("act", re.compile(r"(relu|gelu|tanh|sigmoid)")),
    ("drop", re.compile(r"drop(\d*\.?\d+)")),
    ("flatten", re.compile(r"flatten")),
    ("fc", re.compile(r"fc(\d+)")),
]


class SpecError(ValueError):
    """The spec cannot be built or trained; the message names the layer and says why."""


@dataclass(frozen=True)
class Layer:
    """One layer of a spec. `kind` is the grammar's layer type; the rest its numbers."""
    kind: str  # conv convbn res pool avgpool gmaxpool gavgpool bn relu gelu tanh sigmoid drop flatten fc
    size: int = 0  # channels (conv, convbn, res), units (fc), window (pool)
    kernel: int = 0  # conv only
    stride: int = 1  # conv only
    padding: int = 0  # conv only
    p: float = 0.0  # drop only

    @property
    def token(self) -> str:
        k = self.kind
        if k == "conv":
            return (f"conv{self.size}k{self.kernel}" + (f"s{self.stride}" if self.stride != 1 else "")
                    + (f"p{self.padding}" if self.padding else ""))
        if k in ("convbn", "res", "fc"):
            return f"{k}{self.size}"
        if k in POOLS:
            return f"{k}{self.size}"
        if k == "drop":
            return f"drop{self.p:g}"
        return k


def parse_token(token: str, index: int) -> Layer:
    """One token -> Layer; `index` (1-based) only names the layer in the message."""
    text = token.strip().lower()
    for kind, pattern in _PATTERNS:
        m = pattern.fullmatch(text)
        if not m:
            continue
        if kind == "conv":
            size, kernel, stride, pad = (int(g) if g else None for g in m.groups())
            return Layer("conv", size, kernel, stride or 1, pad or 0)
        if kind in ("convbn", "res", "fc"):
            return Layer(kind, int(m.group(1)))
        if kind == "pool":
            return Layer("avgpool" if m.group(1) else "pool", int(m.group(2)))
        if kind in ("global", "act"):
            return Layer(m.group(1))
        if kind == "drop":
            return Layer("drop", p=float(m.group(1)))
        return Layer(kind)
    raise SpecError(f"layer {index}: {token.strip()!r} is not a layer. Layers: conv32k3 "
                    "(s2 stride, p1 padding), convbn64, res64, pool2, avgpool2, gmaxpool, "
                    "gavgpool, bn, relu, gelu, tanh, sigmoid, drop0.2, flatten, fc128")


def _from_object(obj: dict, index: int) -> Layer:
    """{"type": "conv", "channels": 32, "kernel": 3, ...} -> Layer (the JSON form)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise SpecError(f"layer {index}: expected a token or an object with a \"type\"")
    kind = obj["type"].lower()
    size = obj.get("channels", obj.get("units", obj.get("size", 0)))
    try:
        if kind == "conv":
            return Layer("conv", int(size), int(obj.get("kernel", 3)), int(obj.get("stride", 1)),
                         int(obj.get("padding", 0)))
        if kind == "drop" or kind == "dropout":
            return Layer("drop", p=float(obj.get("p", 0.5)))
        if kind in ("pool", "avgpool"):
            return Layer(kind, int(obj.get("size", obj.get("kernel", 2))))
        if kind in ("linear", "fc"):
            return Layer("fc", int(size))
        return parse_token(kind + (str(int(size)) if size else ""), index)
    except (TypeError, ValueError) as err:
        if isinstance(err, SpecError):
            raise
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


SIZED = ("conv", "convbn", "res", "fc")  # layers with a width (channels or units)


def widths(spec: str | list) -> list[tuple[int, str]]:
    """(position, token) of the layers whose width can change: every conv, convbn, res
    and fc but the last layer (the 10 classes)."""
    layers = parse(spec)
    return [(i, layer.token) for i, layer in enumerate(layers[:-1], 1) if layer.kind in SIZED]


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


def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def check(spec: str | list) -> Report:
    """Walk the shapes from 1x28x28 to the logits; raises SpecError naming the first layer
    that cannot work. Returns each layer's output shape, parameters and FLOPs."""
    layers = parse(spec)
    report, shape = Report(), INPUT_SHAPE
    for i, layer in enumerate(layers, 1):
        k = layer.kind
        if k in ("conv", "convbn", "res", "fc") and not 1 <= layer.size <= MAX_WIDTH:
            raise _fail(i, layer, f"width must be 1..{MAX_WIDTH}")
        if k in ("conv", "convbn", "res", "pool", "avgpool", "gmaxpool", "gavgpool") and len(shape) != 3:
            raise _fail(i, layer, "needs feature maps, but the layers before it flattened them "
                                  "(put convolutions and pooling before the first fc)")
        params = flops = 0
        if k == "fc" and len(shape) == 3:  # the implied flatten
            shape = (math.prod(shape),)
            report.layers.append(LayerInfo(i, "flatten", shape, 0, 0))
        if k == "conv":
            c, h, w = shape
            if layer.kernel < 1 or layer.stride < 1:
                raise _fail(i, layer, "kernel and stride must be at least 1")
            if layer.padding >= layer.kernel:
                raise _fail(i, layer, f"padding {layer.padding} must be smaller than the kernel")
            if layer.kernel > min(h, w) + 2 * layer.padding:
                raise _fail(i, layer, f"a {layer.kernel}x{layer.kernel} kernel on a {h}x{w} map")
            oh, ow = (_conv_out(n, layer.kernel, layer.stride, layer.padding) for n in (h, w))
            shape = (layer.size, oh, ow)
            params = c * layer.size * layer.kernel ** 2 + layer.size
            flops = 2 * c * layer.kernel ** 2 * layer.size * oh * ow
        elif k == "convbn":
            c, h, w = shape
            shape = (layer.size, h, w)
            params = c * layer.size * 9 + 2 * layer.size
            flops = 2 * c * 9 * layer.size * h * w
        elif k == "res":
            c, h, w = shape
            if c != layer.size:
                raise _fail(i, layer, f"a residual block keeps its width: it gets {c} channels, "
                                      f"not {layer.size} (write res{c}, or convbn{layer.size} before it)")
            params = 2 * (c * c * 9 + 2 * c)
            flops = 2 * (2 * c * 9 * c * h * w)
        elif k in POOLS:
            c, h, w = shape
            if layer.size < 1:
                raise _fail(i, layer, "the pooling window must be at least 1")
            if layer.size > min(h, w):
                raise _fail(i, layer, f"a {layer.size}x{layer.size} window on a {h}x{w} map")
            shape = (c, h // layer.size, w // layer.size)
        elif k in GLOBAL_POOLS:
            shape = (shape[0], 1, 1)
        elif k == "bn":
            params = 2 * shape[0]
        elif k == "drop":
            if not 0.0 <= layer.p < 1.0:
                raise _fail(i, layer, "dropout p must be in [0, 1)")
        elif k == "flatten":
            shape = (math.prod(shape),)
        elif k == "fc":
            params = shape[0] * layer.size + layer.size
            flops = 2 * shape[0] * layer.size
            shape = (layer.size,)
        report.layers.append(LayerInfo(i, layer.token, shape, params, flops))
    last = layers[-1]
    if last.kind != "fc" or last.size != CLASSES:
        raise SpecError(f"the last layer must be fc{CLASSES}, one output per class "
                        f"(it is {last.token})")
    return report


@dataclass(frozen=True)
class Bounds:
    """A server's limits on one model (core.settings: max_layers, max_parameters,
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
        modules.append(_module(parse_token(info.token, info.index), shape))
        shape = info.shape
    return nn.Sequential(*modules)


def _module(layer: Layer, shape: tuple[int, ...]) -> nn.Module:
    """One layer's module, given the shape of its input."""
    k, c = layer.kind, shape[0]
    if k == "conv":
        return nn.Conv2d(c, layer.size, layer.kernel, stride=layer.stride, padding=layer.padding)
    if k == "convbn":
        return conv_bn(c, layer.size)
    if k == "res":
        return Residual(layer.size)
    if k in POOLS:
        return POOLS[k](layer.size)
    if k in GLOBAL_POOLS:
        return GLOBAL_POOLS[k](1)
    if k == "bn":
        return nn.BatchNorm2d(c) if len(shape) == 3 else nn.BatchNorm1d(c)
    if k in ACTIVATIONS:
        return ACTIVATIONS[k]()
    if k == "drop":
        return Dropout(layer.p)
    if k == "flatten":
        return nn.Flatten()
    return nn.Linear(c, layer.size)  # fc: its input is flat (check inserted the flatten)
