"""Exact compact forms of two arrays that training meets on MNIST: mostly-zero inputs, and the
weight gradients of a Dense layer.

- ``ColumnSparse``: an input that is zero outside some columns. MNIST pixels are about 80%
  zeros, so a first Dense layer reads only the rows of W that a batch's non-zero pixels touch.
- ``OuterProductGrad``: a Dense layer's weight gradient dL/dW = x^T dL/dy, kept as its two
  factors until somebody needs the (F, H) matrix. Plain SGD applies it as one product with the
  learning rate folded into the small factor, and only to the rows where x is non-zero; reading
  ``Dense.grads`` expands it.

Both hold the same numbers as the dense arrays they stand for: nothing here is an approximation.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np


class ColumnSparse:
    """Inputs that are zero outside the columns ``cols``.

    For a batch, x (N, F) with x[:, cols] = values (N, K) and 0 elsewhere; for one sample,
    x (F,) with x[cols] = values (K,). ``cols`` (K,) are distinct column indices.
    """

    __slots__ = ("values", "cols", "features")

    def __init__(self, values: np.ndarray, cols: np.ndarray, features: int) -> None:
        self.values = values
        self.cols = cols
        self.features = features

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.values.shape[:-1], self.features)

    def __len__(self) -> int:
        return self.shape[0]

    def dense(self) -> np.ndarray:
        """The full array, (N, F) or (F,)."""
        out = np.zeros(self.shape, dtype=self.values.dtype)
        out[..., self.cols] = self.values
        return out


class OuterProductGrad(tuple):
    """A weight gradient G (F, H) kept as the product it comes from, G = x^T dL/dy:

        G[rows] = left^T right,   G = 0 outside ``rows`` (rows None: every row)

    with left (B, K) and right (B, H) for a batch of B samples, or left (K,) and right (H,) for
    one sample (a rank-1 outer product). ``gathered``, when given, is p[rows] (K, H) as the layer
    read it in its forward pass, for the parameter p that G belongs to; the parameter has not moved
    since, so an optimiser may update those rows in place and scatter them back without
    gathering them again.

    Built from one tuple: ``OuterProductGrad((left, right, rows, shape, gathered))``. A Dense
    layer makes one per update, once per sample in pure SGD, and a tuple's construction runs no
    Python code (an ``__init__`` was a tenth of the Python time of a one-sample update).
    """

    __slots__ = ()

    left = property(itemgetter(0), doc="(B, K) or (K,): the inputs' columns in ``rows``")
    right = property(itemgetter(1), doc="(B, H) or (H,): dL/dy")
    rows = property(itemgetter(2), doc="(K,) row indices of G that can be non-zero, or None for all")
    shape = property(itemgetter(3), doc="(F, H), the shape of G")
    gathered = property(itemgetter(4), doc="p[rows] (K, H) as read in the forward pass, or None")

    def product(self, out: np.ndarray, right: np.ndarray | None = None) -> np.ndarray:
        """left^T right, (K, H), written into ``out[:K]`` (out at least (K, H)); ``right`` replaces
        the stored right factor (e.g. lr * right)."""
        left = self[0]
        if right is None:
            right = self[1]
        if left.ndim == 1:
            # a K=1 BLAS product into a reused buffer: twice as fast as np.multiply.outer, which allocates
            return left[:, None].dot(right[None, :], out=out[: len(left)])
        return np.matmul(left.T, right, out=out[: left.shape[1]])

    def to_dense(self, out: np.ndarray) -> np.ndarray:
        """Write G into ``out`` (F, H) and return it."""
        if self.rows is None:
            return self.product(out)
        block = self.product(np.empty((len(self.rows), self.shape[1]), dtype=out.dtype))
        out.fill(0)
        out[self.rows] = block
        return out

    def add_to(self, target: np.ndarray, scratch: np.ndarray) -> None:
        """target += G in place, touching only the rows of G that can be non-zero; ``scratch`` is an
        array of G's shape whose contents are garbage."""
        block = self.product(scratch)
        if self.rows is None:
            target += block
        else:
            target[self.rows] += block
