"""The updates of one epoch of mini-batch descent, through the model's own layers.

``BatchSteps`` is the generic version. ``SparseInputBatchSteps`` gives the same updates faster
when the inputs are mostly zeros, as MNIST's pixels are (about 80%): in a batch of B images,
only the pixels that are non-zero in at least one of them (about 58% of 784 for B = 32, 71% for
B = 256) contribute to the first layer. For the batch's non-zero columns ``cols`` (K,):

    forward:  x W + b        = x[:, cols] W[cols] + b        (B, K) @ (K, H)
    backward: dL/dW = x^T g  is zero outside the rows cols;  dL/dW[cols] = x[:, cols]^T g

so both products of the first layer shrink from F to K inner rows. Only the summation order of
those products changes (exact zeros are no longer added), within float32 rounding.

Both gather each batch from a uint8 copy of the inputs when they are pixel bytes scaled by 1/255
(``byte_codes``): a quarter of the memory traffic, converted exactly as the loader did.
"""

from __future__ import annotations

import numpy as np

from .layers import Dense, ReLU
from .network import Sequential
from .optimizers import SGD, Optimizer

# A batch whose non-zero columns exceed this fraction of the inputs takes the dense path: the
# gathers would cost more than the smaller products save.
SPARSE_MAX_FRACTION = 0.85


def backward_to_params(model: Sequential, grad: np.ndarray) -> None:
    """``model.backward(grad)`` without dL/dinput: the first layer with parameters computes only
    its own gradients, and the layers below it (which have none) are skipped."""
    layers = model.layers
    first = next((i for i, layer in enumerate(layers) if layer.params), None)
    if first is None:
        return
    for layer in reversed(layers[first + 1 :]):
        grad = layer.backward(grad)
    if isinstance(layers[first], Dense):
        layers[first].backward_params(grad)
    else:
        layers[first].backward(grad)


