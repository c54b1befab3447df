"""A learner's own data: CSV files, folders of images sorted by class, and .npz archives.

``find_layout(path)`` names what a path holds; ``import_dataset`` reads it into the arrays of a
``Dataset`` (see ``scratchnet.data.load_dataset``, which caches the result). Every problem is a
``DatasetError`` that names the file, the line or the image, raised before anything is returned.

CSV rows are ``label, pixel, pixel, ...`` with pixels 0-255. They are parsed by NumPy a few
thousand rows at a time (``np.fromstring``), never with one Python call per cell; cells are read one
by one only to name the line and column of a cell that is not a number.
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
from scratchnet.files import is_folder, open_regular, os_reason, read_npy_member
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
_MAX_FOLDER_DEPTH = 32
_TRAIN_ORDER_SEED = 17  # the order of image folders' training rows (see _import_images)
_MAX_LABEL = 2**53  # labels at least this large lose digits as float64 and wrap as int64
_NUMBER = re.compile(rb"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


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

    x_train: np.ndarray  # (N, side*side) float32 in [0, 1], or uint8 0-255 levels (see unit_pixels)
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
        f"train/<class>/ + test/<class>/ image folders, or one folder of images per class{_hint(path)}"
    )


def _hint(folder: Path) -> str:
    """What a folder that holds no known layout holds instead, and what to do about it."""
    names = sorted(e.name for e in _scan(folder) if not e.name.startswith("."))
    csvs = [n for n in names if n.lower().endswith(".csv")]
    images = [n for n in names if n.lower().endswith(IMAGE_SUFFIXES)]
    if csvs:
        return (f" ({', '.join(csvs[:3])} found: give one CSV file itself as the data, or name the pair "
                "train.csv and test.csv)")
    if images:
        return (f" ({len(images):,} images found loose: put each class's images in a folder named after "
                "the class)")
    return ""


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
        return _import_csv_folder(path, options, progress)
    if kind == ONE_CSV:
        return _import_one_csv(path, options, progress)
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


def read_csv(path: Path, *, allow_large: bool = False, progress: Progress | None = None) -> CsvTable:
    """Read a ``label, pixel, pixel, ...`` CSV file, with or without a header line.
    ``progress(bytes_done, bytes_total)`` is called after each chunk of rows.

    The file is cut into lines by NumPy, each line's commas counted by ``bytes.count``, and the
    numbers of about 4,000 rows at a time parsed by ``np.fromstring`` (whole numbers, else decimals):
    no Python call per cell. A chunk that does not parse is read again cell by cell only to say
    which line and column is wrong; each chunk's labels and pixels are checked as soon as it is
    parsed, so a bad row is reported without parsing the rows after it."""
    data = _read_csv_bytes(path, allow_large)
    if b"\r" in data:
        data = data.replace(b"\r", b"")
    ends = _newlines(data)
    starts = [0] + [end + 1 for end in ends]
    ends.append(len(data))
    commas = [data.count(b",", a, b) for a, b in zip(starts, ends, strict=True)]
    kept = [i for i, (a, b, n) in enumerate(zip(starts, ends, commas, strict=True))
            if b > a and (n or data[a:b].strip())]
    if not kept:
        raise DatasetError(f"{path}: empty file (only blank lines)")
    header = _is_header(data[starts[kept[0]]:ends[kept[0]]])
    if header:
        kept = kept[1:]
        if not kept:
            raise DatasetError(f"{path}: holds a header line and no data rows")
    width = commas[kept[0]] + 1
    if width < 2:
        other = next((sep for sep in (";", "\t", " ") if sep.encode() in data[starts[kept[0]]:ends[kept[0]]].strip()),
                     None)
        hint = f" (values are separated by {other!r}: save the file with commas)" if other else ""
        raise DatasetError(f"{path}, line {kept[0] + 1}: one value per row: expected a label then pixels{hint}")
    wrong = next((i for i in kept if commas[i] + 1 != width), None)
    if wrong is not None:
        raise DatasetError(
            f"{path}, line {wrong + 1}: {commas[wrong] + 1} values, but line {kept[0] + 1} has {width} "
            "(every row must have the same number of values)"
        )
    labels, pixels = [], []
    for at in range(0, len(kept), _ROWS_PER_CHUNK):
        rows = kept[at:at + _ROWS_PER_CHUNK]
        if rows[-1] - rows[0] == len(rows) - 1:  # consecutive lines: one slice
            chunk = data[starts[rows[0]]:ends[rows[-1]]].replace(b"\n", b",")
        else:
            chunk = b",".join(data[starts[i]:ends[i]] for i in rows)
        values = _parse_numbers(chunk, len(rows) * width)
        if values is None:
            _raise_bad_cell(path, [data[starts[i]:ends[i]] for i in rows], [i + 1 for i in rows])
        values = values.reshape(len(rows), width)
        lines = np.asarray(rows, dtype=np.int64) + 1
        labels.append(_checked_labels(path, values[:, 0], lines))
        pixels.append(_checked_pixels(path, values[:, 1:], lines))
        if progress is not None:
            progress(ends[rows[-1]], len(data))
    line_numbers = np.asarray(kept, dtype=np.int64) + 1
    return CsvTable(np.ascontiguousarray(np.concatenate(pixels)), np.concatenate(labels), line_numbers, header)


def _newlines(data: bytes) -> list[int]:
    """The offsets of ``data``'s newlines. One ``bytes.find`` per line: several times faster than a
    NumPy comparison of the whole file, which first allocates (and page-faults) a byte per byte."""
    found, at = [], data.find(b"\n")
    while at >= 0:
        found.append(at)
        at = data.find(b"\n", at + 1)
    return found


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
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff") or zero < 4 and b"\0" in data[1:4:2]
        hint = ": it looks like UTF-16 text; save it as a UTF-8 CSV" if utf16 else ""
        raise DatasetError(f"{path}: not a text file (binary data: a zero byte at byte {zero:,}){hint}")
    return data.removeprefix(b"\xef\xbb\xbf")  # the byte-order mark spreadsheets write


def _is_header(line: bytes) -> bool:
    """A first line is a header when its first cell (a row's label) or most of its cells are not
    numbers: ``label,pixel0,...`` and ``label,0,1,2,...`` both are."""
    cells = line.split(b",")
    numbers = sum(1 for cell in cells if _NUMBER.fullmatch(cell))
    return not _NUMBER.fullmatch(cells[0]) or numbers * 2 < len(cells)


def _parse_numbers(chunk: bytes, count: int) -> np.ndarray | None:
    """The ``count`` comma-separated numbers of ``chunk``: int64 when all are whole numbers, else
    float64; None when a cell is not a number (or is NaN or infinite)."""
    for dtype in (np.int64, np.float64):
        try:
            values = np.fromstring(chunk, dtype=dtype, sep=",")
        except ValueError:
            continue
        if values.size == count and (dtype is np.int64 or np.isfinite(values).all()):
            return values
    return None


def _raise_bad_cell(path: Path, rows: list[bytes], line_numbers: list[int]) -> None:
    """Raise DatasetError naming the line and column of the first cell that is not a number."""
    for row, line in zip(rows, line_numbers, strict=True):
        for column, cell in enumerate(row.split(b","), start=1):
            if not _NUMBER.fullmatch(cell):
                shown = cell.strip().decode("utf-8", "replace")[:40]
                what = "is empty" if not shown else f"{shown!r} is not a number"
                raise DatasetError(f"{path}, line {line}, column {column}: {what}")
    raise DatasetError(f"{path}, lines {line_numbers[0]}-{line_numbers[-1]}: a cell is not a number")


def _checked_labels(path: Path, labels: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """One chunk's labels as int64, checked as soon as the chunk is parsed (a bad row near the end
    of a large file is reported without building the whole table): whole numbers below 2**53 in
    size (larger ones lose digits as decimals and wrap as int64)."""
    if labels.dtype.kind == "f":
        bad = np.flatnonzero(labels != np.round(labels))
        if bad.size:
            i = int(bad[0])
            raise DatasetError(f"{path}, line {lines[i]}, column 1: label {labels[i]:g} is not a whole number")
    huge = np.flatnonzero((labels >= _MAX_LABEL) | (labels <= -_MAX_LABEL)) if labels.size else ()
    if len(huge):
        i = int(huge[0])
        shown = f"label {labels[i]:g}" if labels.dtype.kind == "f" else "the label is too large"
        raise DatasetError(f"{path}, line {lines[i]}, column 1: {shown}: labels must be whole numbers "
                           "smaller than 2**53 in size (e.g. 0-9)")
    return labels.astype(np.int64)


def _checked_pixels(path: Path, pixels: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """One chunk's pixels checked to be 0-255: uint8 when all are whole numbers, else float32."""
    if pixels.dtype.kind == "i" and pixels.size and pixels.min() >= 0 and pixels.max() <= 255:
        return pixels.astype(np.uint8)
    out = (pixels < 0) | (pixels > 255)
    if out.any():
        row, col = (int(v) for v in np.argwhere(out)[0])
        raise DatasetError(
            f"{path}, line {lines[row]}, column {col + 2}: pixel {pixels[row, col]:g} is outside 0-255"
        )
    return pixels.astype(np.uint8 if np.array_equal(pixels, np.round(pixels)) else np.float32)


