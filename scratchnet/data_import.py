"""A learner's own data: CSV files, folders of images sorted by class, and .npz archives.

``find_layout(path)`` names what a path holds; ``import_dataset`` reads it into the arrays of a
``Dataset`` (see ``scratchnet.data.load_dataset``, which caches the result). Every problem is a
``DatasetError`` that names the file, the line or the image, raised before anything is returned.

CSV rows are ``label, pixel, pixel, ...`` with pixels 0-255. They are parsed with NumPy over the
whole file's bytes, never one Python call per cell: the digits of each cell are found as runs of
digit bytes and their values built by a few vectorised passes (one per digit position). Cells
that are not plain whole numbers (``0.5``, ``-1``) go through NumPy's float parsing instead.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from scratchnet import limits
from scratchnet.errors import DatasetError, DatasetTooLarge
from scratchnet.files import is_folder, open_regular, os_reason
from scratchnet.preprocess import MNIST_SIDE, area_resample, ink_from_grey, prepare_drawing

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
CSV_PAIRS = (("train.csv", "test.csv"), ("mnist_train.csv", "mnist_test.csv"))
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
PHOTO_CHOICES = (False, True, "auto")

# Kinds of layout find_layout answers.
IDX = "idx"
CSV_FOLDER = "csv-folder"
ONE_CSV = "csv"
IMAGE_SPLIT = "image-folders"  # train/<class>/* and test/<class>/*
CLASS_FOLDERS = "class-folders"  # <class>/*, split by held_out
NPZ = "npz"

ReadImage = Callable[[Path], np.ndarray]
Progress = Callable[[int, int], None]

_ROWS_PER_CHUNK = 4096
_MAX_FAST_DIGITS = 9
_MAX_FOLDER_DEPTH = 32
_NUMBER = re.compile(rb"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
# byte -> 0 digit, 1 separator (comma, newline), 2 blank (space, tab, CR), 3 anything else
_BYTE_CLASS = np.full(256, 3, dtype=np.uint8)
_BYTE_CLASS[ord("0"):ord("9") + 1] = 0
_BYTE_CLASS[[ord(","), ord("\n")]] = 1
_BYTE_CLASS[[ord(" "), ord("\t"), ord("\r")]] = 2


@dataclass(frozen=True)
class ImportOptions:
    """How a learner's data is turned into a data set (see ``load_dataset``)."""

    image_size: int | None = None  # square side; None: the data's own (28 for image folders)
    held_out: float = 1 / 7  # test share of a layout without a test split
    seed: int = 0  # of that split
    photo: bool | str = False  # False plain area resize, True photo preprocessing, "auto"
    allow_large: bool = False  # read a CSV over limits.MAX_CSV_BYTES

    def __post_init__(self):
        size = self.image_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer))
                                 or not 2 <= size <= limits.MAX_IMPORT_SIDE):
            raise ValueError(f"image_size must be a whole number from 2 to {limits.MAX_IMPORT_SIDE}, got {size!r}")
        if not (isinstance(self.held_out, (int, float)) and 0 < self.held_out < 1):
            raise ValueError(f"held_out must be a share between 0 and 1 (both excluded), got {self.held_out!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a whole number of at least 0, got {self.seed!r}")
        if self.photo not in PHOTO_CHOICES or isinstance(self.photo, int) and not isinstance(self.photo, bool):
            raise ValueError(f"photo must be False, True or 'auto', got {self.photo!r}")

    def cache_key(self, kind: str) -> dict:
        """The options that change what ``kind`` of layout imports to (for the cache key)."""
        key = {"image_size": self.image_size}
        if kind in (ONE_CSV, CLASS_FOLDERS):
            key.update(held_out=float(self.held_out), seed=int(self.seed))
        if kind in (IMAGE_SPLIT, CLASS_FOLDERS):
            key["photo"] = self.photo
        return key


