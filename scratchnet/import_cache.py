"""Imported data sets kept ready to open again: one .npz per content hash.

The key is the SHA-256 of the data's files (their names relative to the data set and their bytes)
and of the import options, so an edited file, a renamed class folder or another image size makes a
new entry while a moved or renamed data set finds its old one. Entries live in
``$XDG_DATA_HOME/scratchnet/cache`` (``paths.user_data_dir()``), are written atomically (images as
their 0-255 levels when that is exact) and read with ``allow_pickle=False``; an entry that cannot be
read or does not hold what it should is ignored (and replaced by the next store).

The cache is capped at ``MAX_BYTES``: each store removes the least recently used entries (by
modification time, which ``load`` renews) until the rest fit, never the entry just written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from scratchnet import paths
from scratchnet.errors import DatasetError, SaveError
from scratchnet.files import open_regular, os_reason, write_atomically

FORMAT = 2  # 2: image folders' training rows shuffled, not class by class
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
_CHUNK = 1 << 22
MAX_BYTES = 2 << 30  # the cache's total size after a store (the newest entry is kept even if larger)


def cache_dir() -> Path:
    return paths.user_data_dir() / "cache"


def content_key(root: Path, files: list[Path], options: dict) -> str:
    """Hex SHA-256 of ``files`` (named relative to ``root``, with their bytes) and ``options``."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, "options": options}, sort_keys=True).encode())
    for path in files:
        name = path.name if path == root else os.path.relpath(path, root)
        digest.update(f"\0{name}\0".encode("utf-8", "surrogateescape"))
        with open_regular(path, DatasetError, str(path)) as handle:
            try:
                digest.update(str(os.fstat(handle.fileno()).st_size).encode())
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
            except OSError as exc:
                raise DatasetError(f"{path}: cannot be read ({os_reason(exc)})") from None
    return digest.hexdigest()


def entry_path(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


def load(key: str) -> dict | None:
    """The arrays and facts stored under ``key``, or None when there is no usable entry:
    x_train, y_train, x_test, y_test, class_names (list), image_shape (tuple), layout (str)."""
    path = entry_path(key)
    try:
        with np.load(path, allow_pickle=False) as archive:
            entry = {name: archive[name] for name in archive.files}
        meta = json.loads(str(entry.pop("meta")))
        result = {name: entry[name] for name in _ARRAYS}
        for name in ("x_train", "x_test"):
            if result[name].dtype == np.uint8:  # stored as the 0-255 levels they came from
                result[name] = np.divide(result[name], np.float32(255), dtype=np.float32)
        result["class_names"] = [str(n) for n in meta["class_names"]]
        result["image_shape"] = tuple(int(v) for v in meta["image_shape"])
        result["layout"] = str(meta["layout"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # missing, damaged or from another version: rebuilt by the caller
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: the last to be removed by _prune
    pixels = result["image_shape"][0] * result["image_shape"][1]
    for split in ("train", "test"):
        x, y = result[f"x_{split}"], result[f"y_{split}"]
        if (x.dtype != np.float32 or x.ndim != 2 or x.shape[1] != pixels or y.dtype != np.int64
                or y.shape != (len(x),) or (len(y) and (y.min() < 0 or y.max() >= len(result["class_names"])))):
            return None
    return result


def store(key: str, *, x_train, y_train, x_test, y_test, class_names, image_shape, layout) -> str | None:
    """Write the entry for ``key`` (x: float32 in [0, 1], or uint8 0-255 levels); returns None, or
    why it could not be written (the data set still loads, only not from the cache next time)."""
    folder = cache_dir()
    meta = json.dumps({"class_names": list(class_names), "image_shape": list(image_shape), "layout": layout})
    x_train, x_test = _as_levels(x_train), _as_levels(x_test)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(entry_path(key), lambda handle: np.savez(
            handle, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, meta=np.array(meta)))
    except SaveError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot write the cache in {folder}: {os_reason(exc)}"
    _prune(keep=entry_path(key))
    return None


def _prune(keep: Path) -> None:
    """Remove the least recently used entries until the cache holds at most MAX_BYTES (``keep``,
    the entry just written, always stays)."""
    entries = []
    for path in cache_dir().glob("*.npz"):
        with contextlib.suppress(OSError):
            st = path.stat()
            entries.append((st.st_mtime_ns, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries, key=lambda e: e[0]):
        if total <= MAX_BYTES:
            break
        if path == keep:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size


def _as_levels(x: np.ndarray) -> np.ndarray:
    """x as uint8 0-255 levels when ``levels / 255`` gives x back bit for bit (a quarter of the
    bytes to write and read), else x itself."""
    if x.dtype == np.uint8:
        return x
    levels = np.rint(x * np.float32(255))
    if levels.size and (levels.min() < 0 or levels.max() > 255):
        return x
    levels = levels.astype(np.uint8)
    return levels if np.array_equal(np.divide(levels, np.float32(255), dtype=np.float32), x) else x


def clear() -> None:
    """Remove every cache entry (tests, and a user who wants the space back)."""
    with contextlib.suppress(FileNotFoundError):
        for path in cache_dir().glob("*.npz"):
            with contextlib.suppress(OSError):
                path.unlink()