def _import_csv_folder(folder: Path, options: ImportOptions, progress: Progress | None) -> Imported:
    train_path, test_path = csv_pair(folder)
    sizes = [p.stat().st_size for p in (train_path, test_path)]
    total = max(sum(sizes), 1)
    train = read_csv(train_path, allow_large=options.allow_large,
                     progress=progress and (lambda done, size: progress(done * sizes[0] // max(size, 1), total)))
    test = read_csv(test_path, allow_large=options.allow_large, progress=progress and (
        lambda done, size: progress(sizes[0] + done * sizes[1] // max(size, 1), total)))
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


def _import_one_csv(path: Path, options: ImportOptions, progress: Progress | None) -> Imported:
    table = read_csv(path, allow_large=options.allow_large, progress=progress)
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
        extra = math.isqrt(pixels - 1) ** 2 == pixels - 1 and pixels > 1
        hint = (" (one column too many: an index column, as pandas writes unless to_csv(index=False)?)"
                if extra else "")
        raise DatasetError(
            f"{path}: {pixels} pixels per row is not a square image (e.g. 784 = 28 x 28): "
            f"every row is a label then the pixels of a square image{hint}"
        )
    if image_size is None or image_size == side:
        return side, ""
    return image_size, f", {side}x{side} images resized to {image_size}x{image_size}"


def _csv_pixels(pixels: np.ndarray, side: int) -> np.ndarray:
    """(N, P) 0..255 pixels -> (N, side*side): the uint8 levels themselves at their own size (a
    quarter of the bytes to split and cache), else float32 in [0, 1], area-resized when P != side²."""
    own = math.isqrt(pixels.shape[1])
    if own == side and pixels.dtype == np.uint8:
        return pixels
    x = np.divide(pixels, np.float32(255), dtype=np.float32)
    return x if own == side else resize_rows(x, own, side)


def unit_pixels(x: np.ndarray) -> np.ndarray:
    """An ``Imported`` array as a Dataset holds it: uint8 0-255 levels divided by 255 into float32
    (exactly as MNIST's IDX bytes are), float32 in [0, 1] as it is."""
    return np.divide(x, np.float32(255), dtype=np.float32) if x.dtype == np.uint8 else x


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
            arrays = _npz_arrays(path, handle, options.allow_large)
    except DatasetError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
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


def _npz_arrays(path: Path, handle, allow_large: bool) -> dict[str, np.ndarray]:
    """The arrays an .npz data set needs, each entry's .npy header checked before its data is read:
    no object arrays, and a declared size that matches the bytes the entry holds, so that a small
    file cannot make this allocate more than it really holds (at most 2 GB unless allow_large)."""
    with zipfile.ZipFile(handle) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        missing = [key for key in NPZ_KEYS if key not in members]
        if missing:
            raise DatasetError(f"{path}: missing {', '.join(missing)} (an .npz needs {', '.join(NPZ_KEYS)})")
        wanted = [key for key in (*NPZ_KEYS, "class_names") if key in members]
        _check_file_size(path, sum(members[key].file_size for key in wanted), allow_large)
        return {key: _read_npy_entry(path, archive, members[key]) for key in wanted}


def _read_npy_entry(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DatasetError(f"{path}: entry {info.filename!r} is encrypted or uses an unsupported zip compression")

    def check(key: str, shape: tuple, dtype: np.dtype) -> None:
        if dtype.hasobject:
            raise DatasetError(f"{path}: {key} holds Python objects, which are never unpickled: save plain arrays")

    return read_npy_member(archive, info, DatasetError, str(path), check)


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
    """(N, side*side) images -> (N, size*size) float32 by area resize (``preprocess.area_resample``
    of each image), as two matrix products over the whole batch: ``A @ image @ A.T``, where row j of
    A holds the share of each input row in output row j. Done in chunks to bound the memory."""
    weights = _area_weights(side, size)
    out = np.empty((len(x), size * size), dtype=np.float32)
    for start in range(0, len(x), 4096):
        images = x[start:start + 4096].reshape(-1, side, side)
        out[start:start + 4096] = (weights @ images @ weights.T).reshape(-1, size * size)
    return np.clip(out, 0.0, 1.0, out=out)


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32: the covered fraction of input pixel i in output pixel j's span
    [j, j + 1) * n_in / n_out, divided by the span's length (each row sums to 1)."""
    step = n_in / n_out
    lo = np.arange(n_out)[:, None] * step
    pixel = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(lo + step, pixel + 1) - np.maximum(lo, pixel), 0.0, None)
    return (overlap / step).astype(np.float32)


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
    needed = total * side * side * 4
    if needed > limits.MAX_IMAGE_FOLDER_BYTES and not options.allow_large:
        raise DatasetTooLarge(
            f"{root}: {total:,} images of {side}x{side} take {needed / 2**30:.1f} GB in memory, more than the "
            f"{limits.MAX_IMAGE_FOLDER_BYTES / 2**30:g} GB read without asking (a smaller image size needs less)"
        )
    # The training rows are shuffled once (seed fixed), not left class by class, so that the first
    # N rows, which --train-size and Dataset.subset take, hold every class; without a copy more.
    shuffle = np.random.default_rng(_TRAIN_ORDER_SEED).permutation
    reader = _ImageReader(read_image, side, options.photo, total, progress)
    if test is not None:
        x_train, y_train = reader.read_classes(train, names, shuffle)
        x_test, y_test = reader.read_classes(test, names)
        split = "train/<class>/ + test/<class>/"
    else:
        x_all, y_all = reader.read_classes(train, names)
        train_idx, test_idx = stratified_split(y_all, options.held_out, options.seed)
        train_idx = train_idx[shuffle(len(train_idx))]
        x_test, y_test = x_all[test_idx], y_all[test_idx]
        x_train, y_train = x_all[train_idx], y_all[train_idx]
        del x_all
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

    def read_classes(self, classes: dict[str, list[Path]], names: list[str],
                     shuffle: Callable[[int], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The images and labels of ``classes``, class by class, or in the order ``shuffle(n)`` gives."""
        files = [(f, names.index(name)) for name in sorted(classes) for f in classes[name]]
        if shuffle is not None:
            files = [files[i] for i in shuffle(len(files))]
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
        elif path.suffix.lower() in IMAGE_SUFFIXES and _entry_is_file(entry):
            found.append(path)
    return found


def _entry_is_file(entry: os.DirEntry) -> bool:
    """A regular file (a FIFO or a device named .png is skipped: reading it could hang)."""
    try:
        return entry.is_file()
    except OSError as exc:
        raise DatasetError(f"{entry.path}: cannot be read ({_reason(exc)})") from None


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
