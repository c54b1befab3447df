"""Pure SGD (one sample per update) for plain MLPs, without the cost of batch-shaped maths.

With one sample x (F,), a Dense layer's forward is a matrix-vector product and its weight
gradient dL/dW = outer(x, dL/dy) is a rank-1 matrix whose row f is zero wherever x[f] == 0.
MNIST pixels are about 80% zeros, so the first layer reads and updates only the rows of the
non-zero pixels: a gather, a small product and a scatter instead of a full (F, H) pass. The
maths is that of the generic loop (`Dense`, the activations' own `forward`/`backward`, the fused
softmax cross-entropy, `SGD`'s update rule); only the summation order of the first product
differs, within float32 rounding.

Supported: ``SGD`` (plain, momentum or Nesterov) without weight decay, and models built from
Dense, ReLU, LeakyReLU, Sigmoid, Tanh and Dropout layers, starting with a Dense layer. Anything
else uses the generic loop. The fast path leaves the layers' ``grads`` untouched.
"""

from __future__ import annotations

import math

import numpy as np

from .layers import Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from .network import Sequential
from .optimizers import SGD, Optimizer

ELEMENTWISE_LAYERS = (ReLU, LeakyReLU, Sigmoid, Tanh, Dropout)


def one_sample_path_supported(model: Sequential, optimizer: Optimizer) -> bool:
    """True when ``OneSampleSteps`` can train this model with this optimiser exactly."""
    if type(optimizer) is not SGD or optimizer.weight_decay != 0.0:
        return False
    layers = model.layers
    if not layers or not isinstance(layers[0], Dense) or not isinstance(layers[-1], Dense):
        return False
    return all(isinstance(layer, (Dense, *ELEMENTWISE_LAYERS)) for layer in layers)


def sparse_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The indices (K,) of the non-zero entries of a vector x (F,) and their values (K,)."""
    rows = np.flatnonzero(x)
    return rows, x[rows]


def sparse_matvec(rows: np.ndarray, values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w for w (F, H), from x's non-zero ``rows`` and ``values`` (see ``sparse_rows``)."""
    return values @ w[rows]


def subtract_rank1(p: np.ndarray, rows: np.ndarray | None, a: np.ndarray, d: np.ndarray) -> None:
    """p -= outer(A, d) in place, where A (F,) is zero except A[rows] = a (rows None: A = a).

    Only the rows of p where A is non-zero change: the rest would subtract exact zeros.
    """
    if rows is None:
        p -= np.multiply.outer(a, d)
    else:
        p[rows] -= np.multiply.outer(a, d)


