"""Softmax and categorical cross-entropy, fused.

For logits z (N, C), probabilities p = softmax(z) and one-hot targets t (N, C):
    L = -(1/N) sum_n sum_c t[n, c] log p[n, c]
    dL/dz = (p - t) / N
The fused gradient skips the softmax Jacobian entirely, and log p comes from log-sum-exp, so
nothing overflows even for logits of +-1e4.
"""

from __future__ import annotations

import math

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits (or a single (C,) vector), stable for any finite input."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(shifted)
    e /= np.sum(e, axis=-1, keepdims=True)
    return e


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log softmax via log-sum-exp: z - max - log(sum(exp(z - max)))."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def one_hot(labels: np.ndarray, num_classes: int, dtype=np.float32) -> np.ndarray:
    """(N,) int class indices -> (N, num_classes) one-hot rows."""
    out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


class SoftmaxCrossEntropy:
    """Mean categorical cross-entropy of softmax(logits), with the fused backward.

    ``forward(logits, labels)``: logits (N, C) with labels (N,) int class indices or (N, C)
    one-hot rows; or one sample, logits (C,) with an int label. Returns the mean loss as a float.
    ``backward(weight=1.0)`` returns weight * dL/dlogits = weight * (p - onehot) / N, of the
    logits' shape; ``weight`` = N / N_total makes a chunk's gradient its share of a mean over
    N_total samples (full batch). ``probs`` holds softmax(logits) of the last forward, (N, C).

    For a batch the maths runs on a (C, N) copy of the logits: NumPy reduces the 10 classes of a
    (N, 10) array row by row, 3-5x slower than along the rows of a (10, N) one. One sample runs
    on its (C,) vector. Both compute, per sample, with z = logits - max(logits):
        loss = log(sum_c exp z_c) - z_label,   p = exp z / sum_c exp z_c
    so nothing overflows, even for logits of +-1e4.
    """

    def __init__(self) -> None:
        self._z: np.ndarray | None = None  # p, then dL/dlogits: (C, N), or (C,) for one sample
        self._labels = None

    def forward(self, logits: np.ndarray, labels) -> float:
        if logits.ndim == 1:  # one sample, on its (C,) vector
            label = int(labels)
            # the ufuncs' reduce, not .max() and .sum(): the same sums without a Python wrapper each
            z = logits - np.maximum.reduce(logits)
            picked = float(z[label])
            np.exp(z, out=z)
            total = float(np.add.reduce(z))
            z /= z.dtype.type(total)
            self._z, self._labels = z, label
            return math.log(total) - picked
        if logits.ndim != 2:
            raise ValueError(f"logits must be (N, C) or (C,), got shape {logits.shape}")
        n = logits.shape[0]
        labels = np.asarray(labels)
        if labels.ndim == 1 and labels.shape[0] != n:
            raise ValueError(f"{labels.shape[0]} labels for {n} rows of logits")
        if labels.ndim != 1 and labels.shape != logits.shape:
            raise ValueError(f"labels of shape {labels.shape} do not match logits {logits.shape}")
        z = logits.T.copy()  # (C, N); ascontiguousarray would return a view when N = 1
        # ufunc reductions called directly: np.max and np.sum wrap them in Python, which for a small
        # batch costs about as much as the sums themselves; the results are identical
        z -= np.maximum.reduce(z, axis=0)
        if labels.ndim == 1:
            picked = z[labels, np.arange(n)]  # z - max at the labels, (N,)
        else:
            picked = np.add.reduce(labels.T * z, axis=0)
        np.exp(z, out=z)
        total = np.add.reduce(z, axis=0)  # (N,), each >= 1
        loss = float(np.add.reduce(np.log(total), dtype=np.float64) - np.add.reduce(picked, dtype=np.float64)) / n
        z /= total
        self._z, self._labels = z, labels
        return loss

    @property
    def probs(self) -> np.ndarray:
        """softmax(logits) of the last forward, (N, C) (or (C,)), until ``backward`` reuses it."""
        return self._z.T

    def backward(self, weight: float = 1.0) -> np.ndarray:
        z, labels = self._z, self._labels
        self._z = None  # backward turns p into the gradient in place
        if z.ndim == 1:
            z[labels] -= 1
            if weight != 1.0:
                z *= z.dtype.type(weight)
            return z
        n = z.shape[1]
        if labels.ndim == 1:
            z[labels, np.arange(n)] -= 1
        else:
            z -= labels.T
        z *= z.dtype.type(weight / n)
        return z.T  # (N, C), a transposed view
