"""Image files to grey pixel arrays with Qt's image reader (PNG, JPEG, BMP; no new dependency).

``read_grey`` is the ``read_image`` that ``scratchnet.data.load_dataset`` is given for image
folders: the engine never imports Qt. It checks the size the file's header claims before decoding,
so a 60,000 x 60,000 "bomb" is refused without allocating its pixels. Safe off the GUI thread
(QImageReader and QImage need no QApplication and touch no widget).
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, qInstallMessageHandler
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
    messages = []
    try:  # what the decoders print (at the header too: JPEG) goes into the message, not the terminal
        with _QtMessages() as messages, _decoder_stderr(messages):
            image = _decode(path, data)
    except DatasetError as exc:
        said = "".join(f"; {m}" for m in dict.fromkeys(messages))
        if said and str(exc).endswith(")"):
            raise DatasetError(f"{str(exc)[:-1]}{said})") from None
        raise
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


class _QtMessages:
    """Collects the messages Qt's decoders print while this thread reads an image ("libpng error:
    Read Error" would otherwise appear on the terminal before our own message), as a list. A Qt
    message handler is process-wide: it is installed while any thread reads, messages of other
    threads go on to the handler that was there before, and it is restored after the last read."""

    _lock = threading.Lock()
    _readers: dict[int, list[str]] = {}
    _previous = None

    def __enter__(self) -> list[str]:
        with self._lock:
            if not _QtMessages._readers:
                _QtMessages._previous = qInstallMessageHandler(_QtMessages._handle)
            found = _QtMessages._readers[threading.get_ident()] = []
        return found

    def __exit__(self, *exc) -> None:
        with self._lock:
            _QtMessages._readers.pop(threading.get_ident(), None)
            if not _QtMessages._readers:
                qInstallMessageHandler(_QtMessages._previous)
                _QtMessages._previous = None

    @staticmethod
    def _handle(kind, context, message: str) -> None:
        found = _QtMessages._readers.get(threading.get_ident())
        if found is not None:
            found.append(message.strip())
        elif _QtMessages._previous is not None:
            _QtMessages._previous(kind, context, message)
        elif sys.stderr is not None:
            sys.stderr.write(f"{message}\n")


_STDERR_LOCK = threading.Lock()
_caught_stderr = None  # a temporary file, made at the first decode and reused


@contextlib.contextmanager
def _decoder_stderr(messages: list[str]):
    """Catches what libpng itself writes to the process's standard error (file descriptor 2, not
    through Qt) while an image decodes, adding it to ``messages``. One decode at a time; any other
    line written meanwhile is written again to the real standard error afterwards."""
    global _caught_stderr
    with _STDERR_LOCK:
        if sys.stderr is not None:
            sys.stderr.flush()
        try:
            if _caught_stderr is None:
                _caught_stderr = tempfile.TemporaryFile()
            caught = _caught_stderr
            saved = os.dup(2)
        except OSError:  # no temporary folder, or no standard error at all: nothing is caught
            yield
            return
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            text = ""
            if os.fstat(caught.fileno()).st_size:
                caught.seek(0)
                text = caught.read().decode("utf-8", "replace")
                caught.seek(0)
                caught.truncate()
            for line in text.splitlines():
                if line.startswith("libpng"):
                    messages.append(line.strip())
                elif line.strip() and sys.stderr is not None:
                    sys.stderr.write(f"{line}\n")


def _bmp_size(kind: str, data: bytes) -> tuple[int, int]:
    """(width, height) a BMP's header claims, read by us: Qt's BMP reader gives no size for one it
    would not decode (e.g. 60,000 x 60,000), which would otherwise be called corrupt. (0, 0) when
    ``data`` is no BMP or its header is cut short."""
    if kind != "bmp" or len(data) < 26 or data[:2] != b"BM":
        return 0, 0
    (header,) = struct.unpack_from("<I", data, 14)
    if header == 12:  # BITMAPCOREHEADER: 16-bit sizes
        width, height = struct.unpack_from("<HH", data, 18)
    else:  # BITMAPINFOHEADER and later: 32-bit, a negative height for top-down rows
        width, height = struct.unpack_from("<ii", data, 18)
    return abs(width), abs(height)


def _decode(path: Path, data: QByteArray) -> QImage:
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
    width, height = (size.width(), size.height()) if size.isValid() else _bmp_size(kind, bytes(data))
    if max(width, height) > MAX_IMAGE_SIDE:
        raise DatasetError(f"{path}: its header claims {width:,}x{height:,} pixels, more than "
                           f"{MAX_IMAGE_SIDE:,}x{MAX_IMAGE_SIDE:,}: refused before decoding")
    image = reader.read()
    if image.isNull():
        raise DatasetError(f"{path}: corrupt image ({_reason(reader)})")
    return image


def _pixels(image: QImage, channels: int) -> np.ndarray:
    """(height, width, channels) uint8 view of ``image``'s rows (the stride's padding cut off)."""
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    return rows[:, :width * channels].reshape(height, width, channels)


def _reason(reader: QImageReader) -> str:
    text = reader.errorString()
    return text[0].lower() + text[1:] if text else "unknown error"