@dataclass(frozen=True)
class Imported:
    """What ``import_dataset`` found: the arrays of a ``Dataset`` and how they were read."""

    x_train: np.ndarray  # (N, side*side) float32 in [0, 1]
    y_train: np.ndarray  # (N,) int64 in 0..K-1
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    image_shape: tuple[int, int]
    layout: str


# --------------------------------------------------------------------------- layouts


def find_layout(path: str | os.PathLike) -> str:
    """The kind of data ``path`` holds: IDX, CSV_FOLDER, ONE_CSV, IMAGE_SPLIT, CLASS_FOLDERS or NPZ.

    Raises DatasetError when it is none of them, saying what was expected.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({_reason(exc)})") from None
    if stat.S_ISREG(mode):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return ONE_CSV
        if suffix == ".npz":
            return NPZ
        raise DatasetError(f"{path}: not a data file: expected a .csv, a .npz or a folder")
    if not stat.S_ISDIR(mode):
        raise DatasetError(f"{path}: is not a file or a folder")
    if csv_pair(path) is not None:
        return CSV_FOLDER
    from scratchnet.data import IDX_FILES  # data imports this module

    if any((path / stem).is_file() or (path / f"{stem}.gz").is_file() for stem in IDX_FILES.values()):
        return IDX
    if is_folder(path / "train") and is_folder(path / "test"):
        return IMAGE_SPLIT
    if _subfolders(path):
        return CLASS_FOLDERS
    raise DatasetError(
        f"{path}: no data found: expected train.csv + test.csv, the four MNIST IDX files, "
        "train/<class>/ + test/<class>/ image folders, or one folder of images per class"
    )


def csv_pair(folder: Path) -> tuple[Path, Path] | None:
    """(train, test) CSV files of a CSV folder, or None."""
    for train, test in CSV_PAIRS:
        if (folder / train).is_file() and (folder / test).is_file():
            return folder / train, folder / test
    return None


def source_files(path: Path, kind: str) -> list[Path]:
    """Every file whose bytes make the data set (what the cache hashes), in a fixed order.
    Walking image folders also checks their layout (empty class folders, symbolic link loops)."""
    if kind in (ONE_CSV, NPZ):
        return [path]
    if kind == CSV_FOLDER:
        return list(csv_pair(path))
    if kind == IMAGE_SPLIT:
        train, test = _class_images(path / "train"), _class_images(path / "test")
        _check_test_classes(path / "test", train, test)
        return [f for images in (train, test) for files in images.values() for f in files]
    if kind == CLASS_FOLDERS:
        return [f for files in _class_images(path).values() for f in files]
    raise ValueError(f"no source files for layout {kind!r}")


def import_dataset(path: str | os.PathLike, kind: str, options: ImportOptions, *,
                   read_image: ReadImage | None = None, progress: Progress | None = None) -> Imported:
    """Read the data set at ``path`` of layout ``kind`` (from ``find_layout``)."""
    path = Path(path)
    if kind == CSV_FOLDER:
        return _import_csv_folder(path, options)
    if kind == ONE_CSV:
        return _import_one_csv(path, options)
    if kind == NPZ:
        return _import_npz(path, options)
    if kind in (IMAGE_SPLIT, CLASS_FOLDERS):
        if read_image is None:
            raise DatasetError(f"{path}: reading image folders needs an image reader (read_image)")
        return _import_images(path, kind, options, read_image, progress)
    raise ValueError(f"cannot import layout {kind!r}")


# --------------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class CsvTable:
    """One CSV file's rows: ``pixels`` (N, P) uint8, or float32 when a cell is not a whole number,
    all in 0..255; ``labels`` (N,) int64; ``lines`` (N,) the 1-based line number of each row."""

    pixels: np.ndarray
    labels: np.ndarray
    lines: np.ndarray
    header: bool


def read_csv(path: Path, *, allow_large: bool = False) -> CsvTable:
    """Read a ``label, pixel, pixel, ...`` CSV file, with or without a header line."""
    data = _read_csv_bytes(path, allow_large)
    lines = data.split(b"\n")
    kept = [i for i, line in enumerate(lines) if line.strip()]
    if not kept:
        raise DatasetError(f"{path}: empty file (only blank lines)")
    header = _is_header(lines[kept[0]])
    if header:
        kept = kept[1:]
        if not kept:
            raise DatasetError(f"{path}: holds a header line and no data rows")
    rows = [lines[i] for i in kept]
    line_numbers = np.asarray(kept, dtype=np.int64) + 1
    commas = np.fromiter((row.count(b",") for row in rows), dtype=np.int64, count=len(rows))
    width = int(commas[0]) + 1
    if width < 2:
        raise DatasetError(f"{path}, line {line_numbers[0]}: one value per row: expected a label then pixels")
    wrong = np.flatnonzero(commas != commas[0])
    if wrong.size:
        i = int(wrong[0])
        raise DatasetError(
            f"{path}, line {line_numbers[i]}: {commas[i] + 1} values, but line {line_numbers[0]} has {width} "
            "(every row must have the same number of values)"
        )
    chunks = []
    for start in range(0, len(rows), _ROWS_PER_CHUNK):
        chunk_rows = rows[start:start + _ROWS_PER_CHUNK]
        values = _parse_int_chunk(b"\n".join(chunk_rows), len(chunk_rows), width)
        if values is None:
            values = _parse_float_chunk(path, chunk_rows, line_numbers[start:start + len(chunk_rows)], width)
        chunks.append(values)
    values = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return _checked_table(path, values, line_numbers, header)


def check_size(files: list[Path], allow_large: bool) -> None:
    """Raise DatasetTooLarge for a file over ``limits.MAX_CSV_BYTES`` unless ``allow_large``."""
    if allow_large:
        return
    for path in files:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DatasetError(f"{path}: cannot be read ({_reason(exc)})") from None
        _check_file_size(path, size, allow_large)


def _check_file_size(path: Path, size: int, allow_large: bool) -> None:
    if size > limits.MAX_CSV_BYTES and not allow_large:
        raise DatasetTooLarge(
            f"{path}: {size / 2**30:.1f} GB is more than the {limits.MAX_CSV_BYTES / 2**30:g} GB read without "
            "asking, and loading needs several times that in memory (allow it to read the file anyway)"
        )


def _read_csv_bytes(path: Path, allow_large: bool) -> bytes:
    with open_regular(path, DatasetError, str(path)) as handle:
        try:
            _check_file_size(path, os.fstat(handle.fileno()).st_size, allow_large)
            data = handle.read()
        except OSError as exc:
            raise DatasetError(f"{path}: cannot be read ({_reason(exc)})") from None
    if not data.strip():
        raise DatasetError(f"{path}: empty file")
    zero = data.find(b"\0")
    if zero >= 0:
        raise DatasetError(f"{path}: not a text file (binary data: a zero byte at byte {zero:,})")
    return data


def _is_header(line: bytes) -> bool:
    """A first line is a header when fewer than half its cells are numbers."""
    cells = line.split(b",")
    numbers = sum(1 for cell in cells if _NUMBER.fullmatch(cell))
    return numbers * 2 < len(cells)


def _parse_int_chunk(buf: bytes, n_rows: int, width: int) -> np.ndarray | None:
    """(n_rows, width) int64 values of rows joined by newlines when every cell is a plain whole
    number of at most 9 digits with optional blanks around it; None otherwise."""
    raw = np.frombuffer(buf, dtype=np.uint8)
    kind = _BYTE_CLASS[raw]
    if (kind == 3).any():
        return None
    digit = kind == 0
    edges = np.diff(digit.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    n_cells = n_rows * width
    if starts.size != n_cells:
        return None
    # each cell holds exactly one run of digits: the k-th run starts after exactly k separators
    separators = np.flatnonzero(kind == 1)
    if separators.size != n_cells - 1 or not np.array_equal(
            np.searchsorted(separators, starts), np.arange(n_cells)):
        return None
    lengths = ends - starts
    longest = int(lengths.max())
    if longest > _MAX_FAST_DIGITS:
        return None
    values = np.zeros(n_cells, dtype=np.int64)
    digits = raw.astype(np.int64) - ord("0")
    for place in range(longest):  # Horner's rule over the digit positions, all cells at once
        more = lengths > place
        if more.all():
            values = values * 10 + digits[starts + place]
        else:
            idx = np.flatnonzero(more)
            values[idx] = values[idx] * 10 + digits[starts[idx] + place]
    return values.reshape(n_rows, width)


def _parse_float_chunk(path: Path, rows: list[bytes], line_numbers: np.ndarray, width: int) -> np.ndarray:
    """(len(rows), width) float64 values of rows holding decimals or signs; a cell that is not a
    number raises DatasetError naming its line and column."""
    cells = b",".join(rows).split(b",")
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and np.isfinite(values).all():
        return values.reshape(len(rows), width)
    for row, line in zip(rows, line_numbers, strict=True):
        for column, cell in enumerate(row.split(b","), start=1):
            if not _NUMBER.fullmatch(cell):
                shown = cell.strip().decode("utf-8", "replace")[:40]
                what = "is empty" if not shown else f"{shown!r} is not a number"
                raise DatasetError(f"{path}, line {line}, column {column}: {what}")
    raise DatasetError(f"{path}: a cell is not a number")  # unreachable: numpy and the pattern agree


def _checked_table(path: Path, values: np.ndarray, lines: np.ndarray, header: bool) -> CsvTable:
    labels, pixels = values[:, 0], values[:, 1:]
    if values.dtype.kind == "f":
        bad = np.flatnonzero(labels != np.round(labels))
        if bad.size:
            i = int(bad[0])
            raise DatasetError(f"{path}, line {lines[i]}, column 1: label {labels[i]:g} is not a whole number")
    out = (pixels < 0) | (pixels > 255)
    if out.any():
        row, col = (int(v) for v in np.argwhere(out)[0])
        raise DatasetError(
            f"{path}, line {lines[row]}, column {col + 2}: pixel {pixels[row, col]:g} is outside 0-255"
        )
    if values.dtype.kind == "f" and np.array_equal(pixels, np.round(pixels)):
        pixels = pixels.astype(np.uint8)
    pixels = pixels.astype(np.uint8 if pixels.dtype.kind in "iu" else np.float32)
    return CsvTable(np.ascontiguousarray(pixels), labels.astype(np.int64), lines, header)


def _import_csv_folder(folder: Path, options: ImportOptions) -> Imported:
    train_path, test_path = csv_pair(folder)
    train = read_csv(train_path, allow_large=options.allow_large)
    test = read_csv(test_path, allow_large=options.allow_large)
    if train.pixels.shape[1] != test.pixels.shape[1]:
        raise DatasetError(
            f"{test_path}: {test.pixels.shape[1]} pixels per row, but {train_path.name} has {train.pixels.shape[1]}"
        )
    side, resized = _csv_side(train_path, train.pixels.shape[1], options.image_size)
    names, y_train = _label_classes(train_path, train.labels, train.lines)
    y_test = _map_test_labels(test_path, test.labels, test.lines, names)
    headers = _header_note(train.header, test.header)
    layout = f"CSV folder ({train_path.name} + {test_path.name}), {headers}{resized}"
    return Imported(_csv_pixels(train.pixels, side), y_train, _csv_pixels(test.pixels, side), y_test,
                    names, (side, side), layout)


def _import_one_csv(path: Path, options: ImportOptions) -> Imported:
    table = read_csv(path, allow_large=options.allow_large)
    side, resized = _csv_side(path, table.pixels.shape[1], options.image_size)
    names, y = _label_classes(path, table.labels, table.lines)
    train_idx, test_idx = stratified_split(y, options.held_out, options.seed)
    x = _csv_pixels(table.pixels, side)
    header = "header detected" if table.header else "no header"
    layout = f"one CSV split {split_text(options.held_out)} (seed {options.seed}), {header}{resized}"
    return Imported(x[train_idx], y[train_idx], x[test_idx], y[test_idx], names, (side, side), layout)


def _csv_side(path: Path, pixels: int, image_size: int | None) -> tuple[int, str]:
    """The square side of rows of ``pixels`` values, and a note when they will be resized."""
    side = math.isqrt(pixels)
    if side * side != pixels:
        raise DatasetError(
            f"{path}: {pixels} pixels per row is not a square image (e.g. 784 = 28 x 28): "
            "every row is a label then the pixels of a square image"
        )
    if image_size is None or image_size == side:
        return side, ""
    return image_size, f", {side}x{side} images resized to {image_size}x{image_size}"


def _csv_pixels(pixels: np.ndarray, side: int) -> np.ndarray:
    """(N, P) 0..255 pixels -> (N, side*side) float32 in [0, 1], area-resized when P != side²."""
    x = np.divide(pixels, np.float32(255), dtype=np.float32)
    own = math.isqrt(pixels.shape[1])
    if own == side:
        return x
    return np.stack([area_resample(row.reshape(own, own), side, side).reshape(-1) for row in x])


def _header_note(*headers: bool) -> str:
    if all(headers):
        return "header detected"
    return "header detected in the train file" if headers[0] else (
        "header detected in the test file" if headers[1] else "no header")


def _label_classes(path: Path, labels: np.ndarray, lines: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Class names (the distinct labels, in numeric order) and the labels as 0..K-1."""
    values, y = np.unique(labels, return_inverse=True)
    names = [str(int(v)) for v in values]
    _check_class_count(path, names)
    return names, y.astype(np.int64)


