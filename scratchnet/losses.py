"""Softmax and categorical cross-entropy, fused.

For logits z (N, C), probabilities p = softmax(z) and one-hot targets t (N, C):
    L = -(1/N) sum_n sum_c t[n, c] log p[n, c]
    dL/dz = (p - t) / N
The fused gradient skips the softmax Jacobian entirely, and log p comes from log-sum-exp, so
nothing overflows even for logits of +-1e4.
"""

from __future__ import annotations

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

    ``forward(logits, labels)``: logits (N, C); labels (N,) int class indices or (N, C) one-hot.
    Returns the mean loss as a float. ``backward()`` returns dL/dlogits = (p - onehot) / N, (N, C).
    """

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        if logits.ndim != 2:
            raise ValueError(f"logits must be (N, C), got shape {logits.shape}")
        n, c = logits.shape
        log_p = log_softmax(logits)
        if labels.ndim == 1:
            if labels.shape[0] != n:
                raise ValueError(f"{labels.shape[0]} labels for {n} rows of logits")
            picked = log_p[np.arange(n), labels]
            loss = -float(np.sum(picked, dtype=np.float64)) / n
        elif labels.shape == logits.shape:
            loss = -float(np.sum(labels * log_p, dtype=np.float64)) / n
        else:
            raise ValueError(f"labels of shape {labels.shape} do not match logits {logits.shape}")
        self._probs = np.exp(log_p)
        self._labels = labels
        return loss

    def backward(self) -> np.ndarray:
        grad = self._probs
        n = grad.shape[0]
        if self._labels.ndim == 1:
            grad[np.arange(n), self._labels] -= 1
        else:
            grad -= self._labels
        grad *= grad.dtype.type(1.0 / n)
        self._probs = None
        return grad
