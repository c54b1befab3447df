"""What happens inside a model on some inputs: layer activations, dead ReLU units, gradients.

Plain NumPy maths; the widgets call these and draw the results. Gradients are computed on a copy of the
model, so the caller's model (which may be shown elsewhere) keeps its cached state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scratchnet.layers import Dense, Dropout, LeakyReLU, ReLU
from scratchnet.losses import SoftmaxCrossEntropy, softmax
from scratchnet.network import Sequential

from ..worker import snapshot


@dataclass(frozen=True)
class LayerOutput:
    """``values`` (N, units) after a hidden layer's activation, or the output probabilities."""

    name: str
    values: np.ndarray


@dataclass(frozen=True)
class DeadUnits:
    name: str
    dead: int
    units: int

    @property
    def fraction(self) -> float:
        return self.dead / self.units


@dataclass(frozen=True)
class BatchStats:
    """``weight_gradients``: dL/dW of each Dense layer, keyed like ``weights``; ``dead``: one entry
    per ReLU / leaky ReLU layer."""

    weights: dict[str, np.ndarray]
    weight_gradients: dict[str, np.ndarray]
    dead: list[DeadUnits]


def dense_names(model: Sequential) -> list[str]:
    """"layer 1 (784→256)", ... for the Dense layers in order."""
    return [f"layer {k + 1} ({d.in_features}→{d.out_features})" for k, d in enumerate(model.dense_layers)]


def layer_outputs(model: Sequential, x: np.ndarray) -> list[LayerOutput]:
    """The activations of every hidden layer and the output probabilities for ``x`` (N, inputs)."""
    outputs, value = [], np.atleast_2d(x)
    for layer in model.layers:
        value = layer.forward(value, training=False)
        if not isinstance(layer, (Dense, Dropout)):
            name = f"hidden {len(outputs) + 1} ({type(layer).__name__}, {value.shape[1]})"
            outputs.append(LayerOutput(name, value))
    outputs.append(LayerOutput(f"output (softmax, {value.shape[1]})", softmax(value)))
    return outputs


def batch_stats(model: Sequential, x: np.ndarray, y: np.ndarray) -> BatchStats:
    """Weights, their gradients of the mean cross-entropy on (x (N, inputs), y (N,)), and the
    units of each ReLU layer that output 0 for every one of the N samples."""
    copy = snapshot(model)
    value, dead, hidden = x, [], 0
    for layer in copy.layers:
        value = layer.forward(value, training=False)
        hidden += not isinstance(layer, (Dense, Dropout))
        if isinstance(layer, (ReLU, LeakyReLU)):
            silent = int(np.count_nonzero(~(value > 0).any(axis=0)))
            dead.append(DeadUnits(f"hidden {hidden} ({value.shape[1]} units)", silent, value.shape[1]))
    loss = SoftmaxCrossEntropy()
    loss.forward(value, y)
    copy.backward(loss.backward())
    names = dense_names(copy)
    return BatchStats(
        weights={name: d.params["W"].copy() for name, d in zip(names, model.dense_layers, strict=True)},
        weight_gradients={name: d.grads["W"].copy() for name, d in zip(names, copy.dense_layers, strict=True)},
        dead=dead,
    )