def _map_test_labels(path: Path, labels: np.ndarray, lines: np.ndarray, names: list[str]) -> np.ndarray:
    known = np.array([int(n) for n in names], dtype=np.int64)
    index = np.searchsorted(known, labels)
    index[index >= len(known)] = 0
    unknown = np.flatnonzero(known[index] != labels)
    if unknown.size:
        i = int(unknown[0])
        raise DatasetError(f"{path}, line {lines[i]}: label {labels[i]} is not among the train labels "
                           f"({_listed(names)})")
    return index.astype(np.int64)


# --------------------------------------------------------------------------- split


def stratified_split(labels: np.ndarray, held_out: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices, each in increasing order: about ``held_out`` of every class goes
    to test (at least one row of a class of two or more, never all of it), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        n_test = round(len(rows) * held_out)
        if len(rows) >= 2:
            n_test = min(max(n_test, 1), len(rows) - 1)
        else:
            n_test = 0
        test.append(rng.permutation(rows)[:n_test])
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.intp)
    in_test = np.zeros(len(labels), dtype=bool)
    in_test[test_idx] = True
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def split_text(held_out: float) -> str:
    """'6/7 : 1/7' for a held-out share of 1/7; '80% : 20%' when it is no simple fraction."""
    share = Fraction(held_out).limit_denominator(20)
    if abs(float(share) - held_out) < 1e-9:
        return f"{1 - share} : {share}"
    return f"{1 - held_out:.0%} : {held_out:.0%}"


