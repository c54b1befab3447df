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


def _windows(x: np.ndarray, k: int, stride: int, out_h: int, out_w: int) -> np.ndarray:
    """A read-only view (N, C, OH, OW, k, k) of every k x k window of x (N, C, H, W), no copy:
    windows[n, c, i, j] = x[n, c, i*s : i*s + k, j*s : j*s + k]."""
    sn, sc, sh, sw = x.strides
    return as_strided(x, (x.shape[0], x.shape[1], out_h, out_w, k, k),
                      (sn, sc, sh * stride, sw * stride, sh, sw), writeable=False)


class Conv2D(Layer):
    """2-D cross-correlation (what deep learning calls convolution), as in ``torch.nn.Conv2d``:

        y[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] * xp[n, c, i*s + u, j*s + v]

    with xp the input zero-padded by p on each side. W is (out, in, k, k), b is (out,).

    Forward by im2col: the windows of sample n become the columns of cols[n] (in·k·k, OH·OW), rows
    in the order (c, u, v) of W's last three axes, and the convolution is one matrix product per
    sample, which lands in y's own (out, OH, OW) layout:
        y[n] = Wm cols[n] + b      Wm = W.reshape(out, in·k·k),   y[n] (out, OH·OW)
    Backward, with G[n] = dL/dy[n] as (out, OH·OW):
        dL/dW = sum_n G[n] cols[n]^T      (out, in·k·k) -> (out, in, k, k)
        dL/db = sum_{n, i, j} G[n, :, ij]  (out,)
        dL/dcols[n] = Wm^T G[n]           (in·k·k, OH·OW)
        dL/dx: col2im, each window's gradient added back where the window came from: k·k strided
               slice-adds, one per kernel offset (u, v), each of an (in, OH, OW, N) block (the
               samples innermost: see ``backward``).
    ``backward(..., input_grad=False)`` skips dL/dcols and col2im (the first layer's input gradient,
    which nobody needs); ``accumulate=True`` adds to ``grads``.

    Speed options, each the same numbers: the samples go through in chunks of ``chunk`` (their
    columns stay in cache, and memory is bounded for a large evaluation); the columns of a batch of
    at most ``cache_samples`` samples are kept for backward, those of a larger one (a full-batch
    chunk, an evaluation) are rebuilt from the kept input, chunk by chunk, when backward needs them.

    The weights are drawn as a Dense layer's would be for fan_in = in·k·k inputs and ``out`` units
    (``init_weights``), then reshaped.
    """

    new_outputs = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                 init: str = "he", dtype=np.float32, rng: np.random.Generator | None = None, chunk: int = 64,
                 cache_samples: int = 256) -> None:
        super().__init__()
        self.in_channels = _positive("Conv2D", "in_channels", in_channels)
        self.out_channels = _positive("Conv2D", "out_channels", out_channels)
        self.kernel_size = _positive("Conv2D", "kernel_size", kernel_size)
        self.stride = _positive("Conv2D", "stride", stride)
        self.padding = _positive("Conv2D", "padding", padding, minimum=0)
        self.chunk = _positive("Conv2D", "chunk", chunk)
        self.cache_samples = _positive("Conv2D", "cache_samples", cache_samples, minimum=0)
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
        self._xp: np.ndarray | None = None  # the padded input of the last forward
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

    def _im2col(self, xp: np.ndarray, oh: int, ow: int) -> np.ndarray:
        """Padded images xp (B, in, Hp, Wp) -> cols (B, in·k·k, OH·OW): the one copy of im2col."""
        k = self.kernel_size
        windows = _windows(xp, k, self.stride, oh, ow)  # (B, in, OH, OW, k, k), a view
        return windows.transpose(0, 1, 4, 5, 2, 3).reshape(len(xp), self.in_channels * k * k, oh * ow)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x (N, in, H, W) or one sample (in, H, W) -> y (N, out, OH, OW) or (out, OH, OW)."""
        self._one_sample = x.ndim == 3
        if self._one_sample:
            x = x[None]
        n = x.shape[0]
        _, oh, ow = self.output_shape(x.shape[1:])
        p = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        self._xp = xp
        keep = n <= self.cache_samples
        self._cols = [] if keep else None
        w = self.params["W"].reshape(self.out_channels, -1)
        y = np.empty((n, self.out_channels, oh * ow), dtype=np.result_type(x.dtype, w.dtype))
        for start in range(0, n, self.chunk):
            cols = self._im2col(xp[start : start + self.chunk], oh, ow)
            np.matmul(w, cols, out=y[start : start + self.chunk])
            if keep:
                self._cols.append(cols)
        y += self.params["b"][:, None]
        y = y.reshape(n, self.out_channels, oh, ow)
        return y[0] if self._one_sample else y

    def backward(self, grad_y: np.ndarray, *, input_grad: bool = True, accumulate: bool = False) -> np.ndarray | None:
        """grad_y = dL/dy (N, out, OH, OW) (or one sample) -> dL/dx of x's shape, or None."""
        if self._one_sample:
            grad_y = grad_y[None]
        n, _, oh, ow = grad_y.shape
        g = np.ascontiguousarray(grad_y).reshape(n, self.out_channels, oh * ow)  # G
        w = self.params["W"].reshape(self.out_channels, -1)
        k, s, p = self.kernel_size, self.stride, self.padding
        xp = self._xp
        c, hp, wp = xp.shape[1:]
        grad_w = np.zeros(w.shape, dtype=g.dtype)
        grad_x = np.empty((n, c, hp - 2 * p, wp - 2 * p), dtype=g.dtype) if input_grad else None
        self.last_path = "cached" if self._cols is not None else "rebuilt"
        for i, start in enumerate(range(0, n, self.chunk)):
            stop = start + self.chunk
            cols = self._cols[i] if self._cols is not None else self._im2col(xp[start:stop], oh, ow)
            gc = g[start:stop]
            grad_w += np.add.reduce(np.matmul(gc, cols.transpose(0, 2, 1)), axis=0)
            if input_grad:
                # dL/dcols and col2im with the samples innermost, (in, H, W, B): each slice-add then
                # runs over rows of OW·B numbers instead of OW (8 for LeNet's second layer), 5x faster
                b = len(gc)
                g_last = gc.transpose(1, 2, 0).reshape(self.out_channels, oh * ow * b)  # (out, OH·OW·B)
                dcols = (w.T @ g_last).reshape(c, k, k, oh, ow, b)
                grad_last = np.zeros((c, hp, wp, b), dtype=g.dtype)
                for u in range(k):
                    for v in range(k):
                        target = grad_last[:, u : u + s * oh : s, v : v + s * ow : s]
                        np.add(target, dcols[:, u, v], out=target)
                grad_x[start:stop] = grad_last[:, p : hp - p, p : wp - p].transpose(3, 0, 1, 2)
        grad_b = np.add.reduce(g, axis=(0, 2))
        if accumulate:
            self._grads["W"] += grad_w.reshape(self.params["W"].shape)
            self._grads["b"] += grad_b
        else:
            self._grads["W"][...] = grad_w.reshape(self.params["W"].shape)
            self._grads["b"][...] = grad_b
        if not input_grad:
            return None
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
    strided slice-adds, one per window offset (u, v), of dL/dy where that offset held the maximum.
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
        if s == k:
            # windows side by side: one copy puts each offset's values in a contiguous block
            # (k, k, N, C, OH, OW), and the comparisons below run 2-3x faster than on strided slices
            n, c = x.shape[:2]
            blocks = x[:, :, : k * oh, : k * ow].reshape(n, c, oh, k, ow, k).transpose(3, 5, 0, 1, 2, 4).copy()
            candidates = [blocks[u, v] for u in range(k) for v in range(k)]
        else:  # one strided slice per window offset (u, v): the value at that offset of every window
            candidates = [x[:, :, u : u + s * oh : s, v : v + s * ow : s] for u in range(k) for v in range(k)]
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
        self._argmax = argmax  # (N, C, OH, OW)
        return y[0] if self._one_sample else y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        if self._one_sample:
            grad_y = grad_y[None]
        k, s = self.kernel_size, self.stride
        _, _, oh, ow = grad_y.shape
        grad_x = np.zeros(self._x_shape, dtype=grad_y.dtype)
        for u in range(k):
            for v in range(k):
                target = grad_x[:, :, u : u + s * oh : s, v : v + s * ow : s]
                np.add(target, grad_y * (self._argmax == u * k + v), out=target)
        return grad_x[0] if self._one_sample else grad_x

    def get_config(self) -> dict:
        return {"type": "MaxPool2D", "kernel_size": self.kernel_size, "stride": self.stride}


class Flatten(Layer):
    """(N, C, H, W) -> (N, C·H·W) in C order, like ``torch.flatten(x, 1)``; one sample (C, H, W) ->
    (C·H·W,). dL/dx is dL/dy reshaped back."""

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 3:
            raise ValueError(f"Flatten takes images C x H x W but receives {_text(shape)}")
        return (math.prod(shape),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x_shape = x.shape
        return x.reshape(-1) if x.ndim == 3 else x.reshape(len(x), -1)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
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
