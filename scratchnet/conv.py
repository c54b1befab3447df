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

    Forward by im2col: every window becomes a row of ``cols`` (N·OH·OW, in·k·k), in the order
    (n, i, j) x (c, u, v), and the convolution is one matrix product:
        Y = cols @ Wm^T + b      Wm = W.reshape(out, in·k·k),  Y (N·OH·OW, out) -> y (N, out, OH, OW)
    Backward, with G = dL/dy laid out like Y (N·OH·OW, out):
        dL/dW = G^T cols          (out, in·k·k) -> (out, in, k, k)
        dL/db = sum of G's rows    (out,)
        dL/dcols = G Wm           (N·OH·OW, in·k·k)
        dL/dx: col2im, the windows' gradients added back where the windows came from: k·k strided
               slice-adds, one per kernel offset (u, v), each of a (N, in, OH, OW) block.
    ``backward(..., input_grad=False)`` skips dL/dcols and col2im (the first layer's input gradient,
    which nobody needs); ``accumulate=True`` adds to ``grads``.

    The weights are drawn as a Dense layer's would be for fan_in = in·k·k inputs and ``out`` units
    (``init_weights``), then reshaped.
    """

    new_outputs = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                 init: str = "he", dtype=np.float32, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.in_channels = _positive("Conv2D", "in_channels", in_channels)
        self.out_channels = _positive("Conv2D", "out_channels", out_channels)
        self.kernel_size = _positive("Conv2D", "kernel_size", kernel_size)
        self.stride = _positive("Conv2D", "stride", stride)
        self.padding = _positive("Conv2D", "padding", padding, minimum=0)
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
        self._cols: np.ndarray | None = None
        self._x_shape: tuple[int, ...] = ()
        self._one_sample = False

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

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x (N, in, H, W) or one sample (in, H, W) -> y (N, out, OH, OW) or (out, OH, OW)."""
        self._one_sample = x.ndim == 3
        if self._one_sample:
            x = x[None]
        n = x.shape[0]
        _, oh, ow = self.output_shape(x.shape[1:])
        k, p = self.kernel_size, self.padding
        self._x_shape = x.shape
        if p:
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        # (N, C, OH, OW, k, k) -> (N, OH, OW, C, k, k): the one copy of im2col
        cols = _windows(x, k, self.stride, oh, ow).transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, -1)
        self._cols = cols
        w = self.params["W"].reshape(self.out_channels, -1)
        y = cols @ w.T
        y += self.params["b"]
        y = y.reshape(n, oh, ow, self.out_channels).transpose(0, 3, 1, 2)
        return y[0] if self._one_sample else y

    def backward(self, grad_y: np.ndarray, *, input_grad: bool = True, accumulate: bool = False) -> np.ndarray | None:
        """grad_y = dL/dy (N, out, OH, OW) (or one sample) -> dL/dx of x's shape, or None."""
        if self._one_sample:
            grad_y = grad_y[None]
        n, _, oh, ow = grad_y.shape
        g = grad_y.transpose(0, 2, 3, 1).reshape(n * oh * ow, self.out_channels)  # G, (N·OH·OW, out)
        w = self.params["W"].reshape(self.out_channels, -1)
        grad_w = (g.T @ self._cols).reshape(self.params["W"].shape)
        grad_b = np.add.reduce(g, axis=0)
        if accumulate:
            self._grads["W"] += grad_w
            self._grads["b"] += grad_b
        else:
            self._grads["W"][...] = grad_w
            self._grads["b"][...] = grad_b
        if not input_grad:
            return None
        k, s, p = self.kernel_size, self.stride, self.padding
        c, h, wd = self._x_shape[1:]
        dcols = (g @ w).reshape(n, oh, ow, c, k, k)
        grad_xp = np.zeros((n, c, h + 2 * p, wd + 2 * p), dtype=dcols.dtype)
        for u in range(k):
            for v in range(k):
                grad_xp[:, :, u : u + s * oh : s, v : v + s * ow : s] += dcols[:, :, :, :, u, v].transpose(0, 3, 1, 2)
        grad_x = grad_xp[:, :, p : p + h, p : p + wd] if p else grad_xp
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
        n, c = x.shape[:2]
        _, oh, ow = self.output_shape(x.shape[1:])
        k = self.kernel_size
        self._x_shape = x.shape
        windows = _windows(x, k, self.stride, oh, ow).reshape(n, c, oh, ow, k * k)  # a copy
        self._argmax = windows.argmax(axis=4)  # (N, C, OH, OW): the offset u*k + v of each maximum
        y = np.take_along_axis(windows, self._argmax[..., None], axis=4)[..., 0]
        return y[0] if self._one_sample else y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        if self._one_sample:
            grad_y = grad_y[None]
        k, s = self.kernel_size, self.stride
        _, _, oh, ow = grad_y.shape
        grad_x = np.zeros(self._x_shape, dtype=grad_y.dtype)
        for u in range(k):
            for v in range(k):
                routed = grad_y * (self._argmax == u * k + v)
                grad_x[:, :, u : u + s * oh : s, v : v + s * ow : s] += routed
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