# --------------------------------------------------------------------------- npz


def _import_npz(path: Path, options: ImportOptions) -> Imported:
    check_size([path], options.allow_large)
    try:
        with open_regular(path, DatasetError, str(path)) as handle:
            if handle.read(4) != b"PK\x03\x04":
                raise DatasetError(f"{path}: not a valid .npz archive (an .npz is a zip of .npy arrays)")
            handle.seek(0)
            arrays = _npz_arrays(path, handle)
    except DatasetError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DatasetError(f"{path}: holds Python objects, which are never unpickled: save plain arrays") from None
        raise DatasetError(f"{path}: not a valid .npz ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise DatasetError(f"{path}: not a valid .npz archive ({exc or type(exc).__name__})") from None
    x_train, side = _npz_images(path, "x_train", arrays["x_train"])
    x_test, test_side = _npz_images(path, "x_test", arrays["x_test"])
    if test_side != side:
        raise DatasetError(f"{path}: x_test images are {test_side}x{test_side}, x_train's {side}x{side}")
    y_train = _npz_labels(path, "y_train", arrays["y_train"], len(x_train))
    y_test = _npz_labels(path, "y_test", arrays["y_test"], len(x_test))
    if "class_names" in arrays:
        names = _npz_class_names(path, arrays["class_names"], y_train, y_test)
    else:
        values, y_train = np.unique(y_train, return_inverse=True)
        names = [str(int(v)) for v in values]
        _check_class_count(path, names)
        known = {int(v): i for i, v in enumerate(values)}
        extra = sorted(set(np.unique(y_test).tolist()) - set(known))
        if extra:
            raise DatasetError(f"{path}: y_test holds label {extra[0]}, which y_train does not have")
        y_test = np.searchsorted(values, y_test)
    resized = ""
    if options.image_size is not None and options.image_size != side:
        resized = f", {side}x{side} images resized to {options.image_size}x{options.image_size}"
        x_train, x_test = (resize_rows(x, side, options.image_size) for x in (x_train, x_test))
        side = options.image_size
    layout = f"npz ({', '.join(NPZ_KEYS)}){resized}"
    return Imported(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), names, (side, side), layout)


