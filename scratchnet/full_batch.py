"""The full-batch gradient, summed over chunks of rows so that memory stays bounded.

The gradient of the mean loss over all N samples is the sum, over any partition of the samples
into chunks, of each chunk's fused gradient (p - t) / m scaled by m / N. ``RowChunks`` takes the
rows in data order. ``SparseInputChunks`` is for mostly-zero inputs such as MNIST's pixels: it
orders the samples by where their non-zero inputs lie (for square images, the left and then the
top edge of the drawn part), so that the rows of a chunk share few non-zero columns (a chunk of
2,048 MNIST images: 55% of the 784 pixels, against 80% in data order), and its first Dense layer
works on the chunk's non-zero columns ``cols`` (K,) only:

    forward:      x W + b = x[:, cols] W[cols] + b             (m, K) @ (K, H)
    weight grad:  dL/dW[cols] = x[:, cols]^T g, zero elsewhere  (K, m) @ (m, H)

Only the order in which float32 sums are added changes. The chunks, their columns and their
inputs (as bytes when the inputs are pixel bytes / 255) are built once per run.
"""

from __future__ import annotations

import math

import numpy as np

from .batch_steps import backward_to_params, byte_codes, byte_values, mostly_zero
from .layers import Dense
from .network import Sequential


class RowChunks:
    """Chunks of ``chunk`` consecutive rows of x (N, F), y (N,)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, chunk: int) -> None:
        self.x, self.y, self.chunk = x, y, chunk
        self.n = len(x)

    def __len__(self) -> int:
        return math.ceil(self.n / self.chunk)

    def forward(self, model: Sequential, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The training forward of chunk i: (logits (m, C), labels (m,))."""
        rows = slice(i * self.chunk, (i + 1) * self.chunk)
        return model.forward(self.x[rows], training=True), self.y[rows]

    def add_gradient(self, model: Sequential, grad: np.ndarray, total: dict[str, np.ndarray]) -> None:
        """Backpropagate dL/dlogits (m, C) of the last forward and add each parameter's gradient
        to ``total`` (named as ``model.parameters()``)."""
        backward_to_params(model, grad)
        for name, g in model.named_grads().items():
            total[name] += g


def sparse_full_batch_supported(model: Sequential, x: np.ndarray) -> bool:
    """True when ``SparseInputChunks`` applies: the model starts with a Dense layer and x (N, F)
    is at most half non-zero (judged on up to 4,096 rows). Any optimiser: the gradient is exact."""
    return bool(model.layers) and type(model.layers[0]) is Dense and mostly_zero(x)


def sample_order(x: np.ndarray, block: int = 4096) -> np.ndarray:
    """The sample indices (N,) sorted by where each row of x (N, F) starts to be non-zero.

    For square images (F = s * s) the key is the left edge of the drawn part, then its top edge;
    otherwise the first non-zero feature. Samples that are alike in shape land in the same chunk
    and share most of their non-zero columns. Blank rows sort first.
    """
    n, features = x.shape
    side = math.isqrt(features)
    keys = np.empty(n, dtype=np.int64)
    for s in range(0, n, block):
        nz = x[s : s + block] != 0
        if side * side == features:
            image = nz.reshape(-1, side, side)
            left = image.any(axis=1).argmax(axis=1)
            top = image.any(axis=2).argmax(axis=1)
            keys[s : s + block] = left * side + top
        else:
            keys[s : s + block] = nz.argmax(axis=1)
    return np.argsort(keys, kind="stable")


class SparseInputChunks:
    """Chunks of ``chunk`` samples of x (N, F), y (N,) in ``sample_order``, whose first Dense layer
    uses only each chunk's non-zero columns.

    Memory: the chunks' inputs restricted to their columns, as uint8 when x holds pixel bytes / 255
    (MNIST: about 28 MB), else in x's dtype; plus (chunk, F) and (F, H) buffers.
    """

    def __init__(self, model: Sequential, x: np.ndarray, y: np.ndarray, chunk: int) -> None:
        if not sparse_full_batch_supported(model, x):
            raise ValueError("the sparse full-batch path needs a first Dense layer and mostly-zero inputs")
        self.n = len(x)
        self.first: Dense = model.layers[0]
        order = sample_order(x)
        self.rows: list[np.ndarray] = []  # per chunk: its samples (m,)
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (labels, cols, inputs)
        for s in range(0, self.n, chunk):
            rows = np.sort(order[s : s + chunk])  # ascending: a faster gather, the same union
            block = x[rows]
            codes = byte_codes(block)  # code 0 is exactly the value 0
            source = block if codes is None else codes
            cols = np.flatnonzero(np.any(source != 0, axis=0))
            self.rows.append(rows)
            self._chunks.append((y[rows], cols, np.ascontiguousarray(source[:, cols])))
        width = self.first.params["W"].shape[1]
        self._xc = np.empty(min(chunk, self.n) * x.shape[1], dtype=x.dtype)
        self._wc = np.empty((x.shape[1], width), dtype=self.first.params["W"].dtype)
        self._product = np.empty_like(self._wc)
        self._current: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._chunks)

    def columns(self, i: int) -> np.ndarray:
        """Chunk i's non-zero input columns (K,)."""
        return self._chunks[i][1]

    def forward(self, model: Sequential, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The training forward of chunk i: (logits (m, C), labels (m,))."""
        labels, cols, inputs = self._chunks[i]
        if inputs.dtype == np.uint8:
            xc = byte_values(inputs, out=self._xc[: inputs.size].reshape(inputs.shape))
        else:
            xc = inputs
        first = self.first
        wc = np.take(first.params["W"], cols, axis=0, out=self._wc[: len(cols)], mode="clip")  # (K, H)
        a = xc @ wc
        a += first.params["b"]
        for layer in model.layers[1:]:
            a = layer.forward(a, training=True)
        self._current = (cols, xc)
        return a, labels

    def add_gradient(self, model: Sequential, grad: np.ndarray, total: dict[str, np.ndarray]) -> None:
        """Backpropagate dL/dlogits (m, C) of the last forward and add each parameter's gradient
        to ``total``; the first layer's weight gradient only in its rows ``cols``."""
        layers = model.layers
        for layer in reversed(layers[1:]):
            grad = layer.backward(grad)
        for j, layer in enumerate(layers[1:], start=1):
            for k, g in layer.grads.items():
                total[f"{j}.{k}"] += g
        cols, xc = self._current
        total["0.W"][cols] += np.matmul(xc.T, grad, out=self._product[: len(cols)])
        total["0.b"] += np.sum(grad, axis=0)
