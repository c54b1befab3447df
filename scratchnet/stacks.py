"""Layer stacks written as text: ``"conv5x5x8,relu,pool2,conv5x5x16,relu,pool2,flatten,dense128,relu"``.

A stack lists the layers between the input and the output layer (a Dense layer with one unit per
class, always added). Its tokens:

- ``conv<k>x<k>x<channels>`` with optional ``s<stride>`` and ``p<padding>``: ``Conv2D``, e.g.
  ``conv5x5x6p2`` or ``conv3x3x32s2`` (square kernels only);
- ``pool<k>`` with an optional ``s<stride>``: ``MaxPool2D``, e.g. ``pool2`` or ``pool3s2``;
- ``flatten``: images (C, H, W) to features (C·H·W);
- ``dense<units>``: ``Dense``;
- ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``: activations;
- ``dropout<rate>``: ``Dropout``, e.g. ``dropout0.25``.

A stack that starts with ``conv`` or ``pool`` reads flat square images: a ``Reshape`` to
(1, side, side) is put first. ``build_stack`` checks every layer's shape against what it receives,
and the parameter cap of ``scratchnet.limits``, before it allocates that layer's weights.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np

from .conv import Conv2D, Flatten, MaxPool2D, Reshape
from .initializers import UNDRAWN
from .layers import ACTIVATIONS, Dense, Dropout, Layer
from .limits import BYTES_PER_TRAINED_PARAMETER, MAX_TRAIN_PARAMETERS, MAX_WIDTH
from .network import Sequential

MAX_TOKENS = 64
MAX_KERNEL = 32
MAX_CHANNELS = 1024

_CONV = re.compile(r"conv(\d+)x(\d+)x(\d+)(?:s(\d+))?(?:p(\d+))?")
_POOL = re.compile(r"pool(\d+)(?:s(\d+))?")
_DENSE = re.compile(r"dense(\d+)")
_DROPOUT = re.compile(r"dropout(0?\.\d+|0)")
SYNTAX = ("conv<k>x<k>x<channels>[s<stride>][p<padding>], pool<k>[s<stride>], flatten, dense<units>, "
          f"{', '.join(ACTIVATIONS)}, dropout<rate>")


def parse_layers(text: str) -> tuple[str, ...]:
    """The tokens of a stack written as comma-separated text, lower-cased and checked one by one
    (``check_token``). '' or 'none' gives no layer (softmax regression). Raises ValueError."""
    text = text.strip().lower()
    if text in ("", "none"):
        return ()
    tokens = tuple(part.strip() for part in text.split(","))
    if len(tokens) > MAX_TOKENS:
        raise ValueError(f"{len(tokens):,} layers is too many: at most {MAX_TOKENS}")
    for token in tokens:
        check_token(token)
    return tokens


def check_token(token: str) -> None:
    """Raise ValueError, naming the token, when it is not one of the layers above or its numbers
    are out of range."""
    if not isinstance(token, str):
        raise ValueError(f"a layer is written as text, got {token!r}")
    if token in ACTIVATIONS or token == "flatten":
        return
    if m := _CONV.fullmatch(token):
        kh, kw, channels, stride, padding = (int(g) if g is not None else None for g in m.groups())
        if kh != kw:
            raise ValueError(f"layer {token!r}: kernels are square, {kh}x{kw} is not")
        _in_range(token, "kernel", kh, 1, MAX_KERNEL)
        _in_range(token, "channels", channels, 1, MAX_CHANNELS)
        _in_range(token, "stride", 1 if stride is None else stride, 1, MAX_KERNEL)
        _in_range(token, "padding", 0 if padding is None else padding, 0, MAX_KERNEL)
    elif m := _POOL.fullmatch(token):
        _in_range(token, "window", int(m.group(1)), 1, MAX_KERNEL)
        _in_range(token, "stride", int(m.group(2) or 1), 1, MAX_KERNEL)
    elif m := _DENSE.fullmatch(token):
        _in_range(token, "units", int(m.group(1)), 1, MAX_WIDTH)
    elif m := _DROPOUT.fullmatch(token):
        if not 0 <= float(m.group(1)) < 1:
            raise ValueError(f"layer {token!r}: the dropout rate must be at least 0 and below 1")
    else:
        raise ValueError(f"unknown layer {token!r}; the layers are {SYNTAX}")


def token_fields(token: str) -> dict:
    """What a checked token says, as plain data: ``{"kind": "conv", "kernel", "channels", "stride",
    "padding"}``, ``{"kind": "pool", "kernel", "stride"}`` (the stride defaults to the kernel),
    ``{"kind": "dense", "units"}``, ``{"kind": "dropout", "rate"}``, else ``{"kind": token}``
    (``flatten`` and the activations). Raises ValueError as ``check_token``."""
    check_token(token)
    if m := _CONV.fullmatch(token):
        k, _, channels, stride, padding = m.groups()
        return {"kind": "conv", "kernel": int(k), "channels": int(channels), "stride": int(stride or 1),
                "padding": int(padding or 0)}
    if m := _POOL.fullmatch(token):
        return {"kind": "pool", "kernel": int(m.group(1)), "stride": int(m.group(2) or m.group(1))}
    if m := _DENSE.fullmatch(token):
        return {"kind": "dense", "units": int(m.group(1))}
    if m := _DROPOUT.fullmatch(token):
        return {"kind": "dropout", "rate": float(m.group(1))}
    return {"kind": token}


def _in_range(token: str, what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"layer {token!r}: the {what} {value} is outside {low} to {high}")


def _make(token: str, shape: tuple[int, ...], *, init: str, rng: np.random.Generator, dtype) -> tuple[Layer, int]:
    """The layer a token describes, receiving one sample of ``shape``, and its parameter count
    (known, and checked by the caller, before any weight is drawn)."""
    if m := _CONV.fullmatch(token):
        k, _, channels, stride, padding = (int(g) if g is not None else None for g in m.groups())
        fan_in = shape[0] * k * k
        return (lambda: Conv2D(shape[0], channels, k, stride=stride or 1, padding=padding or 0, init=init,
                               dtype=dtype, rng=rng)), fan_in * channels + channels
    if m := _POOL.fullmatch(token):
        return (lambda: MaxPool2D(int(m.group(1)), int(m.group(2)) if m.group(2) else None)), 0
    if m := _DENSE.fullmatch(token):
        units = int(m.group(1))
        return (lambda: Dense(shape[0], units, init=init, dtype=dtype, rng=rng)), shape[0] * units + units
    if m := _DROPOUT.fullmatch(token):
        return (lambda: Dropout(float(m.group(1)), rng=rng)), 0
    if token == "flatten":
        return Flatten, 0
    return ACTIVATIONS[token], 0


def build_stack(tokens: tuple[str, ...] | list[str], input_size: int, output_size: int, *, init: str = "he",
                rng: np.random.Generator | None = None, dtype=np.float32) -> Sequential:
    """The network of ``tokens`` for flat inputs of ``input_size`` features and ``output_size``
    classes (the output Dense layer is added). Raises ValueError with one line naming the first
    layer that does not fit what it receives (with both shapes), or a network over the cap."""
    rng = rng if rng is not None else np.random.default_rng()
    return Sequential([layer for _token, layer, _shape in _walk(tokens, input_size, output_size, init, rng, dtype)])


@dataclass(frozen=True)
class StackShapes:
    """What ``stack_shapes`` finds: ``shapes[i]`` is one sample's shape after token ``i`` (the
    output layer last), for the tokens before the first that does not fit; ``problem`` says why
    that one does not (None: every layer fits); ``params`` counts the weights of the layers that fit."""

    input_shape: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]
    params: int
    problem: str | None


@functools.lru_cache(maxsize=256)
def stack_shapes(tokens: tuple[str, ...], input_size: int, output_size: int) -> StackShapes:
    """The shapes ``build_stack`` would give, checked by the same code but with no weight drawn
    (cached: an editor asks on every keystroke)."""
    shapes: list[tuple[int, ...]] = []
    params = 0
    input_shape: tuple[int, ...] = (input_size,)
    try:
        for token, layer, shape in _walk(tokens, input_size, output_size, "he", UNDRAWN, np.float32):
            if token is None:  # the implied Reshape to (1, side, side)
                input_shape = shape
                continue
            shapes.append(shape)
            params += sum(v.size for v in layer.params.values())
    except ValueError as exc:
        return StackShapes(input_shape, tuple(shapes), params, str(exc))
    return StackShapes(input_shape, tuple(shapes), params, None)


def _walk(tokens, input_size: int, output_size: int, init: str, rng, dtype):
    """Yield (token, layer, its output shape) for the layers of ``build_stack``, the leading
    Reshape included (its token None); each layer's shape and the parameter cap are checked before its weights exist."""
    tokens = [*tokens, f"dense{output_size}"]
    shape: tuple[int, ...] = (input_size,)
    if tokens[0].startswith(("conv", "pool")):
        side = math.isqrt(input_size)
        if side * side != input_size:
            raise ValueError(f"layer {tokens[0]!r} needs square images, but the inputs have {input_size} pixels")
        reshape = Reshape((1, side, side))
        shape = reshape.output_shape(shape)
        yield None, reshape, shape
    total = 0
    for i, token in enumerate(tokens):
        check_token(token)
        name = "the output layer" if i == len(tokens) - 1 else f"layer {i + 1} {token!r}"
        if token.startswith(("conv", "pool")) and len(shape) != 3:
            raise ValueError(f"{name} takes images C x H x W but receives {_text(shape)} features")
        if token.startswith("dense") and len(shape) != 1:
            raise ValueError(f"{name} takes features but receives images {_text(shape)} (put flatten before it)")
        factory, count = _make(token, shape, init=init, rng=rng, dtype=dtype)
        total += count
        if total > MAX_TRAIN_PARAMETERS:
            megabytes = MAX_TRAIN_PARAMETERS * BYTES_PER_TRAINED_PARAMETER // 10**6
            raise ValueError(f"over {MAX_TRAIN_PARAMETERS:,} parameters by layer {token!r}: too many (training "
                             f"keeps {BYTES_PER_TRAINED_PARAMETER} bytes per parameter, {megabytes:,} MB at the cap)")
        try:
            layer = factory()
            shape = layer.output_shape(shape)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        yield token, layer, shape


