"""Small image helpers: NumPy arrays to Qt images and back."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QImage, QPixmap

DIGIT_SIDE = 28


def grey_qimage(values: np.ndarray) -> QImage:
    """A Grayscale8 QImage (its own copy) of ``values``: (H, W) floats in [0, 1], 1 = white."""
    bytes_ = np.ascontiguousarray(np.clip(values, 0.0, 1.0) * 255.0 + 0.5, dtype=np.float32).astype(np.uint8)
    height, width = bytes_.shape
    return QImage(bytes_.data, width, height, width, QImage.Format_Grayscale8).copy()


def square_side(count: int) -> int | None:
    """The side of a square image of ``count`` pixels, or None when ``count`` is not a square."""
    side = math.isqrt(count) if count > 0 else 0
    return side if side > 0 and side * side == count else None


def digit_pixmap(pixels: np.ndarray, side: int) -> QPixmap:
    """A pixmap of a square image ((S*S,) or (S, S), 28×28 for MNIST), white ink on black, each
    pixel a crisp square of ``side // S`` screen pixels (so ``side``×``side`` when ``side`` is a
    multiple of S). Enlarged with NumPy: QImage.scaled costs ~10× more, and the drawing pad calls
    this on every update."""
    pixels = np.asarray(pixels, dtype=np.float32)
    image_side = square_side(pixels.size)
    if image_side is None:
        raise ValueError(f"a square image is needed, got {pixels.size} pixels")
    factor = side // image_side
    if factor < 1:
        raise ValueError(f"side must be at least the image's {image_side}, got {side}")
    digit = pixels.reshape(image_side, image_side)
    return QPixmap.fromImage(grey_qimage(np.repeat(np.repeat(digit, factor, axis=0), factor, axis=1)))


def grey_array(image: QImage) -> np.ndarray:
    """(H, W) float32 in [0, 1] from a Grayscale8 QImage, read through a NumPy view of its bits."""
    height, width = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    view = rows.reshape(height, image.bytesPerLine())[:, :width]
    return view.astype(np.float32) * np.float32(1.0 / 255.0)
