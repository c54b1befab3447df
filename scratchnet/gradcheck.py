"""Finite-difference gradient checks: the proof that every hand-derived backward is right.

Each parameter element p is nudged by +-eps and the loss recomputed; the central difference
(L(p + eps) - L(p - eps)) / (2 eps) is compared with the analytic gradient from ``backward``.
The relative error per parameter is ||analytic - numeric|| / (||analytic|| + ||numeric||).
"""

from __future__ import annotations

import numpy as np

from .layers import Layer
from .losses import SoftmaxCrossEntropy
from .network import Sequential


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numeric_gradient(f, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function ``f()`` with respect to each element of
    ``array``, which is nudged in place and restored."""
    numeric = np.zeros_like(array, dtype=np.float64)
    for i in np.ndindex(array.shape):
        original = array[i]
        array[i] = original + eps
        plus = f()
        array[i] = original - eps
        minus = f()
        array[i] = original
        numeric[i] = (plus - minus) / (2 * eps)
    return numeric


def check_gradients(
    model: Sequential,
    loss: SoftmaxCrossEntropy,
    x: np.ndarray,
    y: np.ndarray,
    eps: float = 1e-6,
    training: bool = False,
) -> dict[str, float]:
    """Relative error of each parameter's analytic gradient against central differences.

    ``model`` should be float64 (build it with ``dtype=np.float64``); x is (N, F), y (N,) int or
    (N, C) one-hot. Dropout layers need ``fixed_mask`` set when ``training`` is True. Also checks
    the gradient with respect to the input, under the name ``"input"``.
    """
    x = np.array(x, dtype=np.float64)

    def total_loss() -> float:
        return loss.forward(model.forward(x, training=training), y)

    total_loss()
    grad_input = model.backward(loss.backward())
    analytic = {name: g.copy() for name, g in model.named_grads().items()}
    analytic["input"] = grad_input.copy()

    targets = dict(model.parameters())
    targets["input"] = x
    return {
        name: relative_error(analytic[name], numeric_gradient(total_loss, array, eps))
        for name, array in targets.items()
    }


def check_layer_gradients(layer: Layer, x: np.ndarray, eps: float = 1e-6, seed: int = 0) -> dict[str, float]:
    """Check one layer alone under the scalar loss L = sum(y * R) for a fixed random R.

    Then dL/dy = R, so ``backward(R)`` must match central differences of L. Returns the relative
    error for the input (``"input"``) and each parameter.
    """
    x = np.array(x, dtype=np.float64)
    r = np.random.default_rng(seed).standard_normal(layer.forward(x, training=True).shape)

    def scalar() -> float:
        return float(np.sum(layer.forward(x, training=True) * r))

    scalar()
    analytic = {"input": layer.backward(r).copy(), **{k: g.copy() for k, g in layer.grads.items()}}
    targets = {"input": x, **layer.params}
    return {
        name: relative_error(analytic[name], numeric_gradient(scalar, array, eps)) for name, array in targets.items()
    }
