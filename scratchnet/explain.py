"""The maths behind every view that looks inside a model, so that the widgets only draw.

For some inputs: the output of every hidden layer and the class probabilities
(``layer_outputs``); the units of each hidden layer that are stuck the same way for every input
(``unit_counts``); the mean cross-entropy and its gradient with respect to every weight matrix
(``batch_stats``). Everything runs through the model's own layers and loss: nothing here repeats
their maths. Gradients are taken on ``model.copy()``, so the caller's model keeps its ``grads``
(the gradient of its last update).

What "stuck" means depends on the activation, judged on every one of the N inputs:

- ReLU: **dead**, its output is 0, so no gradient reaches the weights that feed it.
- Leaky ReLU: **never positive**, its input is <= 0, so it only passes the leak (slope alpha). It
  is not dead: gradient still flows, alpha times weaker.
- Sigmoid and tanh: **saturated**, its slope is below ``SATURATED`` of its slope at 0 (1/4 for
  sigmoid, 1 for tanh), so gradients through it nearly vanish.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layers import Dense, Dropout, Layer, LeakyReLU, ReLU, Sigmoid, Tanh
from .losses import SoftmaxCrossEntropy, softmax
from .network import Sequential

SATURATED = 0.01  # a sigmoid or tanh unit is saturated when its slope stays below this share of its peak

DEAD = "dead"
NEVER_POSITIVE = "never positive"
SATURATED_UNITS = "saturated"
# the condition counted for each activation (see the module docstring); other layers are not counted
CONDITIONS: dict[type[Layer], str] = {
    ReLU: DEAD, LeakyReLU: NEVER_POSITIVE, Sigmoid: SATURATED_UNITS, Tanh: SATURATED_UNITS,
}
MEANINGS = {  # one line each, for a window
    DEAD: "ReLU output 0 for every input, so its weights get no gradient",
    NEVER_POSITIVE: "leaky ReLU input ≤ 0 for every input; it still learns, through the leak",
    SATURATED_UNITS: f"sigmoid or tanh slope under {SATURATED:.0%} of its peak for every input",
}


@dataclass(frozen=True)
class LayerOutput:
    """``values`` (N, units) after a hidden layer's activation, or the output probabilities."""

    name: str
    values: np.ndarray


@dataclass(frozen=True)
class UnitCount:
    """How many of one hidden layer's ``units`` meet ``condition`` (``DEAD``, ``NEVER_POSITIVE`` or
    ``SATURATED_UNITS``, chosen by the activation) for every one of the inputs."""

    name: str
    condition: str
    count: int
    units: int

    @property
    def fraction(self) -> float:
        return self.count / self.units


@dataclass(frozen=True)
class BatchStats:
    """On ``samples`` inputs: ``weights`` and ``weight_gradients`` (dL/dW of the mean cross-entropy
    ``loss``) of each Dense layer, keyed by ``dense_names``; ``units``: one count per counted
    activation layer."""

    samples: int
    weights: dict[str, np.ndarray]
    weight_gradients: dict[str, np.ndarray]
    loss: float
    units: list[UnitCount]


@dataclass(frozen=True)
class _Hidden:
    """One activation layer during a forward pass: its input ``z`` and output ``a`` (N, units)."""

    name: str
    layer: Layer
    z: np.ndarray
    a: np.ndarray


def dense_names(model: Sequential) -> list[str]:
    """"layer 1 (784→256)", ... for the Dense layers in order."""
    return [f"layer {k + 1} ({d.in_features}→{d.out_features})" for k, d in enumerate(model.dense_layers)]


def layer_outputs(model: Sequential, x: np.ndarray) -> list[LayerOutput]:
    """The activations of every hidden layer and the output probabilities for ``x`` (N, inputs)
    or one input (inputs,)."""
    hidden, logits = _forward(model, _rows(model, x))
    outputs = [LayerOutput(h.name, h.a) for h in hidden]
    return [*outputs, LayerOutput(f"output (softmax, {logits.shape[1]})", softmax(logits))]


def unit_counts(model: Sequential, x: np.ndarray) -> list[UnitCount]:
    """For each hidden activation layer listed in ``CONDITIONS``, its units that are stuck for
    every row of ``x`` (N, inputs); see the module docstring. Runs on a copy of ``model``."""
    hidden, _ = _forward(model.copy(), _rows(model, x))
    return _count_units(hidden)


def batch_stats(model: Sequential, x: np.ndarray, y: np.ndarray) -> BatchStats:
    """Weights, the mean cross-entropy on (x (N, inputs), y (N,) class indices) and its gradients,
    and the stuck units of each hidden layer. ``model`` itself is left as it was (its ``grads``
    too): the forward and backward passes run on a copy."""
    x = _rows(model, x)
    y = _labels(model, y, len(x))
    copy = model.copy()
    hidden, logits = _forward(copy, x)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, y)
    copy.backward(loss.backward())
    names = dense_names(copy)
    return BatchStats(
        samples=len(x),
        weights={name: d.params["W"] for name, d in zip(names, copy.dense_layers, strict=True)},
        weight_gradients={name: d.grads["W"] for name, d in zip(names, copy.dense_layers, strict=True)},
        loss=value,
        units=_count_units(hidden),
    )


def _forward(model: Sequential, x: np.ndarray) -> tuple[list[_Hidden], np.ndarray]:
    """Inference through ``model``'s layers: every activation layer's input and output, and the logits."""
    hidden: list[_Hidden] = []
    value = x
    for layer in model.layers:
        z, value = value, layer.forward(value, training=False)
        if not isinstance(layer, (Dense, Dropout)):
            name = f"hidden {len(hidden) + 1} ({type(layer).__name__}, {value.shape[1]} units)"
            hidden.append(_Hidden(name, layer, z, value))
    return hidden, value


def _count_units(hidden: list[_Hidden]) -> list[UnitCount]:
    counts = []
    for h in hidden:
        condition = CONDITIONS.get(type(h.layer))
        if condition is None:
            continue
        slope = _slope(h.layer, h.z)  # da/dz of each unit on each input, from the layer's own backward
        if condition == DEAD:
            stuck = slope == 0
        elif condition == NEVER_POSITIVE:
            stuck = h.z <= 0
        else:
            stuck = slope < SATURATED * _slope(h.layer, np.zeros_like(h.z[:1]))
        counts.append(UnitCount(h.name, condition, int(np.count_nonzero(stuck.all(axis=0))), h.z.shape[1]))
    return counts


def _slope(layer: Layer, z: np.ndarray) -> np.ndarray:
    """da/dz of an element-wise activation at each entry of ``z``."""
    a = layer.forward(z, training=False)
    return layer.backward(np.ones_like(a))


def _rows(model: Sequential, x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x))
    if x.ndim != 2 or x.shape[1] != model.input_size:
        raise ValueError(f"inputs of shape {x.shape} do not fit a model with {model.input_size} inputs")
    if len(x) == 0:
        raise ValueError("no inputs to look at")
    return x


def _labels(model: Sequential, y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"expected {n} integer class labels, got an array of shape {y.shape} ({y.dtype})")
    if y.min() < 0 or y.max() >= model.output_size:
        raise ValueError(f"class labels must be in 0..{model.output_size - 1}, got {y.min()}..{y.max()}")
    return y