def _npz_arrays(path: Path, handle) -> dict[str, np.ndarray]:
    with np.load(handle, allow_pickle=False) as archive:
        missing = [key for key in NPZ_KEYS if key not in archive.files]
        if missing:
            raise DatasetError(f"{path}: missing {', '.join(missing)} (an .npz needs {', '.join(NPZ_KEYS)})")
        return {key: archive[key] for key in (*NPZ_KEYS, "class_names") if key in archive.files}


def _npz_images(path: Path, key: str, x: np.ndarray) -> tuple[np.ndarray, int]:
    """(N, side*side) float32 in [0, 1] from (N, H, W) or (N, P) pixels: integers 0-255, or
    floats in [0, 1] (taken as they are) or in [0, 255]."""
    if x.ndim == 3 and x.shape[1] == x.shape[2]:
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.shape[0] == 0 or math.isqrt(x.shape[1]) ** 2 != x.shape[1] or x.shape[1] < 4:
        raise DatasetError(f"{path}: {key} must be square images, (N, side, side) or (N, side*side), "
                           f"got shape {x.shape}")
    if x.dtype.kind not in "uif":
        raise DatasetError(f"{path}: {key} must hold numbers, got {x.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DatasetError(f"{path}: {key} holds NaN or infinite values")
    low, high = (float(x.min()), float(x.max()))
    if low < 0 or high > 255:
        raise DatasetError(f"{path}: {key} holds values from {low:g} to {high:g}: pixels must be 0-255 (or 0-1)")
    if x.dtype.kind == "f" and high <= 1:
        return np.ascontiguousarray(x, dtype=np.float32), math.isqrt(x.shape[1])
    return np.divide(x, np.float32(255), dtype=np.float32), math.isqrt(x.shape[1])


def _npz_labels(path: Path, key: str, y: np.ndarray, n: int) -> np.ndarray:
    if y.shape != (n,):
        raise DatasetError(f"{path}: {key} must have shape ({n},), one label per image, got {y.shape}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise DatasetError(f"{path}: {key} holds labels that are not whole numbers")
    elif y.dtype.kind not in "iu":
        raise DatasetError(f"{path}: {key} must hold whole-number labels, got {y.dtype}")
    return y.astype(np.int64)


def _npz_class_names(path: Path, names: np.ndarray, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DatasetError(f"{path}: class_names must be a 1-D array of strings, got {names.shape} {names.dtype}")
    result = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names.tolist()]
    _check_class_count(path, result)
    for key, y in (("y_train", y_train), ("y_test", y_test)):
        if y.min() < 0 or y.max() >= len(result):
            raise DatasetError(f"{path}: {key} labels must be 0..{len(result) - 1}, one per class name")
    return result


def resize_rows(x: np.ndarray, side: int, size: int) -> np.ndarray:
    """(N, side*side) images -> (N, size*size) float32 by area resize."""
    return np.stack([area_resample(row.reshape(side, side), size, size).reshape(-1) for row in x])


# --------------------------------------------------------------------------- image folders


def _import_images(root: Path, kind: str, options: ImportOptions, read_image: ReadImage,
                   progress: Progress | None) -> Imported:
    side = options.image_size or MNIST_SIDE
    if kind == IMAGE_SPLIT:
        train, test = _class_images(root / "train"), _class_images(root / "test")
        _check_test_classes(root / "test", train, test)
    else:
        train, test = _class_images(root), None
    names = sorted(train)
    _check_class_count(root, names)
    total = sum(map(len, train.values())) + (sum(map(len, test.values())) if test else 0)
    reader = _ImageReader(read_image, side, options.photo, total, progress)
    x_train, y_train = reader.read_classes(train, names)
    if test is not None:
        x_test, y_test = reader.read_classes(test, names)
        split = "train/<class>/ + test/<class>/"
    else:
        train_idx, test_idx = stratified_split(y_train, options.held_out, options.seed)
        x_test, y_test = x_train[test_idx], y_train[test_idx]
        x_train, y_train = x_train[train_idx], y_train[train_idx]
        split = f"<class>/ split {split_text(options.held_out)} (seed {options.seed})"
    layout = f"image folders ({split}), {total:,} images to {side}x{side} grey, {reader.how()}"
    return Imported(x_train, y_train, x_test, y_test, names, (side, side), layout)


class _ImageReader:
    """Reads every image of a data set to (side*side,) float32, reporting progress."""

    def __init__(self, read_image: ReadImage, side: int, photo, total: int, progress: Progress | None):
        self.read_image, self.side, self.photo = read_image, side, photo
        self.total, self.progress = total, progress
        self.done = self.photos = 0
        self.every = max(1, total // 200)

    def read_classes(self, classes: dict[str, list[Path]], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        files = [(f, names.index(name)) for name in sorted(classes) for f in classes[name]]
        x = np.empty((len(files), self.side * self.side), dtype=np.float32)
        for i, (path, _) in enumerate(files):
            x[i] = self._one(path)
            self.done += 1
            if self.progress is not None and (self.done % self.every == 0 or self.done == self.total):
                self.progress(self.done, self.total)
        return x, np.array([label for _, label in files], dtype=np.int64)

    def how(self) -> str:
        if self.photo is True:
            return "photo preprocessing"
        if self.photo == "auto":
            return f"photo preprocessing for {self.photos:,} of {self.done:,} (light paper), plain resize for the rest"
        return "plain area resize"

    def _one(self, path: Path) -> np.ndarray:
        grey = self.read_image(path)
        if not isinstance(grey, np.ndarray) or grey.ndim != 2 or grey.dtype != np.uint8 or 0 in grey.shape:
            raise DatasetError(f"{path}: the image reader gave no (height, width) grey image")
        if max(grey.shape) > limits.MAX_IMAGE_SIDE:
            raise DatasetError(f"{path}: {grey.shape[1]:,}x{grey.shape[0]:,} pixels is larger than "
                               f"{limits.MAX_IMAGE_SIDE:,}x{limits.MAX_IMAGE_SIDE:,}")
        photo = self.photo is True or self.photo == "auto" and _light_border(grey)
        if photo:
            self.photos += 1
            digit = prepare_drawing(ink_from_grey(grey / np.float32(255)))
            if digit is None:
                return np.zeros(self.side * self.side, dtype=np.float32)
            if self.side == MNIST_SIDE:
                return digit
            return area_resample(digit.reshape(MNIST_SIDE, MNIST_SIDE), self.side, self.side).reshape(-1)
        if grey.shape == (self.side, self.side):
            return np.divide(grey.reshape(-1), np.float32(255), dtype=np.float32)
        resized = area_resample(grey.astype(np.float32), self.side, self.side) / np.float32(255)
        return np.clip(resized, 0.0, 1.0).reshape(-1)


def _light_border(grey: np.ndarray) -> bool:
    """Whether an image looks like dark ink on light paper: its border's median is light."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return bool(np.median(border) > 127)


def _subfolders(folder: Path) -> list[os.DirEntry]:
    """The visible sub-folders of ``folder`` (symbolic links followed), sorted by name."""
    try:
        with os.scandir(folder) as entries:
            found = [e for e in entries if not e.name.startswith(".") and _entry_is_dir(e)]
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot be read ({_reason(exc)})") from None
    return sorted(found, key=lambda e: e.name)


def _entry_is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError as exc:
        raise DatasetError(f"{entry.path}: cannot be read ({_reason(exc)})") from None


def _class_images(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its image files (sorted, sub-folders included) for each class folder."""
    classes = {}
    for entry in _subfolders(folder):
        files = sorted(_walk_images(Path(entry.path), ancestors=(_identity(Path(entry.path)),)))
        if not files:
            raise DatasetError(
                f"{entry.path}: class folder '{entry.name}' holds no images ({', '.join(IMAGE_SUFFIXES)})"
            )
        classes[entry.name] = files
    if not classes:
        raise DatasetError(f"{folder}: no class folders: expected one sub-folder of images per class")
    if len(classes) > limits.MAX_CLASSES:
        raise DatasetError(
            f"{folder}: {len(classes)} class folders, more than the {limits.MAX_CLASSES} classes accepted")
    return classes


def _walk_images(folder: Path, ancestors: tuple) -> list[Path]:
    if len(ancestors) > _MAX_FOLDER_DEPTH:
        raise DatasetError(f"{folder}: folders nested more than {_MAX_FOLDER_DEPTH} deep")
    found = []
    for entry in sorted(_scan(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if _entry_is_dir(entry):
            identity = _identity(path)
            if identity in ancestors:
                raise DatasetError(f"{path}: symbolic link loop (it leads back to a folder that holds it)")
            found += _walk_images(path, (*ancestors, identity))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
    return found


def _scan(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot be read ({_reason(exc)})") from None


def _identity(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({_reason(exc)})") from None
    return st.st_dev, st.st_ino


def _check_test_classes(test_folder: Path, train: dict, test: dict) -> None:
    missing = sorted(set(test) - set(train))
    if missing:
        raise DatasetError(f"{test_folder / missing[0]}: test class '{missing[0]}' has no train folder "
                           f"(train classes: {_listed(sorted(train))})")


# --------------------------------------------------------------------------- shared checks


def _check_class_count(where: Path, names: list[str]) -> None:
    if len(names) < limits.MIN_CLASSES:
        found = f"only class {names[0]!r}" if names else "no classes"
        raise DatasetError(f"{where}: {found}: a classifier needs at least {limits.MIN_CLASSES}")
    if len(names) > limits.MAX_CLASSES:
        raise DatasetError(f"{where}: {len(names)} classes, more than the {limits.MAX_CLASSES} accepted")


def _listed(names: list[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return os_reason(exc)


__all__ = [
    "CLASS_FOLDERS", "CSV_FOLDER", "IDX", "IMAGE_SPLIT", "NPZ", "ONE_CSV", "ImportOptions", "Imported",
    "check_size", "find_layout", "import_dataset", "read_csv", "resize_rows", "source_files", "split_text",
    "stratified_split",
]
