"""Layers: each pairs its forward maths with its hand-derived backward.

Samples are rows: an input batch has shape (N, features). ``forward(x, training)`` returns the
output and caches only what ``backward`` needs; ``backward(grad_y)`` takes dL/dy of the output's
shape and returns dL/dx of the input's shape. Layers with parameters expose ``params`` and
``grads``, two dicts with the same keys; ``backward`` overwrites the gradients (or, with
``accumulate=True``, adds to them), so ``grads`` always hold the gradient of the last backward.

The speed options live here, beside the plain maths they must equal:
- ``Dense`` takes a batch (N, F), one sample (F,) (matrix-vector products, a rank-1 gradient), or
  a ``ColumnSparse`` input whose zero columns it skips; ``backward(..., input_grad=False)`` skips
  dL/dx when nobody needs it (the first layer). Its weight gradient is kept as the product
  x^T dL/dy (``OuterProductGrad``) until it is read or an optimiser applies it.
- ``ReLU(inplace=True)`` calls overwrite an array nobody else holds (a Dense layer's fresh output,
  or the fresh dL/dx a Dense layer returns): ``Sequential`` decides when that is safe.
"""

from __future__ import annotations

import numpy as np

from .initializers import INITIALIZERS, init_weights
from .sparse import ColumnSparse, OuterProductGrad