def layer_tokens(model: Sequential) -> tuple[str, ...]:
    """The tokens that describe ``model`` up to its output layer (the inverse of ``build_stack``;
    a leading ``Reshape`` to one-channel square images is implied)."""
    tokens = []
    body = model.layers[:-1]
    if body and isinstance(body[0], Reshape):
        body = body[1:]
    names = {cls: name for name, cls in ACTIVATIONS.items()}
    for layer in body:
        if isinstance(layer, Conv2D):
            k = layer.kernel_size
            tokens.append(f"conv{k}x{k}x{layer.out_channels}" + (f"s{layer.stride}" if layer.stride != 1 else "")
                          + (f"p{layer.padding}" if layer.padding else ""))
        elif isinstance(layer, MaxPool2D):
            stride = f"s{layer.stride}" if layer.stride != layer.kernel_size else ""
            tokens.append(f"pool{layer.kernel_size}{stride}")
        elif isinstance(layer, Flatten):
            tokens.append("flatten")
        elif isinstance(layer, Dense):
            tokens.append(f"dense{layer.out_features}")
        elif isinstance(layer, Dropout):
            tokens.append(f"dropout{layer.rate:g}")
        elif type(layer) in names:
            tokens.append(names[type(layer)])
        else:
            raise ValueError(f"a {type(layer).__name__} layer inside the network has no token")
    return tuple(tokens)


def _text(shape) -> str:
    return "x".join(map(str, shape))
