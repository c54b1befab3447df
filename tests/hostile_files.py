"""Hostile files, small on disk, built on the spot: zip bombs, lying headers, huge images.

Used by ``test_hostile_files.py`` and by ``benchmarks/hostile_inputs.py`` (which measures each
case's time and peak memory). Every builder writes into a folder given by the caller and returns
the path. Big payloads are never held in memory: a deflate stream of repeated blocks is built by
compressing one block after a full flush (which resets the compressor) and repeating its bytes.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np

GIB = 1 << 30
_BLOCK = 1 << 24  # 16 MiB of repeated input per compressed block


# --------------------------------------------------------------------------- raw deflate and zip


def repeated_blocks(parts: list[tuple[bytes, int]]):
    """(block, repeat) pairs whose concatenation ``block * repeat`` is ``chunk * times`` of each part,
    in blocks of about 16 MiB."""
    for chunk, times in parts:
        per_block = max(1, _BLOCK // max(len(chunk), 1))
        full, rest = divmod(times, per_block)
        if full:
            yield chunk * per_block, full
        if rest:
            yield chunk * rest, 1


def deflate_parts(parts: list[tuple[bytes, int]], checksum: bool = True) -> tuple[bytes, int, int]:
    """Raw deflate of ``b"".join(chunk * times for chunk, times in parts)`` without building it.

    Returns (compressed bytes, CRC-32, uncompressed size). Each block is compressed once and
    its compressed bytes repeated. The CRC of 2 GiB takes 3 s here: ``checksum=False`` leaves it
    0, for readers that refuse the entry before reading it to the end (the tests of the fix).
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    out, crc, size = [], 0, 0
    for block, repeat in repeated_blocks(parts):
        out.append((compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)) * repeat)
        for _ in range(repeat if checksum else 0):
            crc = zlib.crc32(block, crc)
        size += len(block) * repeat
    out.append(compressor.flush(zlib.Z_FINISH))
    return b"".join(out), crc, size


def write_zip(path: Path, entries: list[dict]) -> Path:
    """A zip written by hand, so that sizes, flags and methods can be anything.

    Each entry: name, data (the stored bytes), crc, size (declared uncompressed size),
    method (0 stored, 8 deflate, or any number), flags.
    """
    body = io.BytesIO()
    central = io.BytesIO()
    for entry in entries:
        name = entry["name"].encode()
        offset = body.tell()
        fields = (20, entry.get("flags", 0), entry["method"], 0, 0x21, entry["crc"], len(entry["data"]),
                  entry["size"], len(name), 0)
        body.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name + entry["data"])
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, offset) + name)
    directory = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), body.tell(), 0)
    path.write_bytes(body.getvalue() + directory + end)
    return path


def stored(name: str, data: bytes, **extra) -> dict:
    return {"name": name, "data": data, "crc": zlib.crc32(data), "size": len(data), "method": 0, **extra}


def deflated(name: str, parts: list[tuple[bytes, int]], checksum: bool = True) -> dict:
    data, crc, size = deflate_parts(parts, checksum)
    return {"name": name, "data": data, "crc": crc, "size": size, "method": 8}


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# --------------------------------------------------------------------------- model files

LAYERS = [{"type": "Dense", "in_features": 784, "out_features": 10, "init": "he", "dtype": "float32"}]


def document(layers=None, metadata=None) -> dict:
    return {"format": "scratchnet-model", "version": 1, "model": {"layers": layers or LAYERS},
            "metadata": metadata or {}}


def config_entry(doc) -> dict:
    text = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return stored("__config__.npy", npy(np.frombuffer(text, dtype=np.uint8)))


def weight_entries(w=None, b=None) -> list[dict]:
    w = np.zeros((784, 10), np.float32) if w is None else w
    b = np.zeros(10, np.float32) if b is None else b
    return [stored("0.W.npy", npy(w)), stored("0.b.npy", npy(b))]


def model_file(folder: Path, name: str, doc=None, weights=None) -> Path:
    """A model file with config ``doc`` (a dict, or raw JSON bytes) and 784-10 zero weights."""
    return write_zip(folder / name, [config_entry(doc or document()), *(weights or weight_entries())])


def config_zip_bomb(folder: Path, spaces: int = 2 * GIB, checksum: bool = True) -> Path:
    """A valid config padded with ``spaces`` blanks inside the JSON (2 GiB), deflated to ~2 MB."""
    text = json.dumps(document()).encode()
    header = npy_header("|u1", (len(text) + spaces,))
    bomb = deflated("__config__.npy", [(header + text, 1), (b" ", spaces)], checksum)
    return write_zip(folder / "config-bomb.npz", [bomb, *weight_entries()])


