"""Image files to grey pixel arrays with Qt's image reader (PNG, JPEG, BMP; no new dependency).

``read_grey`` is the ``read_image`` that ``scratchnet.data.load_dataset`` is given for image
folders: the engine never imports Qt. It checks the size the file's header claims before decoding,
so a 60,000 x 60,000 "bomb" is refused without allocating its pixels. Safe off the GUI thread
(QImageReader and QImage need no QApplication and touch no widget).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage, QImageReader, QPainter

from scratchnet.errors import DatasetError
from scratchnet.files import read_regular
from scratchnet.limits import MAX_IMAGE_SIDE

MAX_IMAGE_FILE_BYTES = 64 << 20
VECTOR_FORMATS = ("svg", "svgz")


def read_grey(path: str | os.PathLike) -> np.ndarray:
    """(height, width) uint8 luminance of the image at ``path``; colour is turned to grey, and
    transparency is laid on white. Only a regular file of at most 64 MB is read (by us: Qt would
    block on a FIFO); SVG drawings are refused (a small one can expand to gigabytes). Raises
    DatasetError naming the image for a missing, corrupt or oversized file."""
    path = Path(path)
    data = QByteArray(read_regular(path, MAX_IMAGE_FILE_BYTES, DatasetError, str(path)))
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    kind = bytes(reader.format().data()).decode("ascii", "replace").lower()
    if not kind or not reader.canRead():
        raise DatasetError(f"{path}: not an image Qt can read ({_reason(reader)})")
    if kind in VECTOR_FORMATS:
        raise DatasetError(f"{path}: is an SVG drawing, which is not read; export it as a PNG first")
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > MAX_IMAGE_SIDE:
        raise DatasetError(f"{path}: its header claims {size.width():,}x{size.height():,} pixels, more than "
                           f"{MAX_IMAGE_SIDE:,}x{MAX_IMAGE_SIDE:,}: refused before decoding")
    image = reader.read()
    if image.isNull():
        raise DatasetError(f"{path}: corrupt image ({_reason(reader)})")
    if image.format() in (QImage.Format.Format_Grayscale8, QImage.Format.Format_Indexed8) and image.allGray():
        return _pixels(image.convertToFormat(QImage.Format.Format_Grayscale8), 1)[:, :, 0].copy()
    if image.hasAlphaChannel():  # transparent parts are laid on white paper
        flat = QImage(image.size(), QImage.Format.Format_RGB32)
        flat.fill(0xFFFFFFFF)
        painter = QPainter(flat)
        painter.drawImage(0, 0, image)
        painter.end()
        image = flat
    bgrx = _pixels(image.convertToFormat(QImage.Format.Format_RGB32), 4).astype(np.uint32)
    # ITU-R BT.601 luma, as PIL's "L" mode: pure red is 76, and grey stays exactly its level
    luma = (bgrx[:, :, 2] * 299 + bgrx[:, :, 1] * 587 + bgrx[:, :, 0] * 114 + 500) // 1000
    return luma.astype(np.uint8)


def _pixels(image: QImage, channels: int) -> np.ndarray:
    """(height, width, channels) uint8 view of ``image``'s rows (the stride's padding cut off)."""
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    return rows[:, :width * channels].reshape(height, width, channels)


def _reason(reader: QImageReader) -> str:
    text = reader.errorString()
    return text[0].lower() + text[1:] if text else "unknown error"
