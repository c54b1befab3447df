"""Layers for images: Conv2D, MaxPool2D, Flatten and Reshape, each with its forward maths beside
its hand-derived backward (the same contract as ``scratchnet.layers``).

Images are (N, C, H, W) batches, as in PyTorch. The data stays flat (N, H·W): a network of images
starts with ``Reshape((1, H, W))``. Like ``Dense``, every layer also takes one sample without its
batch axis ((F,) for Reshape, (C, H, W) for the others), which is how one-sample SGD reaches them.

Output sizes, for an input side H, kernel k, stride s and padding p:  OH = (H + 2p - k) // s + 1.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .initializers import INITIALIZERS, init_weights
from .layers import LAYER_TYPES, Layer


def _positive(layer: str, name: str, value, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        rule = "a positive integer" if minimum == 1 else "a whole number >= 0"
        raise ValueError(f"{layer} {name} must be {rule}, got {value!r}")
    return int(value)


def _text(shape) -> str:
    return "x".join(map(str, shape))


def conv_output_side(side: int, kernel: int, stride: int, padding: int = 0) -> int:
    """The output side of a convolution or pooling window over ``side`` pixels (< 1: it does not fit)."""
    return (side + 2 * padding - kernel) // stride + 1


def _samples_last(x: np.ndarray) -> np.ndarray:
    """The (C, H, W, N) view of a batch x (N, C, H, W), no copy. The image layers keep their arrays
    in this memory order (the samples innermost) and hand them on as (N, C, H, W) views of it, so
    the layer above gets them back as a contiguous (C, H, W, N) array without a copy."""
    return x.transpose(1, 2, 3, 0)


def _samples_last_contiguous(x: np.ndarray) -> np.ndarray:
    """x (N, C, H, W) as a C-contiguous (C, H, W, N) array: a view when x came from an image layer,
    else one copy (the first layer's flat rows)."""
    last = _samples_last(x)
    return last if last.flags.c_contiguous else np.ascontiguousarray(last)


class Conv2D(Layer):
    """2-D cross-correlation (what deep learning calls convolution), as in ``torch.nn.Conv2d``:

        y[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] * xp[n, c, i*s + u, j*s + v]

    with xp the input zero-padded by p on each side. W is (out, in, k, k), b is (out,).

    The arrays are kept with the samples innermost: x as xp (in, Hp, Wp, N), y as (out, OH, OW, N),
    handed on as its (N, out, OH, OW) view (see ``_samples_last``). Then the whole batch is one
    matrix product, and every copy below moves runs of N numbers.

    Forward by im2col: every window of every sample becomes a column of cols (in·k·k, OH·OW·N),
    rows in the order (c, u, v) of W's last three axes, columns in the order (i, j, n) of y:
        cols[(c, u, v), (i, j, n)] = xp[c, i*s + u, j*s + v, n]
        y = Wm cols + b           Wm = W.reshape(out, in·k·k),   y (out, OH·OW·N)
    Backward, with G = dL/dy as (out, OH·OW·N):
        dL/dW = G cols^T          (out, in·k·k) -> (out, in, k, k)
        dL/db = sum over the columns of G   (out,)
        dL/dcols = Wm^T G         (in·k·k, OH·OW·N)
        dL/dx: col2im, each window's gradient added back where the window came from: k·k strided
               slice-adds into (in, Hp, Wp, N), one per kernel offset (u, v), of the (in, OH, OW, N)
               block dL/dcols[(:, u, v)].
    ``backward(..., input_grad=False)`` skips dL/dcols and col2im (the first layer's input gradient,
    which nobody needs); ``accumulate=True`` adds to ``grads``.

    Speed options, each the same numbers: a batch of more than ``chunk`` samples goes through in
    chunks of ``chunk`` (their columns stay in cache, and memory is bounded for a large
    evaluation); the columns of a batch of at most ``cache_samples`` samples are kept for backward,
    those of a larger one (a full-batch chunk, an evaluation) are rebuilt from the kept input,
    chunk by chunk, when backward needs them.

    The weights are drawn as a Dense layer's would be for fan_in = in·k·k inputs and ``out`` units
    (``init_weights``), then reshaped.
    """

    new_outputs = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                 init: str = "he", dtype=np.float32, rng: np.random.Generator | None = None, chunk: int = 64,
                 cache_samples: int = 256, band_columns: int = 4096) -> None:
        super().__init__()
        self.in_channels = _positive("Conv2D", "in_channels", in_channels)
        self.out_channels = _positive("Conv2D", "out_channels", out_channels)
        self.kernel_size = _positive("Conv2D", "kernel_size", kernel_size)
        self.stride = _positive("Conv2D", "stride", stride)
        self.padding = _positive("Conv2D", "padding", padding, minimum=0)
        self.chunk = _positive("Conv2D", "chunk", chunk)
        self.cache_samples = _positive("Conv2D", "cache_samples", cache_samples, minimum=0)
        self.band_columns = _positive("Conv2D", "band_columns", band_columns)
        if init not in INITIALIZERS:
            raise ValueError(f"unknown initialisation {init!r}; choose one of {', '.join(INITIALIZERS)}")
        self.init = init
        self.dtype = np.dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng()
        k = self.kernel_size
        fan_in = self.in_channels * k * k
        w = init_weights(fan_in, self.out_channels, init, rng, self.dtype)  # (in·k·k, out)
        self.params = {
            "W": np.ascontiguousarray(w.T).reshape(self.out_channels, self.in_channels, k, k),
            "b": np.zeros(self.out_channels, dtype=self.dtype),
        }
        self._grads = {key: np.zeros_like(v) for key, v in self.params.items()}
        self._xp: np.ndarray | None = None  # the padded input of the last forward, (in, Hp, Wp, N)
        self._cols: list[np.ndarray] | None = None  # its columns, chunk by chunk, when kept
        self._one_sample = False
        self.last_path = ""  # "cached" or "rebuilt": how the last backward got its columns (tests)

    def output_shape(self, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(C, H, W) in -> (out, OH, OW) out; raises ValueError when the input does not fit."""
        if len(shape) != 3:
            raise ValueError(f"Conv2D takes images C x H x W but receives {_text(shape)} (put Reshape before it)")
        c, h, w = shape
        if c != self.in_channels:
            raise ValueError(f"Conv2D takes {self.in_channels} channels but receives {c} ({c}x{h}x{w})")
        oh, ow = (conv_output_side(side, self.kernel_size, self.stride, self.padding) for side in (h, w))
        if oh < 1 or ow < 1:
            k, p = self.kernel_size, self.padding
            padded = f" padded by {p} to {h + 2 * p}x{w + 2 * p}" if p else ""
            raise ValueError(f"Conv2D kernel {k}x{k} is larger than its input {c}x{h}x{w}{padded}")
        return self.out_channels, oh, ow

    def _bands(self, oh: int, ow: int, b: int) -> list[tuple[int, int]]:
        """Output rows [i0, i1) of each band: whole rows, about ``band_columns`` columns each."""
        rows = max(1, self.band_columns // (ow * b))
        return [(i0, min(i0 + rows, oh)) for i0 in range(0, oh, rows)]

    def _im2col(self, xp: np.ndarray, oh: int, ow: int, out: np.ndarray | None = None,
                rows: tuple[int, int] | None = None) -> np.ndarray:
        """Padded images xp (in, Hp, Wp, B) -> cols (in·k·k, OH·OW·B), through a read-only view
        (in, k, k, OH, OW, B) of every window, view[c, u, v, i, j] = xp[c, i*s + u, j*s + v]: the one
        copy of im2col. With ``out`` (the whole cols) and ``rows``, only output rows [i0, i1) are copied."""
        k, s = self.kernel_size, self.stride
        sc, sh, sw, sn = xp.strides
        b = xp.shape[3]
        windows = as_strided(xp, (self.in_channels, k, k, oh, ow, b), (sc, sh, sw, sh * s, sw * s, sn),
                             writeable=False)
        if out is None:
            return windows.reshape(self.in_channels * k * k, -1)
        i0, i1 = rows
        out.reshape(self.in_channels, k, k, oh, ow, b)[:, :, :, i0:i1] = windows[:, :, :, i0:i1]
        return out

    def _chunks(self, n: int) -> list[tuple[int, int]]:
        return [(start, min(start + self.chunk, n)) for start in range(0, n, self.chunk)]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x (N, in, H, W) or one sample (in, H, W) -> y (N, out, OH, OW) or (out, OH, OW)."""
        self._one_sample = x.ndim == 3
        if self._one_sample:
            x = x[None]
        n = x.shape[0]
        _, oh, ow = self.output_shape(x.shape[1:])
        p = self.padding
        if p:
            c, h, wd = x.shape[1:]
            xp = np.zeros((c, h + 2 * p, wd + 2 * p, n), dtype=x.dtype)
            xp[:, p : p + h, p : p + wd] = _samples_last(x)
        else:
            xp = _samples_last_contiguous(x)
        self._xp = xp
        keep = n <= self.cache_samples
        self._cols = [] if keep else None
        w = self.params["W"].reshape(self.out_channels, -1)
        out = self.out_channels
        y = np.empty((out, oh, ow, n), dtype=np.result_type(x.dtype, w.dtype))
        for start, stop in self._chunks(n):
            b = stop - start
            whole = b == n
            cols = np.empty((w.shape[1], oh * ow * b), dtype=xp.dtype)
            y_chunk = y.reshape(out, -1) if whole else np.empty((out, oh * ow * b), dtype=y.dtype)
            for i0, i1 in self._bands(oh, ow, b):  # each band's columns are multiplied while in cache
                self._im2col(xp[..., start:stop], oh, ow, out=cols, rows=(i0, i1))
                a, z = i0 * ow * b, i1 * ow * b
                np.matmul(w, cols[:, a:z], out=y_chunk[:, a:z])
            if not whole:
                y[..., start:stop] = y_chunk.reshape(out, oh, ow, b)
            if keep:
                self._cols.append(cols)
        y += self.params["b"][:, None, None, None]
        y = y.transpose(3, 0, 1, 2)  # (N, out, OH, OW), a view
        return y[0] if self._one_sample else y

    def backward(self, grad_y: np.ndarray, *, input_grad: bool = True, accumulate: bool = False) -> np.ndarray | None:
        """grad_y = dL/dy (N, out, OH, OW) (or one sample) -> dL/dx of x's shape, or None."""
        if self._one_sample:
            grad_y = grad_y[None]
        n, _, oh, ow = grad_y.shape
        g_last = _samples_last_contiguous(grad_y)  # (out, OH, OW, N)
        w = self.params["W"].reshape(self.out_channels, -1)
        k, s, p = self.kernel_size, self.stride, self.padding
        xp = self._xp
        c, hp, wp = xp.shape[:3]
        grad_w_t = np.zeros(w.shape[::-1], dtype=g_last.dtype)  # dL/dW transposed, (in·k·k, out)
        grad_last = np.zeros((c, hp, wp, n), dtype=g_last.dtype) if input_grad else None
        self.last_path = "cached" if self._cols is not None else "rebuilt"
        for chunk, (start, stop) in enumerate(self._chunks(n)):
            b = stop - start
            g = g_last.reshape(self.out_channels, -1) if b == n else \
                np.ascontiguousarray(g_last[..., start:stop]).reshape(self.out_channels, -1)  # G, (out, OH·OW·B)
            cols = self._cols[chunk] if self._cols is not None else None
            if cols is None:
                cols = np.empty((w.shape[1], oh * ow * b), dtype=xp.dtype)
            target_x = grad_last[..., start:stop] if input_grad else None
            for i0, i1 in self._bands(oh, ow, b):
                if self._cols is None:
                    self._im2col(xp[..., start:stop], oh, ow, out=cols, rows=(i0, i1))
                a, z = i0 * ow * b, i1 * ow * b
                grad_w_t += cols[:, a:z] @ g[:, a:z].T
                if input_grad:
                    dcols = (w.T @ g[:, a:z]).reshape(c, k, k, i1 - i0, ow, b)
                    for u in range(k):
                        for v in range(k):
                            target = target_x[:, i0 * s + u : i1 * s + u : s, v : v + s * ow : s]
                            np.add(target, dcols[:, u, v], out=target)
        grad_w = grad_w_t.T
        grad_b = np.add.reduce(g_last.reshape(self.out_channels, -1), axis=1)
        if accumulate:
            self._grads["W"] += grad_w.reshape(self.params["W"].shape)
            self._grads["b"] += grad_b
        else:
            self._grads["W"][...] = grad_w.reshape(self.params["W"].shape)
            self._grads["b"][...] = grad_b
        if not input_grad:
            return None
        grad_x = grad_last[:, p : hp - p, p : wp - p].transpose(3, 0, 1, 2)  # (N, in, H, W), a view
        return grad_x[0] if self._one_sample else grad_x

    def get_config(self) -> dict:
        return {"type": "Conv2D", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "init": self.init, "dtype": self.dtype.name}


class MaxPool2D(Layer):
    """The maximum of each k x k window, windows ``stride`` apart (default: k, windows side by side):

        y[n, c, i, j] = max_{u, v} x[n, c, i*s + u, j*s + v]

    Backward routes each window's gradient to the one input that was its maximum (the first, on a
    tie, as PyTorch does): dL/dx[n, c, i*s + u*, j*s + v*] += dL/dy[n, c, i, j]. Overlapping
    windows (s < k) may route several gradients to one input; they add up. It is computed as k·k
    strided slices, one per window offset (u, v), of dL/dy where that offset held the maximum.

    Like ``Conv2D``, it works on (C, H, W, N) arrays, the samples innermost, and hands on (N, C, OH,
    OW) views of them: each window offset's values are then a slice with runs of N contiguous
    numbers.
    """

    new_outputs = True

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = _positive("MaxPool2D", "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else _positive("MaxPool2D", "stride", stride)
        self._argmax: np.ndarray | None = None
        self._x_shape: tuple[int, ...] = ()
        self._one_sample = False

    def output_shape(self, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(C, H, W) in -> (C, OH, OW) out; raises ValueError when the window does not fit."""
        if len(shape) != 3:
            raise ValueError(f"MaxPool2D takes images C x H x W but receives {_text(shape)}")
        c, h, w = shape
        oh, ow = (conv_output_side(side, self.kernel_size, self.stride) for side in (h, w))
        if oh < 1 or ow < 1:
            k = self.kernel_size
            raise ValueError(f"MaxPool2D window {k}x{k} is larger than its input {c}x{h}x{w}")
        return c, oh, ow

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x (N, C, H, W) or (C, H, W) -> y (N, C, OH, OW) or (C, OH, OW)."""
        self._one_sample = x.ndim == 3
        if self._one_sample:
            x = x[None]
        _, oh, ow = self.output_shape(x.shape[1:])
        k, s = self.kernel_size, self.stride
        self._x_shape = x.shape
        x_last = _samples_last_contiguous(x)  # (C, H, W, N)
        # one strided slice per window offset (u, v): the value at that offset of every window
        candidates = [x_last[:, u : u + s * oh : s, v : v + s * ow : s] for u in range(k) for v in range(k)]
        y = candidates[0].copy()
        argmax = np.zeros(y.shape, dtype=np.uint8 if k * k <= 255 else np.intp)  # the offset u*k + v of the max
        step = np.empty_like(argmax)
        for offset in range(1, k * k):
            candidate = candidates[offset]
            larger = np.greater(candidate, y).view(np.uint8)  # strictly: a tie keeps the first maximum
            np.maximum(y, candidate, out=y)
            # argmax = offset where larger, else unchanged, as argmax += larger * (offset - argmax):
            # exact in wrapping uint8 arithmetic, and 40x faster than a masked copy (np.copyto where=)
            np.subtract(argmax.dtype.type(offset), argmax, out=step)
            step *= larger
            argmax += step
        self._argmax = argmax  # (C, OH, OW, N)
        y = y.transpose(3, 0, 1, 2)
        return y[0] if self._one_sample else y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        if self._one_sample:
            grad_y = grad_y[None]
        k, s = self.kernel_size, self.stride
        _, _, oh, ow = grad_y.shape
        g_last = _samples_last(grad_y)
        n, c, h, w = self._x_shape
        grad_last = np.zeros((c, h, w, n), dtype=grad_y.dtype)
        mask = np.empty(self._argmax.shape, dtype=bool)
        for u in range(k):
            for v in range(k):
                target = grad_last[:, u : u + s * oh : s, v : v + s * ow : s]
                np.equal(self._argmax, u * k + v, out=mask)
                if s >= k:  # windows apart: each input in at most one window, so write instead of add
                    np.multiply(g_last, mask, out=target)
                else:
                    np.add(target, g_last * mask, out=target)
        grad_x = grad_last.transpose(3, 0, 1, 2)
        return grad_x[0] if self._one_sample else grad_x

    def get_config(self) -> dict:
        return {"type": "MaxPool2D", "kernel_size": self.kernel_size, "stride": self.stride}


class Flatten(Layer):
    """(N, C, H, W) -> (N, C·H·W) in C order, like ``torch.flatten(x, 1)``; one sample (C, H, W) ->
    (C·H·W,). dL/dx is dL/dy reshaped back.

    An input laid out with the samples innermost (from ``Conv2D`` or ``MaxPool2D``) is flattened
    without a copy, as the transpose of its (C·H·W, N) view, and dL/dx is handed back in that
    layout (one copy of the small (N, C·H·W) gradient)."""

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 3:
            raise ValueError(f"Flatten takes images C x H x W but receives {_text(shape)}")
        return (math.prod(shape),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x_shape = x.shape
        self._samples_last = x.ndim == 4 and not x.flags.c_contiguous and _samples_last(x).flags.c_contiguous
        if self._samples_last:
            return _samples_last(x).reshape(-1, len(x)).T
        return x.reshape(-1) if x.ndim == 3 else x.reshape(len(x), -1)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        if self._samples_last:
            n, c, h, w = self._x_shape
            return np.ascontiguousarray(grad_y.T).reshape(c, h, w, n).transpose(3, 0, 1, 2)
        return grad_y.reshape(self._x_shape)


class Reshape(Layer):
    """(N, F) -> (N, *shape), with F = prod(shape); one sample (F,) -> shape. dL/dx is dL/dy
    reshaped back. ``Reshape((1, 28, 28))`` turns flat MNIST rows into one-channel images."""

    def __init__(self, shape) -> None:
        super().__init__()
        if not isinstance(shape, (tuple, list)) or not shape:
            raise ValueError(f"Reshape shape must be a list of positive integers, got {shape!r}")
        self.shape = tuple(_positive("Reshape", "shape", side) for side in shape)
        self.size = math.prod(self.shape)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(shape) != (self.size,):
            raise ValueError(f"Reshape to {_text(self.shape)} takes {self.size} features but receives {_text(shape)}")
        return self.shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if x.shape[-1] != self.size:
            raise ValueError(f"Reshape to {self.shape} takes {self.size} features, got {x.shape[-1]}")
        self._x_shape = x.shape
        return x.reshape(self.shape) if x.ndim == 1 else x.reshape(len(x), *self.shape)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y.reshape(self._x_shape)

    def get_config(self) -> dict:
        return {"type": "Reshape", "shape": list(self.shape)}


CONV_LAYER_TYPES = (Conv2D, MaxPool2D, Flatten, Reshape)
LAYER_TYPES.update({cls.__name__: cls for cls in CONV_LAYER_TYPES})