def weight_zip_bomb(folder: Path, extra: int = 2 * GIB, checksum: bool = True) -> Path:
    """0.W declares its 784×10 shape, but the entry inflates to ``extra`` more zero bytes."""
    header = npy_header("<f4", (784, 10))
    bomb = deflated("0.W.npy", [(header, 1), (b"\0", 784 * 10 * 4 + extra)], checksum)
    return write_zip(folder / "weight-bomb.npz",
                     [config_entry(document()), bomb, stored("0.b.npy", npy(np.zeros(10, np.float32)))])


def npy_header_of_one_tib(folder: Path) -> Path:
    """0.W's .npy header declares 2^18 × 2^20 float32 (1 TiB) in a 100-byte entry."""
    entry = stored("0.W.npy", npy_header("<f4", (1 << 18, 1 << 20)) + bytes(100))
    return write_zip(folder / "one-tib.npz",
                     [config_entry(document()), entry, stored("0.b.npy", npy(np.zeros(10, np.float32)))])


def ten_million_layers(folder: Path, count: int = 10_000_000, checksum: bool = True) -> Path:
    """A config listing ``count`` ReLU layers after a Dense one, deflated to about 0.5 MB."""
    head = json.dumps(document())[: -len("]}, \"metadata\": {}}")].encode()
    tail = b"]}, \"metadata\": {}}"
    header = npy_header("|u1", (len(head) + len(b', {"type": "ReLU"}') * count + len(tail),))
    bomb = deflated("__config__.npy", [(header + head, 1), (b', {"type": "ReLU"}', count), (tail, 1)], checksum)
    return write_zip(folder / "ten-million-layers.npz", [bomb, *weight_entries()])


def deep_json(folder: Path, depth: int = 100_000) -> Path:
    return model_file(folder, "deep.npz", b"[" * depth + b"]" * depth)


# --------------------------------------------------------------------------- images and IDX


def png(path: Path, width: int, height: int, rows: bool = True) -> Path:
    """An 8-bit grey PNG of ``width`` × ``height`` white pixels; ``rows=False`` writes the header
    and a token of data only (Qt reads the size from the header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    if rows:
        parts = [(b"\0" + b"\xff" * width, height)]
        adler = 1
        for block, repeat in repeated_blocks(parts):
            for _ in range(repeat):
                adler = zlib.adler32(block, adler)
        data = b"\x78\xda" + deflate_parts(parts, checksum=False)[0] + struct.pack(">I", adler)
    else:
        data = zlib.compress(b"\0" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def gzip_parts(path: Path, parts: list[tuple[bytes, int]]) -> Path:
    """A .gz file of ``chunk * times`` for each part, written without building the payload."""
    data, crc, size = deflate_parts(parts)
    path.write_bytes(b"\x1f\x8b\x08\x00\0\0\0\0\x02\xff" + data + struct.pack("<II", crc, size & 0xFFFFFFFF))
    return path


def svgz_bomb(path: Path, spaces: int = 2 * GIB) -> Path:
    """A small SVG followed by ``spaces`` blanks, gzipped to about 2 MB."""
    text = b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><rect width="4" height="20"/></svg>'
    return gzip_parts(path, [(text, 1), (b" ", spaces)])


def svgz(path: Path, side: int = 100_000) -> Path:
    """A gzipped SVG that asks for a ``side`` × ``side`` canvas."""
    import gzip

    text = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}">'
            f'<rect width="{side}" height="{side}" fill="white"/></svg>').encode()
    path.write_bytes(gzip.compress(text))
    return path


def idx_folder(folder: Path, images_shape: tuple[int, ...], gz_payload: int = 1 << 20) -> Path:
    """Four gzipped IDX files; the training images declare ``images_shape`` and hold
    ``gz_payload`` zero bytes (all of the declared payload, or less)."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 8, len(images_shape)) + struct.pack(f">{len(images_shape)}I", *images_shape)
    gzip_parts(folder / "train-images-idx3-ubyte.gz", [(header, 1), (b"\0", gz_payload)])
    for name, shape in (("train-labels-idx1-ubyte", (10,)), ("t10k-labels-idx1-ubyte", (10,)),
                        ("t10k-images-idx3-ubyte", (10, 28, 28))):
        header = struct.pack(">BBBB", 0, 0, 8, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
        with gzip.open(folder / f"{name}.gz", "wb") as out:
            out.write(header + bytes(int(np.prod(shape))))
    return folder


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
