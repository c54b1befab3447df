"""Which samples form each update, and in which form the model receives them.

The training loop asks these classes for one update's inputs and labels; the maths is then the
model's own (``Sequential.forward``/``backward``), the loss's and the optimiser's.

- ``MiniBatches``: shuffled batches of ``batch_size`` rows (a batch of 1 row gives the model one
  sample, a vector (F,), for pure SGD).
- ``FullBatchChunks``: the whole training set in chunks of rows, whose gradients the layers add
  up (``backward(accumulate=True)``) into the full-batch gradient.

Forms of the inputs, all holding the same numbers:
- dense rows, gathered from a uint8 copy of the data when it holds pixel bytes / 255
  (``byte_codes``): a quarter of the memory traffic, converted exactly as the loader did;
- ``ColumnSparse``: only the columns that are non-zero in some row of the batch. MNIST pixels
  are about 80% zeros: a batch of 32 images is non-zero in about 58% of the 784 pixels, one of 256
  in 71%, a single digit in 19%, and a full-batch chunk of 2,048 images sorted by where their
  drawing starts (``sample_order``) in 55%. ``Dense`` then skips the zero columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from .sparse import ColumnSparse

# A batch whose non-zero columns exceed this fraction of the inputs is given dense: the gathers
# would cost more than the smaller products save.
SPARSE_MAX_FRACTION = 0.85

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class MiniBatches:
    """``epoch(order)``, then ``batch(start) -> (inputs, labels)`` for start = 0, B, 2B, ...

    x (N, F) and y (N,) are the training set, ``order`` (N,) the epoch's shuffled sample order.
    ``batch_size`` 1 gives one sample per update: inputs (F,) (or a ``ColumnSparse`` vector)
    and an int label. ``columns=True`` gives each batch as a ``ColumnSparse`` of its non-zero
    columns (mostly-zero inputs, no augmentation). ``augment(xb, rng) -> xb`` transforms each
    batch's rows (B, F) with the run's generator.

    Dense batches are gathered into two buffers used in turn: a Dense layer's weight gradient
    reads its input of the last forward until the next update has run (``OuterProductGrad``).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, *, columns: bool = False,
                 augment: Augment | None = None, rng: np.random.Generator | None = None) -> None:
        if columns and augment is not None:
            raise ValueError("augmented batches are dense: their zero pixels move")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.columns = columns
        self.augment = augment
        self.rng = rng
        self.features = x.shape[1]
        self.codes = byte_codes(x) if batch_size > 1 else None  # one sample is read straight from x
        self._order = np.arange(0)
        self._turn = 0
        if batch_size == 1:
            self.labels = y.tolist()  # Python ints: a sample's label costs no array indexing
            if columns:
                self._starts, self._cols, self._values = nonzero_columns(x)
        else:
            self._buffers = [np.empty((batch_size, self.features), dtype=x.dtype) for _ in range(2)]
            if self.codes is not None:
                self._code_rows = np.empty((batch_size, self.features), dtype=np.uint8)
            if columns:
                self.bits = nonzero_bitmap(x)
        self.last_form = ""  # "dense", "columns" or "sample": the form of the last batch
        self._last_start = 0

    def epoch(self, order: np.ndarray) -> None:
        self._order = order.tolist() if self.batch_size == 1 else order

    def last_rows(self) -> np.ndarray:
        """The training-set rows (B,) of the last batch (what the window shows of an update)."""
        return np.asarray(self._order[self._last_start : self._last_start + self.batch_size], dtype=np.intp)

    def batch(self, start: int):
        self._last_start = start
        if self.batch_size == 1:  # one sample, written out here: it runs 60,000 times an epoch
            j = self._order[start]
            label = self.labels[j]
            if self.columns:
                self.last_form = "columns"
                row = slice(self._starts[j], self._starts[j + 1])
                return ColumnSparse(self._values[row], self._cols[row], self.features), label
            self.last_form = "sample"
            if self.augment is not None:
                return self.augment(self.x[j : j + 1], self.rng)[0], label
            return self.x[j], label
        idx = self._order[start : start + self.batch_size]
        labels = self.y[idx]
        if self.columns:
            cols = self.columns_of(idx)
            if len(cols) <= SPARSE_MAX_FRACTION * self.features:
                self.last_form = "columns"
                if self.codes is not None:
                    code_rows = self.codes.take(idx, axis=0, out=self._code_rows[: len(idx)], mode="clip")
                    values = byte_values(code_rows[:, cols])  # (B, K), equal to x[idx][:, cols]
                else:
                    values = self.x[idx][:, cols]
                return ColumnSparse(values, cols, self.features), labels
        self.last_form = "dense"
        xb = self.gather(idx)
        if self.augment is not None:
            xb = self.augment(xb, self.rng)
        return xb, labels

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """The rows idx (B,) of x, (B, F), in the next of the two batch buffers; from the byte
        copy of x when there is one (a quarter of the memory traffic, the same values)."""
        m = len(idx)
        out = self._buffers[self._turn][:m]
        self._turn ^= 1
        if self.codes is None:
            return self.x.take(idx, axis=0, out=out, mode="clip")
        return byte_values(self.codes.take(idx, axis=0, out=self._code_rows[:m], mode="clip"), out=out)

    def columns_of(self, idx: np.ndarray) -> np.ndarray:
        """The input columns (K,) that are non-zero in at least one of the rows idx (B,)."""
        union = np.bitwise_or.reduce(self.bits.take(idx, axis=0, mode="clip"), axis=0)
        return np.flatnonzero(np.unpackbits(union, count=self.features))