def nonzero_columns(x: np.ndarray, chunk: int = 4096) -> tuple[list[int], np.ndarray, np.ndarray]:
    """x (N, F) in CSR form: row j's non-zero columns are ``cols[starts[j]:starts[j + 1]]`` and
    its values there ``values[starts[j]:starts[j + 1]]``. Built chunk by chunk so no (N, F)
    temporary is made. For all of MNIST: 37 MB of columns (int32) and 37 MB of float32 values."""
    counts = np.count_nonzero(x, axis=1)
    starts = np.zeros(len(x) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    cols = np.empty(int(starts[-1]), dtype=np.int32)
    values = np.empty(int(starts[-1]), dtype=x.dtype)
    for s in range(0, len(x), chunk):
        block = x[s : s + chunk]
        where = slice(starts[s], starts[min(s + chunk, len(x))])
        cols[where] = np.nonzero(block)[1]
        values[where] = block[block != 0]  # row-major order, as np.nonzero's
    return starts.tolist(), cols, values


class OneSampleSteps:
    """The updates of one epoch of pure SGD: ``epoch(order)``, then for each ``start`` in
    ``range(n)``: ``forward(start) -> (loss, correct, 1)``, and ``update()`` if the loss is finite.

    x (N, F) and y (N,) are the training set; ``order`` (N,) the epoch's shuffled sample order.
    The non-zero columns of every row are found once, up front, so a step only gathers the
    first layer's rows it needs, (K, H), and scatters them back after the update.
    """

    def __init__(self, model: Sequential, optimizer: SGD, x: np.ndarray, y: np.ndarray) -> None:
        self.layers = model.layers
        self.optimizer = optimizer
        self.x = x
        self.labels = y.tolist()
        self._starts, self._cols, self._values = nonzero_columns(x)
        self._order: list[int] = []
        self._inputs: dict[int, np.ndarray] = {}
        self._first_rows: np.ndarray | None = None
        self._first_block: np.ndarray | None = None
        self._delta: np.ndarray | None = None
        # (H_in, H_out) buffers for the rank-1 updates (the first layer's uses its first K rows)
        self._outer = {i: np.empty_like(layer.params["W"]) for i, layer in enumerate(self.layers)
                       if isinstance(layer, Dense)}
        self._block = np.empty_like(self.layers[0].params["W"])  # the first layer's gathered rows

    def epoch(self, order: np.ndarray) -> None:
        self._order = order.tolist()

    def forward(self, start: int) -> tuple[float, int, int]:
        """Forward sample ``order[start]``; returns (its loss, 1 if predicted right else 0, 1)."""
        j = self._order[start]
        label = self.labels[j]
        row = slice(self._starts[j], self._starts[j + 1])
        rows, values = self._cols[row], self._values[row]
        first = self.layers[0]
        # (K, H): the only rows of W that x touches. mode="clip" (the rows are valid) lets take
        # write straight into the reused buffer; mode="raise" would buffer it.
        block = np.take(first.params["W"], rows, axis=0, out=self._block[: len(rows)], mode="clip")
        a = values @ block
        a += first.params["b"]
        self._first_rows, self._first_block = rows, block
        self._inputs[0] = values
        for i in range(1, len(self.layers)):
            layer = self.layers[i]
            if type(layer) is Dense:
                self._inputs[i] = a
                a = a @ layer.params["W"]
                a += layer.params["b"]
            else:
                a = layer.forward(a, training=True)
        # fused softmax cross-entropy for one row of logits a (C,)
        shifted = a - a.max()
        e = np.exp(shifted)
        total = float(e.sum())
        loss = math.log(total) - float(shifted[label]) if total > 0 else math.nan
        e /= e.dtype.type(total)
        e[label] -= 1
        self._delta = e
        return loss, int(int(a.argmax()) == label), 1

    def update(self) -> None:
        """Backpropagate the last forward's dL/dlogits = p - onehot and apply the SGD rule."""
        opt = self.optimizer
        opt.steps += 1
        plain = opt.momentum == 0.0
        grad = self._delta
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if type(layer) is not Dense:
                grad = layer.backward(grad)
                continue
            w, b = layer.params["W"], layer.params["b"]
            a = self._inputs[i]
            grad_in = w @ grad if i > 0 else None
            if plain:
                scaled = grad * w.dtype.type(opt.lr)  # lr folded into the small vector
                # the rank-1 product a ⊗ scaled as a K=1 BLAS product into a reused buffer:
                # about twice as fast as np.multiply.outer, which allocates
                outer = self._outer[i][: len(a)]
                np.dot(a[:, None], scaled[None, :], out=outer)
                if i == 0:
                    block = self._first_block
                    block -= outer
                    w[self._first_rows] = block
                else:
                    w -= outer
                b -= scaled
            else:
                rows = self._first_rows if i == 0 else None
                self._apply_momentum(f"{i}.W", w, rows, a, grad)
                self._apply_momentum(f"{i}.b", b, None, None, grad)
            grad = grad_in

    def _apply_momentum(self, name: str, p: np.ndarray, rows, a, d: np.ndarray) -> None:
        """Momentum/Nesterov SGD for a parameter whose gradient is outer(A, d) (A as in
        ``subtract_rank1``; a None: the gradient is d itself, as for a bias)."""
        opt = self.optimizer
        g = d if a is None else np.multiply.outer(a, d)
        slot = opt.state.setdefault(name, {})
        buf = slot.get("momentum_buffer")
        if buf is None:
            buf = slot["momentum_buffer"] = np.zeros_like(p)
        buf *= opt.momentum
        _add_rows(buf, rows, g)
        tmp = opt.scratch(name, p)
        if opt.nesterov:
            np.multiply(buf, opt.momentum, out=tmp)
            _add_rows(tmp, rows, g)
            tmp *= opt.lr
        else:
            np.multiply(buf, opt.lr, out=tmp)
        p -= tmp


def _add_rows(target: np.ndarray, rows: np.ndarray | None, g: np.ndarray) -> None:
    """target += G in place, where G is zero except G[rows] = g (rows None: G = g)."""
    if rows is None:
        target += g
    else:
        target[rows] += g
