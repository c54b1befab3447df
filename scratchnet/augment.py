"""Data augmentation for flattened square images: random shifts, small rotations and scaling.

Each image gets its own random affine map (rotation about the image centre, isotropic scale,
sub-pixel shift). The whole batch is resampled at once with bilinear interpolation by index
arithmetic; pixels that come from outside the image are 0 (background). NumPy only, and every
random number comes from the generator the caller passes, so a seeded run repeats exactly.
"""

from __future__ import annotations

import math

import numpy as np


class Augmenter:
    """A callable ``(x (N, side*side) float32, rng) -> (N, side*side) float32`` of random warps.

    ``max_shift`` is in pixels (uniform in [-max_shift, max_shift] along each axis),
    ``max_rotation`` in degrees (uniform in [-max_rotation, max_rotation]) and ``max_scale`` a
    relative change (the scale is uniform in [1 - max_scale, 1 + max_scale]).
    """

    def __init__(
        self, max_shift: float = 2.0, max_rotation: float = 12.0, max_scale: float = 0.1, side: int = 28
    ) -> None:
        if not isinstance(side, (int, np.integer)) or side < 2:
            raise ValueError(f"side must be a whole number of at least 2 pixels, got {side!r}")
        for name, value, upper in (("max_shift", max_shift, side / 2), ("max_rotation", max_rotation, 180.0),
                                   ("max_scale", max_scale, 0.5)):
            if not (math.isfinite(value) and 0 <= value <= upper):
                raise ValueError(f"{name} must be between 0 and {upper:g}, got {value!r}")
        self.max_shift = float(max_shift)
        self.max_rotation = float(max_rotation)
        self.max_scale = float(max_scale)
        self.side = side
        centre = (side - 1) / 2
        rows, cols = np.divmod(np.arange(side * side, dtype=np.float32), np.float32(side))
        # output pixel coordinates relative to the centre, shape (side*side,)
        self._dy = rows - np.float32(centre)
        self._dx = cols - np.float32(centre)
        self._centre = np.float32(centre)

    def get_config(self) -> dict:
        return {"max_shift": self.max_shift, "max_rotation": self.max_rotation, "max_scale": self.max_scale,
                "side": self.side}

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Warp each image of x (N, side*side) by its own random rotation, scale and shift."""
        n = len(x)
        angle = rng.uniform(-self.max_rotation, self.max_rotation, n)
        scale = rng.uniform(1 - self.max_scale, 1 + self.max_scale, n)
        shift = rng.uniform(-self.max_shift, self.max_shift, (n, 2))
        return self.warp(x, angle, scale, shift)

    def warp(self, x: np.ndarray, angle: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """Rotate image i of x (N, side*side) by angle[i] degrees (clockwise as displayed, rows going
        down) about the centre, scale it by scale[i], then move it by shift[i] = (down, right) pixels.

        ``angle`` and ``scale`` are (N,), ``shift`` is (N, 2); returns (N, side*side) float32.
        """
        n, features = x.shape
        if features != self.side * self.side:
            raise ValueError(f"expected images of {self.side * self.side} pixels, got {features}")
        radians = np.radians(np.asarray(angle, dtype=np.float64))
        scale = np.asarray(scale, dtype=np.float64)
        shift = np.asarray(shift, dtype=np.float64).reshape(n, 2)
        # inverse map: the output pixel at offset d from the centre reads the input at R(-a) d / s - shift
        cos = (np.cos(radians) / scale).astype(np.float32)[:, None]
        sin = (np.sin(radians) / scale).astype(np.float32)[:, None]
        src_y = cos * self._dy - sin * self._dx
        src_y += (self._centre - shift[:, :1]).astype(np.float32)
        src_x = sin * self._dy + cos * self._dx
        src_x += (self._centre - shift[:, 1:]).astype(np.float32)
        return _bilinear(x.astype(np.float32, copy=False), src_y, src_x, self.side)


def _bilinear(x: np.ndarray, src_y: np.ndarray, src_x: np.ndarray, side: int) -> np.ndarray:
    """Sample images x (N, side*side) at float coordinates src_y, src_x (N, side*side), zero outside.

    The images get a zero border (one pixel before, two after) and the coordinates are clipped into
    [-1, side], so all four neighbours of every point lie inside its own padded image and points
    beyond the image read zeros.
    """
    n = len(x)
    padded_side = side + 3
    padded = np.zeros((n, padded_side, padded_side), dtype=np.float32)
    padded[:, 1 : side + 1, 1 : side + 1] = x.reshape(n, side, side)
    padded = padded.reshape(-1)
    np.clip(src_y, -1, side, out=src_y)
    np.clip(src_x, -1, side, out=src_x)
    y0 = np.floor(src_y)
    x0 = np.floor(src_x)
    fy = src_y - y0
    fx = src_x - x0
    # top-left neighbour's index in the flattened padded batch; +1 from the border
    top_left = (y0.astype(np.int32) + 1) * padded_side + (x0.astype(np.int32) + 1)
    top_left += (np.arange(n, dtype=np.int32) * padded_side * padded_side)[:, None]
    top = padded[top_left]
    top += fx * (padded[top_left + 1] - top)
    top_left += padded_side
    bottom = padded[top_left]
    bottom += fx * (padded[top_left + 1] - bottom)
    top += fy * (bottom - top)
    return top