class BatchSteps:
    """``epoch(order)``, then per batch ``forward(start) -> (loss, correct, m)`` and ``update()``.

    x (N, F) and y (N,) are the training set, ``order`` (N,) the epoch's shuffled sample order.
    Each batch is gathered from x (or its byte copy) into one reused (batch_size, F) buffer.

    With plain SGD and Dense layers as the only layers with parameters, each Dense layer is
    updated as soon as its gradient is known, with the learning rate folded once into
    dL/dlogits (``fused_loss``), so that every dL/dy arrives scaled: W -= x^T (lr dL/dy),
    b -= sum_n lr dL/dy[n]. That skips a full pass over every weight matrix; the layers' ``grads``
    are then left untouched.
    """

    def __init__(self, model, optimizer, loss_fn, x: np.ndarray, y: np.ndarray, batch_size: int, *,
                 augment=None, rng: np.random.Generator | None = None) -> None:
        self.model = model
        self.augment = augment
        self.rng = rng
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.x = x
        self.y = y
        self.batch_size = batch_size
        self.params = model.parameters()
        self.grads = model.named_grads()
        self._xb = np.empty((batch_size, x.shape[1]), dtype=x.dtype)
        self.codes = byte_codes(x)
        if self.codes is not None:
            self._code_rows = np.empty((batch_size, x.shape[1]), dtype=np.uint8)
        self._order = np.arange(0)
        self.fused = plain_sgd(optimizer) and all(type(layer) is Dense for layer in model.layers if layer.params)
        self._first = next((i for i, layer in enumerate(model.layers) if layer.params), len(model.layers))
        layers = model.layers
        self._relus_in_place = {i for i in range(1, len(layers)) if self.fused
                                and type(layers[i]) is ReLU and type(layers[i - 1]) is Dense}
        # per Dense layer: the (in, out) product buffer and the (out,) bias step
        self._step_buffers = {i: (np.empty_like(layer.params["W"]), np.empty_like(layer.params["b"]))
                              for i, layer in enumerate(model.layers) if type(layer) is Dense}

    def epoch(self, order: np.ndarray) -> None:
        self._order = order

    def forward(self, start: int) -> tuple[float, int, int]:
        idx = self._order[start : start + self.batch_size]
        m = len(idx)
        xb = self.gather(idx)
        if self.augment is not None:
            xb = self.augment(xb, self.rng)
        yb = self.y[idx]
        if self.fused:
            return (*self.fused_loss(self.forward_layers(xb, 0), yb), m)
        logits = self.model.forward(xb, training=True)
        loss_value = self.loss_fn.forward(logits, yb)
        return loss_value, int(np.count_nonzero(np.argmax(logits, axis=1) == yb)), m

    def fused_loss(self, logits: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        """The mean softmax cross-entropy of logits (B, C) against int labels (B,) and the number of
        rows whose argmax is their label; keeps lr * dL/dlogits = lr (p - onehot) / B for ``update``.

        The same maths as ``SoftmaxCrossEntropy``, on a (C, B) copy of the logits: NumPy reduces
        the 10 classes of a (B, 10) array row by row, 3-5x slower than the rows of a (10, B) one.
        The learning rate is folded in here once: every dL/dy below is linear in dL/dlogits.
        """
        m = len(labels)
        cols = np.arange(m)
        z = logits.T.copy()  # (C, B); ascontiguousarray would return a view when B = 1
        z -= np.max(z, axis=0)
        picked = z[labels, cols]  # z - max at the labels
        np.exp(z, out=z)
        total = np.sum(z, axis=0)  # (B,), >= 1
        loss = float(np.sum(np.log(total), dtype=np.float64) - np.sum(picked, dtype=np.float64)) / m
        z /= total
        z[labels, cols] -= 1
        z *= z.dtype.type(self.optimizer.lr / m)
        self._scaled_grad = z.T  # (B, C)
        return loss, int(np.count_nonzero(np.argmax(logits, axis=1) == labels))

    def forward_layers(self, a: np.ndarray, start: int) -> np.ndarray:
        """The training forward of layers[start:] on a (B, in), with each ReLU that follows a
        Dense layer applied in place: that Dense output is a fresh array nobody else holds."""
        layers = self.model.layers
        for i in range(start, len(layers)):
            layer = layers[i]
            if i in self._relus_in_place:
                layer._mask = np.greater(a, 0)
                np.multiply(a, layer._mask, out=a)  # as np.maximum(a, 0), in half the time
            else:
                a = layer.forward(a, training=True)
        return a

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """The rows idx (B,) of x, (B, F), in the reused batch buffer; from the byte copy of x
        when there is one (a quarter of the memory traffic, the same values)."""
        m = len(idx)
        if self.codes is None:
            return np.take(self.x, idx, axis=0, out=self._xb[:m], mode="clip")
        return byte_values(np.take(self.codes, idx, axis=0, out=self._code_rows[:m], mode="clip"), out=self._xb[:m])

    def update(self) -> None:
        if not self.fused:
            backward_to_params(self.model, self.loss_fn.backward())
            self.optimizer.step(self.params, self.grads)
            return
        self.optimizer.steps += 1
        grad = self.backward_with_steps(self._scaled_grad, down_to=self._first)
        if self._first < len(self.model.layers):
            first = self.model.layers[self._first]
            self.sgd_step(self._first, first.params, first._x, grad)

    def backward_with_steps(self, grad: np.ndarray, down_to: int) -> np.ndarray:
        """Backpropagate lr * dL/dlogits (B, C) to the output of layer ``down_to``, taking the plain
        SGD step of every Dense layer above it on the way; returns lr * that dL/dy."""
        layers = self.model.layers
        for i in range(len(layers) - 1, down_to, -1):
            layer = layers[i]
            if i in self._relus_in_place:
                np.multiply(grad, layer._mask, out=grad)  # grad is this step's own array
                continue
            if type(layer) is not Dense:
                grad = layer.backward(grad)
                continue
            grad_in = grad @ layer.params["W"].T  # before W moves
            self.sgd_step(i, layer.params, layer._x, grad)
            grad = grad_in
        return grad

    def sgd_step(self, i: int, params: dict[str, np.ndarray], x: np.ndarray, grad: np.ndarray) -> None:
        """W -= x^T grad, b -= sum of grad over the batch, for Dense layer i's params (or a block
        of its rows), its input x (B, in) and grad = lr * dL/dy (B, out)."""
        product, bias_step = self._step_buffers[i]
        w = params["W"]
        w -= np.matmul(x.T, grad, out=product[: len(w)])
        params["b"] -= np.sum(grad, axis=0, out=bias_step)


def sparse_input_path_supported(model: Sequential, optimizer: Optimizer, x: np.ndarray, augment=None) -> bool:
    """True when ``SparseInputBatchSteps`` applies: plain SGD, a model whose layers with parameters
    are all Dense, the first of them fed by x directly, and x (N, F) at most half non-zero
    (judged on up to 4,096 rows)."""
    layers = model.layers
    if augment is not None or not layers or type(layers[0]) is not Dense or len(x) == 0:
        return False
    if not plain_sgd(optimizer) or not all(type(layer) is Dense for layer in layers if layer.params):
        return False
    return mostly_zero(x)


def mostly_zero(x: np.ndarray) -> bool:
    """True when x (N, F) is at most half non-zero, judged on up to 4,096 rows (MNIST: 19%)."""
    sample = x[: min(len(x), 4096)]
    return len(sample) > 0 and np.count_nonzero(sample) <= 0.5 * sample.size


def nonzero_bitmap(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(N, ceil(F / 8)) uint8: bit f of row n is set where x[n, f] != 0 (np.packbits order).
    Built chunk by chunk so no (N, F) temporary is made (MNIST: 5.9 MB)."""
    bits = np.empty((len(x), (x.shape[1] + 7) // 8), dtype=np.uint8)
    for s in range(0, len(x), chunk):
        bits[s : s + chunk] = np.packbits(x[s : s + chunk] != 0, axis=1)
    return bits


def byte_values(codes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Pixel bytes (any shape, uint8) -> float32 k / 255, exactly as ``scratchnet.data`` scales them."""
    return np.divide(codes, np.float32(255), out=out, dtype=np.float32)


def byte_codes(x: np.ndarray, chunk: int = 256) -> np.ndarray | None:
    """(N, F) uint8 codes with ``byte_values(codes) == x`` exactly, when every value of x (N, F)
    is a pixel byte scaled by 1/255 (as ``scratchnet.data`` loads images); else None.

    A batch gathered from the codes reads a quarter of the memory: the rows of a shuffled batch
    are scattered over the whole data set, so the gather costs memory latency, not arithmetic.
    Small chunks keep the temporaries in cache (MNIST: about 0.1 s).
    """
    if x.dtype != np.float32 or x.ndim != 2:
        return None
    codes = np.empty(x.shape, dtype=np.uint8)
    scaled = np.empty((chunk, x.shape[1]), dtype=np.float32)
    back = np.empty_like(scaled)
    for s in range(0, len(x), chunk):
        block = x[s : s + chunk]
        m = len(block)
        np.multiply(block, np.float32(255), out=scaled[:m])
        scaled[:m] += np.float32(0.5)
        # out-of-range or NaN values cast to some byte here, and then fail the exact check below
        with np.errstate(invalid="ignore"):
            np.copyto(codes[s : s + chunk], scaled[:m], casting="unsafe")
        if not np.array_equal(byte_values(codes[s : s + chunk], out=back[:m]), block):
            return None
    return codes


def plain_sgd(optimizer: Optimizer) -> bool:
    """True for SGD without momentum or weight decay: rows of W with a zero gradient stay put."""
    return type(optimizer) is SGD and optimizer.momentum == 0.0 and optimizer.weight_decay == 0.0


class SparseInputBatchSteps(BatchSteps):
    """``BatchSteps`` with plain SGD whose first Dense layer works on the batch's non-zero input
    columns ``cols`` only: it gathers W[cols] (K, H), steps it, W[cols] -= x[:, cols]^T (lr dL/dy),
    and scatters it back. The other rows of W have a zero gradient and do not move. Run set-up
    adds a bitmap of the non-zero inputs, (N, ceil(F / 8)) bytes."""

    def __init__(self, model, optimizer, loss_fn, x: np.ndarray, y: np.ndarray, batch_size: int, **kwargs) -> None:
        super().__init__(model, optimizer, loss_fn, x, y, batch_size, **kwargs)
        if not self.fused or type(model.layers[0]) is not Dense:
            raise ValueError("the sparse first-layer path needs plain SGD and a model that starts with a Dense layer")
        self.first: Dense = model.layers[0]
        self.features = x.shape[1]
        self.bits = nonzero_bitmap(x)
        self._block = np.empty_like(self.first.params["W"])
        self._cols: np.ndarray | None = None
        self._xc: np.ndarray | None = None
        self._wc: np.ndarray | None = None

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """The input columns (K,) that are non-zero in at least one of the rows idx (B,)."""
        union = np.bitwise_or.reduce(np.take(self.bits, idx, axis=0, mode="clip"), axis=0)
        return np.flatnonzero(np.unpackbits(union, count=self.features))

    def forward(self, start: int) -> tuple[float, int, int]:
        idx = self._order[start : start + self.batch_size]
        m = len(idx)
        cols = self.columns(idx)
        if len(cols) > SPARSE_MAX_FRACTION * self.features:
            self._cols = None
            return super().forward(start)
        if self.codes is not None:
            code_rows = np.take(self.codes, idx, axis=0, out=self._code_rows[:m], mode="clip")
            xc = byte_values(code_rows[:, cols])  # (B, K), equal to x[idx][:, cols]
        else:
            xb = np.take(self.x, idx, axis=0, out=self._xb[:m], mode="clip")
            xc = xb[:, cols]  # (B, K)
        first = self.first
        wc = np.take(first.params["W"], cols, axis=0, out=self._block[: len(cols)], mode="clip")  # (K, H)
        a = xc @ wc
        a += first.params["b"]
        a = self.forward_layers(a, 1)
        self._cols, self._xc, self._wc = cols, xc, wc
        return (*self.fused_loss(a, self.y[idx]), m)

    def update(self) -> None:
        if self._cols is None:
            super().update()
            return
        self.optimizer.steps += 1
        grad = self.backward_with_steps(self._scaled_grad, down_to=0)
        first, wc = self.first, self._wc
        self.sgd_step(0, {"W": wc, "b": first.params["b"]}, self._xc, grad)
        first.params["W"][self._cols] = wc
