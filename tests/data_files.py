"""Data files written on the spot for the import tests: CSV rows, PNG files (a pure NumPy + zlib
writer, which can also write a header that lies about the size), folders of images per class."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray, header: bool = False) -> Path:
    rows = np.column_stack([labels, images.reshape(len(images), -1)]).astype(np.int64)
    lines = [",".join(["label", *(f"pixel{i}" for i in range(rows.shape[1] - 1))])] if header else []
    lines += [",".join(map(str, row)) for row in rows.tolist()]
    path.write_text("\n".join(lines) + "\n")
    return path


def png_bytes(grey: np.ndarray, width: int | None = None, height: int | None = None) -> bytes:
    """A greyscale 8-bit PNG of ``grey`` (H, W) uint8; ``width``/``height`` override the header's."""
    h, w = grey.shape

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width or w, height or h, 8, 0, 0, 0, 0)
    raw = b"".join(b"\0" + row.tobytes() for row in grey)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_png_folders(root: Path, images: np.ndarray, labels: np.ndarray, names=None) -> Path:
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / (names[label] if names else str(label))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.png").write_bytes(png_bytes(image))
    return root


def tiny_images(n_per_class=6, classes=("cat", "dog"), side=8, seed=0):
    """Distinct random images per class: (images uint8 (N, side, side), labels, class names)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_per_class * len(classes), side, side), dtype=np.uint8)
    labels = np.repeat(np.arange(len(classes)), n_per_class)
    return images, labels, list(classes)