class Layer:
    """Base class. Stateless layers have empty ``params`` and ``grads``.

    ``new_outputs``: True when ``forward`` and ``backward`` always return arrays that nobody else
    holds, so the next layer may overwrite them. ``in_place_option``: True when ``forward`` and
    ``backward`` take ``inplace=True`` to overwrite their argument instead of allocating.
    """

    new_outputs = False
    in_place_option = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """dL/d(param) of the last backward, under the names of ``params``."""
        return self._grads

    @grads.setter
    def grads(self, value: dict[str, np.ndarray]) -> None:
        self._grads = value

    def compact_grads(self) -> dict:
        """The gradients of the last backward in the cheapest exact form an optimiser can apply:
        arrays, or ``OuterProductGrad`` products not yet expanded (see ``Dense``)."""
        return self.grads

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one sample's output for one sample's input ``shape`` (no batch axis);
        raises ValueError when the layer cannot take it. Element-wise layers keep the shape."""
        return tuple(shape)

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

    Options, each the same maths:
    - One sample x (in,) gives y (out,): matrix-vector products, and dL/dW = outer(x, grad_y).
    - A ``ColumnSparse`` x, zero outside the columns ``cols`` (K,):
          y = x[:, cols] W[cols] + b          (N, K) @ (K, out)
          dL/dW[cols] = x[:, cols]^T grad_y   and the other rows of dL/dW are 0,
      so both products shrink from ``in`` to K inner rows (MNIST: K is 55-75% of 784 for a
      batch, about 19% for one digit). Only the order of float sums changes.
    - ``backward(grad_y, input_grad=False)`` skips dL/dx (as costly as dL/dW) and returns None:
      for the first layer, whose input gradient nobody needs.
    - ``backward(grad_y, accumulate=True)`` adds to ``grads`` instead of replacing them (the
      chunks of a full-batch gradient).
    - dL/dW is kept as the product x^T grad_y (``OuterProductGrad``, see ``compact_grads``) until
      ``grads`` is read: plain SGD applies it without ever forming the (in, out) matrix. The
      product reads the inputs of the last forward: read ``grads`` before writing into them.
    """

    new_outputs = True

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
        self._grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        # {"W": dL/dW as an OuterProductGrad, "b": dL/db} of the last backward while not yet
        # written into _grads (a one-sample dL/db is dL/dy itself, not yet copied)
        self._compact: dict | None = None
        self._x: np.ndarray | ColumnSparse | None = None
        self._gathered: np.ndarray | None = None  # W[cols] of the last ColumnSparse forward
        self._row_buffer: np.ndarray | None = None
        self._product_buffer: np.ndarray | None = None

    @property
    def grads(self) -> dict[str, np.ndarray]:
        compact = self._compact
        if compact is not None:
            self._compact = None
            compact["W"].to_dense(out=self._grads["W"])
            if compact["b"] is not self._grads["b"]:
                self._grads["b"][...] = compact["b"]
        return self._grads

    @grads.setter
    def grads(self, value: dict[str, np.ndarray]) -> None:
        self._compact = None
        self._grads = value

    def compact_grads(self) -> dict:
        """{"W": dL/dW as an ``OuterProductGrad`` when it has not been expanded yet (else the
        array), "b": dL/db}. Once ``grads`` has been read, the arrays are the gradient of record,
        so a change made to them (clipping, zeroing) is what an optimiser applies."""
        return self._compact or self._grads

    def forward(self, x: np.ndarray | ColumnSparse, training: bool = False) -> np.ndarray:
        w = self.params["W"]
        if isinstance(x, ColumnSparse):
            k = len(x.cols)
            if self._row_buffer is None:
                self._row_buffer = np.empty_like(w)
            # mode="clip" (the columns are valid) lets take write straight into the reused buffer;
            # the default mode="raise" would buffer it (3x slower)
            self._gathered = w.take(x.cols, axis=0, out=self._row_buffer[:k], mode="clip")  # (K, out)
            y = x.values @ self._gathered
        else:
            self._gathered = None
            y = x @ w
        y += self.params["b"]
        self._x = x
        return y

    def backward(self, grad_y: np.ndarray, *, input_grad: bool = True, accumulate: bool = False) -> np.ndarray | None:
        x = self._x
        w = self.params["W"]
        grad_x = None
        if input_grad:
            grad_x = w @ grad_y if grad_y.ndim == 1 else grad_y @ w.T
        if isinstance(x, ColumnSparse):
            term = OuterProductGrad((x.values, grad_y, x.cols, w.shape, self._gathered))
        else:
            term = OuterProductGrad((x, grad_y, None, w.shape, None))
        if accumulate:
            grads = self.grads
            term.add_to(grads["W"], scratch=self._scratch())
            grads["b"] += grad_y if grad_y.ndim == 1 else np.add.reduce(grad_y, axis=0)
        elif grad_y.ndim == 1:
            self._compact = {"W": term, "b": grad_y}  # dL/db is dL/dy itself; copied into grads when read
        else:
            bias = self._grads["b"]
            np.add.reduce(grad_y, axis=0, out=bias)  # np.sum's own sums, without its Python wrapper
            self._compact = {"W": term, "b": bias}
        return grad_x

    def zero_grad(self) -> None:
        self._compact = None
        for g in self._grads.values():
            g.fill(0)

    def _scratch(self) -> np.ndarray:
        if self._product_buffer is None:
            self._product_buffer = np.empty_like(self.params["W"])
        return self._product_buffer

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(shape) != (self.in_features,):
            got = "x".join(map(str, shape))
            hint = " (put Flatten before it)" if len(shape) > 1 else ""
            raise ValueError(f"Dense takes {self.in_features} features but receives {got}{hint}")
        return (self.out_features,)

    def get_config(self) -> dict:
        return {
            "type": "Dense",
            "in_features": self.in_features,
            "out_features": self.out_features,
            "init": self.init,
            "dtype": self.dtype.name,
        }


class ReLU(Layer):
    """y = max(x, 0); dL/dx = dL/dy where x > 0, else 0.

    ``inplace=True`` overwrites the argument (x, or dL/dy) with the result instead of allocating.
    """

    in_place_option = True

    def forward(self, x: np.ndarray, training: bool = False, *, inplace: bool = False) -> np.ndarray:
        self._mask = np.greater(x, 0)
        # x * mask gives np.maximum(x, 0)'s values, and NumPy runs it 1.7x faster on float32
        return np.multiply(x, self._mask, out=x if inplace else None)

    def backward(self, grad_y: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        return np.multiply(grad_y, self._mask, out=grad_y if inplace else None)


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
"""Every layer type by class name (``Sequential.from_config``, model files). The image layers
(Conv2D, MaxPool2D, Flatten, Reshape) live in ``scratchnet.conv``, which builds on ``Layer`` and
adds itself here when imported; importing it below makes sure it always is, whichever module is
imported first."""

from . import conv as _conv  # noqa: E402,F401
