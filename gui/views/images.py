"""Small image helpers: NumPy arrays to Qt images and back."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap

DIGIT_SIDE = 28


def grey_qimage(values: np.ndarray) -> QImage:
    """A Grayscale8 QImage (its own copy) of ``values``: (H, W) floats in [0, 1], 1 = white."""
    bytes_ = np.ascontiguousarray(np.clip(values, 0.0, 1.0) * 255.0 + 0.5, dtype=np.float32).astype(np.uint8)
    height, width = bytes_.shape
    return QImage(bytes_.data, width, height, width, QImage.Format_Grayscale8).copy()


def digit_pixmap(pixels: np.ndarray, side: int) -> QPixmap:
    """A ``side``×``side`` pixmap (``side`` a multiple of 28) of a (784,) or (28, 28) digit, white
    ink on black, each pixel a crisp square. Enlarged with NumPy: QImage.scaled costs ~10× more,
    and the drawing pad calls this on every update."""
    factor, rest = divmod(side, DIGIT_SIDE)
    if rest or factor < 1:
        raise ValueError(f"side must be a positive multiple of {DIGIT_SIDE}, got {side}")
    digit = np.asarray(pixels, dtype=np.float32).reshape(DIGIT_SIDE, DIGIT_SIDE)
    return QPixmap.fromImage(grey_qimage(np.repeat(np.repeat(digit, factor, axis=0), factor, axis=1)))


def grey_array(image: QImage) -> np.ndarray:
    """(H, W) float32 in [0, 1] from a Grayscale8 QImage, read through a NumPy view of its bits."""
    height, width = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    view = rows.reshape(height, image.bytesPerLine())[:, :width]
    return view.astype(np.float32) * np.float32(1.0 / 255.0)