class FullBatchChunks:
    """The training set x (N, F), y (N,) in chunks of ``chunk`` samples: ``chunks()`` yields
    (inputs, labels) per chunk, and their gradients, each weighted by its share m / N, add up to
    the full-batch gradient of the mean loss (it is a sum over samples, so any partition works).

    ``columns=True`` (mostly-zero inputs, no augmentation): the samples are put in
    ``sample_order`` so that each chunk shares few non-zero columns, and each chunk comes as a
    ``ColumnSparse`` of them, kept as bytes when x holds pixel bytes / 255 (MNIST: about 28 MB),
    built once per run. Otherwise chunks are consecutive rows, transformed by ``augment`` with
    the run's generator afresh at each epoch when it is given.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, chunk: int, *, columns: bool = False,
                 augment: Augment | None = None, rng: np.random.Generator | None = None) -> None:
        if columns and augment is not None:
            raise ValueError("augmented chunks are dense: their zero pixels move")
        self.x, self.y, self.chunk = x, y, chunk
        self.n = len(x)
        self.columns = columns
        self.augment, self.rng = augment, rng
        self.rows: list[np.ndarray] = []  # per chunk: its samples (m,)
        self._sparse: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (labels, cols, inputs)
        if columns:
            order = sample_order(x)
            for s in range(0, self.n, chunk):
                rows = np.sort(order[s : s + chunk])  # ascending: a faster gather, the same union
                block = x[rows]
                codes = byte_codes(block)  # code 0 is exactly the value 0
                source = block if codes is None else codes
                cols = np.flatnonzero(np.any(source != 0, axis=0))
                self.rows.append(rows)
                self._sparse.append((y[rows], cols, np.ascontiguousarray(source[:, cols])))
            self._values = np.empty(min(chunk, self.n) * x.shape[1], dtype=x.dtype)
        else:
            self.rows = [np.arange(s, min(s + chunk, self.n)) for s in range(0, self.n, chunk)]

    def __len__(self) -> int:
        return len(self.rows)

    def columns_of(self, i: int) -> np.ndarray:
        """Chunk i's non-zero input columns (K,) (``columns=True`` only)."""
        return self._sparse[i][1]

    def chunks(self) -> Iterator[tuple[np.ndarray | ColumnSparse, np.ndarray]]:
        features = self.x.shape[1]
        for i, rows in enumerate(self.rows):
            if self.columns:
                labels, cols, inputs = self._sparse[i]
                values = inputs
                if inputs.dtype == np.uint8:
                    values = byte_values(inputs, out=self._values[: inputs.size].reshape(inputs.shape))
                yield ColumnSparse(values, cols, features), labels
                continue
            xb = self.x[rows[0] : rows[-1] + 1]
            if self.augment is not None:
                xb = self.augment(xb, self.rng)
            yield xb, self.y[rows[0] : rows[-1] + 1]


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


def nonzero_columns(x: np.ndarray, chunk: int = 4096) -> tuple[list[int], np.ndarray, np.ndarray]:
    """x (N, F) in CSR form: row j's non-zero columns are ``cols[starts[j]:starts[j + 1]]`` and
    its values there ``values[starts[j]:starts[j + 1]]``. Built chunk by chunk so no (N, F)
    temporary is made. For all of MNIST: 74 MB of columns and 37 MB of float32 values. The columns
    are intp, NumPy's own index type: int32 ones halve their memory, but every take and scatter
    with them converts them first, about 3% of a one-sample update."""
    counts = np.count_nonzero(x, axis=1)
    starts = np.zeros(len(x) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    cols = np.empty(int(starts[-1]), dtype=np.intp)
    values = np.empty(int(starts[-1]), dtype=x.dtype)
    for s in range(0, len(x), chunk):
        block = x[s : s + chunk]
        where = slice(starts[s], starts[min(s + chunk, len(x))])
        cols[where] = np.nonzero(block)[1]
        values[where] = block[block != 0]  # row-major order, as np.nonzero's
    return starts.tolist(), cols, values


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
