"""Layers: each pairs its forward maths with its hand-derived backward.

Samples are rows: an input batch has shape (N, features). ``forward(x, training)`` returns the
output and caches only what ``backward`` needs; ``backward(grad_y)`` takes dL/dy of the output's
shape and returns dL/dx of the input's shape. Layers with parameters expose ``params`` and
``grads``, two dicts with the same keys; ``backward`` overwrites the gradients.
"""

from __future__ import annotations

import numpy as np

from .initializers import INITIALIZERS, init_weights


class Layer:
    """Base class. Stateless layers have empty ``params`` and ``grads``."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        """Plain JSON-able data that rebuilds this layer (without its weights)."""
        return {"type": type(self).__name__}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "type")
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully connected layer y = x W + b.

    W has shape (in_features, out_features) and b shape (out_features,).
    Backward, for x (N, in) and grad_y = dL/dy (N, out):
        dL/dW = x^T grad_y          (in, out)
        dL/db = sum_n grad_y[n]     (out,)
        dL/dx = grad_y W^T          (N, in)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "he",
        dtype=np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Dense {name} must be a positive integer, got {value!r}")
        if init not in INITIALIZERS:
            raise ValueError(f"unknown initialisation {init!r}; choose one of {', '.join(INITIALIZERS)}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.init = init
        self.dtype = np.dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng()
        self.params = {
            "W": init_weights(self.in_features, self.out_features, init, rng, self.dtype),
            "b": np.zeros(self.out_features, dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x
        y = x @ self.params["W"]
        y += self.params["b"]
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self.backward_params(grad_y)
        return grad_y @ self.params["W"].T

    def backward_params(self, grad_y: np.ndarray) -> None:
        """Fill dL/dW and dL/db only: for a first layer, whose dL/dx nobody needs (it would
        cost as much as dL/dW)."""
        np.matmul(self._x.T, grad_y, out=self.grads["W"])
        np.sum(grad_y, axis=0, out=self.grads["b"])

    def get_config(self) -> dict:
        return {
            "type": "Dense",
            "in_features": self.in_features,
            "out_features": self.out_features,
            "init": self.init,
            "dtype": self.dtype.name,
        }


class ReLU(Layer):
    """y = max(x, 0); dL/dx = dL/dy where x > 0, else 0."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._mask = x > 0
        return x * self._mask  # as np.maximum(x, 0), which is slower for float32

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * self._mask


class LeakyReLU(Layer):
    """y = x for x > 0, alpha x otherwise; dL/dx = dL/dy * (1 or alpha)."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"LeakyReLU alpha must be in [0, 1), got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._mask = x > 0
        return np.where(self._mask, x, x * self.alpha)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return np.where(self._mask, grad_y, grad_y * self.alpha)

    def get_config(self) -> dict:
        return {"type": "LeakyReLU", "alpha": self.alpha}


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x)); dL/dx = dL/dy * y (1 - y)."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        # exp of a non-positive number never overflows: use the form that keeps it so.
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
        self._y = y
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * self._y * (1 - self._y)


class Tanh(Layer):
    """y = tanh(x); dL/dx = dL/dy * (1 - y^2)."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._y = np.tanh(x)
        return self._y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * (1 - self._y * self._y)


class Dropout(Layer):
    """Inverted dropout: while training, zero each unit with probability ``rate`` and scale the
    survivors by 1 / (1 - rate), so that inference needs no rescaling. Identity when not training.

    ``fixed_mask``, when set to an array of the input's shape holding 0s and 1s, replaces the random
    draw (used by gradient checks). dL/dx = dL/dy * mask / (1 - rate).
    """

    def __init__(self, rate: float, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.fixed_mask: np.ndarray | None = None
        self._scale_mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0.0:
            self._scale_mask = None
            return x
        keep = self.fixed_mask if self.fixed_mask is not None else self.rng.random(x.shape) >= self.rate
        self._scale_mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._scale_mask

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        if self._scale_mask is None:
            return grad_y
        return grad_y * self._scale_mask

    def get_config(self) -> dict:
        return {"type": "Dropout", "rate": self.rate}


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh}
LAYER_TYPES = {cls.__name__: cls for cls in (Dense, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout)}
