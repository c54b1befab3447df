"""An independent float64 computation of a network of images, with plain loops: what the feature
maps of ``scratchnet.explain.feature_maps`` and the window are checked against."""

from __future__ import annotations

import numpy as np

from scratchnet.conv import Conv2D, MaxPool2D, Reshape
from scratchnet.layers import ReLU, Tanh


def convolve(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """y[o, i, j] = b[o] + sum over c, u, v of w[o, c, u, v] * xp[c, i*s + u, j*s + v]."""
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    out, _, k, _ = w.shape
    oh, ow = (xp.shape[1] - k) // stride + 1, (xp.shape[2] - k) // stride + 1
    y = np.empty((out, oh, ow))
    for o in range(out):
        for i in range(oh):
            for j in range(ow):
                window = xp[:, i * stride:i * stride + k, j * stride:j * stride + k]
                y[o, i, j] = b[o] + float(np.sum(w[o] * window))
    return y


def max_pool(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    oh, ow = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    y = np.empty((x.shape[0], oh, ow))
    for c in range(x.shape[0]):
        for i in range(oh):
            for j in range(ow):
                y[c, i, j] = x[c, i * stride:i * stride + k, j * stride:j * stride + k].max()
    return y


def image_layer_outputs(model, pixels: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(position in model.layers, output (C, H, W)) of every image layer after the Reshape, for
    one flat image, from the model's weights read as float64."""
    value = None
    outputs = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Reshape):
            value = np.asarray(pixels, np.float64).reshape(layer.shape)
            continue
        if value is None or value.ndim != 3:
            break
        if isinstance(layer, Conv2D):
            value = convolve(value, layer.params["W"].astype(np.float64), layer.params["b"].astype(np.float64),
                             layer.stride, layer.padding)
        elif isinstance(layer, MaxPool2D):
            value = max_pool(value, layer.kernel_size, layer.stride)
        elif isinstance(layer, ReLU):
            value = np.maximum(value, 0.0)
        elif isinstance(layer, Tanh):
            value = np.tanh(value)
        else:
            break  # Flatten: no more images
        outputs.append((i, value))
    return outputs
