"""Weight initialisations for a Dense layer's (fan_in, fan_out) matrix.

- ``he``: N(0, 2 / fan_in), for ReLU-family activations (He et al., 2015).
- ``xavier``: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).
- ``lecun``: N(0, 1 / fan_in), for tanh and sigmoid (LeCun et al., 1998).
- ``normal``: N(0, 0.01^2), the classic small random start; deep nets barely learn from it,
  which is the point of showing it.
"""

from __future__ import annotations

import numpy as np

INITIALIZERS = ("he", "xavier", "lecun", "normal")

UNDRAWN = object()
"""Pass as ``rng`` for weights that are overwritten at once (a copy of a model): nothing is drawn,
and the matrix is left uninitialised. Drawing them costs 18 ms a copy at 784-800-800-10."""


def init_weights(
    fan_in: int, fan_out: int, method: str, rng: np.random.Generator, dtype=np.float32
) -> np.ndarray:
    """Return a (fan_in, fan_out) weight matrix drawn by ``method`` (``rng`` UNDRAWN: uninitialised)."""
    if method not in INITIALIZERS:
        raise ValueError(f"unknown initialisation {method!r}; choose one of {', '.join(INITIALIZERS)}")
    if rng is UNDRAWN:
        return np.empty((fan_in, fan_out), dtype=dtype)
    if method == "he":
        w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
    elif method == "xavier":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    elif method == "lecun":
        w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(1.0 / fan_in)
    elif method == "normal":
        w = rng.standard_normal((fan_in, fan_out)) * 0.01
    else:
        raise ValueError(f"unknown initialisation {method!r}; choose one of {', '.join(INITIALIZERS)}")
    return np.ascontiguousarray(w, dtype=dtype)
