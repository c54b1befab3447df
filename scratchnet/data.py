"""IDX files and the MNIST-style data sets built from them.

`read_idx` reads one IDX file (gzipped or raw) and refuses anything malformed with a
`DatasetError` that names the file. `load_dataset` turns the four standard files of a data set
into a `Dataset`: images as rows of float32 pixels in [0, 1], labels as int64 class indices.
The bundled MNIST copy is checked against its SHA-256 sums the first time it is loaded.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet import data_import, import_cache, paths
from scratchnet.errors import DatasetError
from scratchnet.files import is_folder, open_regular, os_reason

DATASET_NAMES = ("mnist", "fashion-mnist")

DIGIT_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

# The four files of an MNIST-style data set, each accepted with or without `.gz`.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

FASHION_DIR_ENV = "SCRATCHNET_FASHION_DIR"

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type code -> big-endian dtype of the payload.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CHUNK = 1 << 22
# An IDX file may declare at most this much data (decompressed): 5x MNIST's training images, and
# 1 GiB once the images are float32. Each image may have at most MAX_IMAGE_PIXELS values.
MAX_IDX_BYTES = 256 << 20
MAX_IMAGE_PIXELS = 1 << 20


# --------------------------------------------------------------------------- IDX reading


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzipped or raw (told apart by the gzip magic bytes, not the name).

    Returns a native-endian array whose shape is the dimensions the header declares,
    e.g. (N, 28, 28) uint8 for images and (N,) uint8 for labels.
    Raises DatasetError naming the file for anything missing, truncated, corrupt or malformed.
    """
    return _read_idx(Path(path), digest=None)


def idx_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the decompressed IDX bytes (header + payload) of a valid IDX file."""
    digest = hashlib.sha256()
    _read_idx(Path(path), digest=digest)
    return digest.hexdigest()


def _read_idx(path: Path, digest) -> np.ndarray:
    """read_idx, also feeding every decompressed byte to `digest` (a hashlib object) if given."""
    try:
        with open_regular(path, DatasetError, str(path)) as raw:
            is_gzip = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if not is_gzip:
                return _parse_idx(raw, path, os.fstat(raw.fileno()).st_size, digest)
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _parse_idx(stream, path, None, digest)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt gzip stream ({exc or type(exc).__name__})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({os_reason(exc)})") from None


def _parse_idx(stream, path: Path, file_size: int | None, digest) -> np.ndarray:
    """Parse an IDX byte stream. `file_size` is the raw file size, or None for a gzip stream."""
    head = _read_at_most(stream, 4)
    if not head:
        raise DatasetError(f"{path}: empty file")
    if len(head) < 4:
        raise DatasetError(f"{path}: truncated header: {len(head)} of 4 magic bytes")
    if head[:2] != b"\0\0":
        raise DatasetError(
            f"{path}: not an IDX file: magic must start with two zero bytes, got {head.hex()}"
        )
    code, ndim = head[2], head[3]
    if code not in _IDX_DTYPES:
        raise DatasetError(f"{path}: unknown IDX data type code 0x{code:02x}")
    if ndim == 0:
        raise DatasetError(f"{path}: header declares 0 dimensions")
    dims_bytes = _read_at_most(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise DatasetError(
            f"{path}: truncated header: {ndim} dimensions need {4 * ndim} bytes, "
            f"file holds {len(dims_bytes)}"
        )
    shape = struct.unpack(f">{ndim}I", dims_bytes)
    if 0 in shape:
        raise DatasetError(f"{path}: dimension {shape.index(0)} is 0 in shape {shape}")
    dtype = _IDX_DTYPES[code]
    nbytes = math.prod(shape) * dtype.itemsize
    if ndim >= 3 and math.prod(shape[1:]) > MAX_IMAGE_PIXELS:
        raise DatasetError(
            f"{path}: images of {' x '.join(map(str, shape[1:]))} values are larger than the "
            f"{MAX_IMAGE_PIXELS:,} pixels accepted"
        )
    if nbytes > MAX_IDX_BYTES:
        raise DatasetError(
            f"{path}: header declares {nbytes:,} bytes of data (shape {shape}), more than the "
            f"{MAX_IDX_BYTES:,} accepted"
        )
    header_size = 4 + 4 * ndim

    if file_size is not None:
        # Raw file: compare the declared size with the file size before reading anything big.
        held = file_size - header_size
        if held < nbytes:
            raise DatasetError(
                f"{path}: truncated payload: header declares {nbytes} bytes, file holds {held}"
            )
        if held > nbytes:
            raise DatasetError(
                f"{path}: trailing garbage: {held - nbytes} bytes after the declared payload"
            )
        payload = bytearray(nbytes)
        got = stream.readinto(payload)
        if got != nbytes:
            raise DatasetError(f"{path}: truncated payload: read {got} of {nbytes} bytes")
    else:
        # Gzip stream: its decompressed size is unknown, so grow the buffer only as data arrives.
        payload = bytearray()
        while len(payload) <= nbytes:
            chunk = stream.read(min(_CHUNK, nbytes + 1 - len(payload)))
            if not chunk:
                break
            payload += chunk
        if len(payload) < nbytes:
            raise DatasetError(
                f"{path}: truncated payload: header declares {nbytes} bytes, "
                f"file holds {len(payload)}"
            )
        if len(payload) > nbytes:
            raise DatasetError(f"{path}: trailing garbage after the declared payload")

    if digest is not None:
        digest.update(head)
        digest.update(dims_bytes)
        digest.update(payload)
    array = np.frombuffer(payload, dtype=dtype).reshape(shape)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _read_at_most(stream, n: int) -> bytes:
    """Read up to n bytes, looping over short reads; fewer only at end of stream."""
    parts, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


# --------------------------------------------------------------------------- data sets


@dataclass(frozen=True)
class Dataset:
    """A classification data set with train and test splits.

    x_train: (N, H*W) float32 in [0, 1], C-contiguous; y_train: (N,) int64 class indices.
    x_test: (M, H*W) float32; y_test: (M,) int64. image_shape is (H, W), (28, 28) for MNIST.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    image_shape: tuple[int, int] = (28, 28)
    layout: str = "IDX files"  # what was found, said to the user: "CSV folder (train.csv + test.csv), ..."

    def __post_init__(self):
        pixels = self.image_shape[0] * self.image_shape[1]
        for split, x, y in (("train", self.x_train, self.y_train),
                            ("test", self.x_test, self.y_test)):
            if x.ndim != 2 or x.shape[1] != pixels or x.dtype != np.float32:
                raise DatasetError(
                    f"{self.name}: x_{split} must be (N, {pixels}) float32, "
                    f"got {x.shape} {x.dtype}"
                )
            if y.shape != (x.shape[0],):
                raise DatasetError(
                    f"{self.name}: y_{split} must be ({x.shape[0]},), got {y.shape}"
                )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, train_size: int) -> Dataset:
        """The first `train_size` training samples (views, no copy); the test split is unchanged."""
        if train_size < 1:
            raise ValueError(f"train_size must be at least 1, got {train_size}")
        if train_size > len(self.y_train):
            raise ValueError(
                f"train_size {train_size} exceeds the {len(self.y_train)} training samples"
            )
        return Dataset(
            name=self.name,
            x_train=self.x_train[:train_size],
            y_train=self.y_train[:train_size],
            x_test=self.x_test,
            y_test=self.y_test,
            class_names=list(self.class_names),
            image_shape=self.image_shape,
            layout=self.layout,
        )


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    resources_dir: str | os.PathLike | None = None,
    image_size: int | None = None,
    held_out: float = 1 / 7,
    seed: int = 0,
    photo: bool | str = False,
    progress: Callable[[int, int], None] | None = None,
    allow_large: bool = False,
    read_image: Callable[[Path], np.ndarray] | None = None,
) -> Dataset:
    """Load "mnist" (bundled), "fashion-mnist" (downloaded), a folder of the four IDX files, or a
    learner's own data (``scratchnet.data_import``): a CSV folder (train.csv + test.csv), one CSV
    file, image folders (train/<class>/ + test/<class>/, or <class>/ alone) or an .npz.

    resources_dir overrides where the bundled "mnist" folder is looked for (default
    `paths.resources_dir()`). For imported data:
    - ``image_size``: the square side (default the data's own; 28 for images); also resizes IDX data;
    - ``held_out``, ``seed``: the stratified test split of a layout that has none;
    - ``photo``: False (plain area resize), True (the drawing pad's preprocessing for photos of digits
      on paper) or "auto" (that for images on light paper only);
    - ``progress(done, total)``: called while images (counted in images) or CSV files (in bytes) are read;
    - ``allow_large``: read a CSV over 2 GB (else DatasetTooLarge);
    - ``read_image(path) -> (H, W) uint8``: decodes images (gui.image_reader.read_grey).
    Imported data sets are cached by content hash (``scratchnet.import_cache``).
    Raises DatasetError, naming the file, line or image, when anything is missing or malformed.
    """
    options = data_import.ImportOptions(image_size=image_size, held_out=held_out, seed=seed, photo=photo,
                                        allow_large=allow_large)  # ValueError for a bad option
    kind = data_import.IDX if name_or_path in DATASET_NAMES else data_import.find_layout(name_or_path)
    if kind == data_import.IDX:
        dataset = _load_idx(name_or_path, resources_dir)
        return dataset if image_size is None or image_size == dataset.image_shape[0] else _resized(dataset, image_size)
    path = Path(name_or_path)
    name = (path.stem if path.is_file() else path.name) or str(path)
    files = data_import.source_files(path, kind)
    if kind in (data_import.ONE_CSV, data_import.CSV_FOLDER, data_import.NPZ):
        data_import.check_size(files, allow_large)  # before hashing a file it would refuse
    key = import_cache.content_key(path, files, {"layout": kind, **options.cache_key(kind)})
    cached = import_cache.load(key)
    if cached is not None:
        return Dataset(name=name, **cached)
    found = data_import.import_dataset(path, kind, options, read_image=read_image, progress=progress)
    import_cache.store(key, x_train=found.x_train, y_train=found.y_train, x_test=found.x_test, y_test=found.y_test,
                       class_names=found.class_names, image_shape=found.image_shape, layout=found.layout)
    return Dataset(name, data_import.unit_pixels(found.x_train), found.y_train, data_import.unit_pixels(found.x_test),
                   found.y_test, found.class_names, found.image_shape, found.layout)


def _load_idx(name_or_dir, resources_dir) -> Dataset:
    if name_or_dir == "mnist":
        folder = Path(resources_dir or paths.resources_dir()) / "mnist"
        files = _find_idx_files(folder, what="bundled MNIST")
        return _build("mnist", files, DIGIT_CLASSES, _BUNDLED_MNIST.pending(folder, files))
    if name_or_dir == "fashion-mnist":
        return _build("fashion-mnist", _find_fashion_files(), FASHION_CLASSES)
    folder = Path(name_or_dir)
    classes = FASHION_CLASSES if "fashion" in folder.name.lower() else DIGIT_CLASSES
    return _build(folder.name or str(folder), _find_idx_files(folder), classes)


def _resized(dataset: Dataset, side: int) -> Dataset:
    """An IDX data set at another square image size (area resize)."""
    h, w = dataset.image_shape
    x_train, x_test = (data_import.resize_rows(x, h, side) for x in (dataset.x_train, dataset.x_test))
    return Dataset(dataset.name, x_train, dataset.y_train, x_test, dataset.y_test, list(dataset.class_names),
                   (side, side), f"{dataset.layout}, {h}x{w} images resized to {side}x{side}")


def _find_fashion_files() -> dict[str, Path]:
    cached = paths.user_cache_dir() / "fashion-mnist"
    if is_folder(cached) and not _missing_idx_files(cached):
        return _find_idx_files(cached)
    env_dir = os.environ.get(FASHION_DIR_ENV)
    if env_dir:
        return _find_idx_files(Path(env_dir), what=f"${FASHION_DIR_ENV}")
    raise DatasetError(
        f"fashion-mnist is not downloaded: {cached} does not hold the four IDX files. "
        "Download it with: scratchnet train --dataset fashion-mnist --download "
        f"(about 30 MB), or set ${FASHION_DIR_ENV} to a folder that holds them."
    )


def _missing_idx_files(folder: Path) -> list[str]:
    return [
        f"{stem}[.gz]" for stem in IDX_FILES.values()
        if not (folder / f"{stem}.gz").is_file() and not (folder / stem).is_file()
    ]


def _find_idx_files(folder: Path, what: str = "data folder") -> dict[str, Path]:
    """Map each role in IDX_FILES to its file in `folder`, preferring the `.gz` form."""
    if not is_folder(folder):
        raise DatasetError(f"{folder}: {what} not found (expected a folder of IDX files)")
    missing = _missing_idx_files(folder)
    if missing:
        raise DatasetError(f"{folder}: {what} is missing {', '.join(missing)}")
    return {
        role: folder / f"{stem}.gz" if (folder / f"{stem}.gz").is_file() else folder / stem
        for role, stem in IDX_FILES.items()
    }


def _build(
    name: str, files: dict[str, Path], class_names, checksums: dict[Path, str] | None = None
) -> Dataset:
    """Load both splits. `checksums` maps files still to verify to their payload SHA-256."""
    checksums = checksums or {}
    num_classes = len(class_names)
    x_train, y_train, shape = _load_split(
        files["train_images"], files["train_labels"], num_classes, checksums
    )
    x_test, y_test, test_shape = _load_split(
        files["test_images"], files["test_labels"], num_classes, checksums
    )
    if test_shape != shape:
        raise DatasetError(
            f"{files['test_images']}: images are {test_shape}, "
            f"but {files['train_images'].name} has {shape}"
        )
    return Dataset(name, x_train, y_train, x_test, y_test, list(class_names), shape)


def _load_split(images_path: Path, labels_path: Path, num_classes: int, checksums):
    """Read and check one split. Returns x (N, H*W) float32, y (N,) int64 and (H, W)."""
    images = _read_verified(images_path, checksums.get(images_path))
    labels = _read_verified(labels_path, checksums.get(labels_path))
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(
            f"{images_path}: images must be 3-D uint8 (N, H, W), "
            f"got {images.ndim}-D {images.dtype}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DatasetError(
            f"{labels_path}: labels must be 1-D uint8 (N,), got {labels.ndim}-D {labels.dtype}"
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path.name} holds {len(images)} images but {labels_path.name} holds "
            f"{len(labels)} labels (in {images_path.parent})"
        )
    top = int(labels.max())
    if top >= num_classes:
        raise DatasetError(
            f"{labels_path}: label {top} out of range: expected 0..{num_classes - 1}"
        )
    n, h, w = images.shape
    x = np.divide(images.reshape(n, h * w), np.float32(255), dtype=np.float32)
    return x, labels.astype(np.int64), (h, w)


def _read_verified(path: Path, expected_sha256: str | None) -> np.ndarray:
    if expected_sha256 is None:
        return read_idx(path)
    digest = hashlib.sha256()
    array = _read_idx(path, digest)
    if digest.hexdigest() != expected_sha256:
        raise DatasetError(f"bundled MNIST is corrupt: {path} checksum mismatch; reinstall")
    _BUNDLED_MNIST.mark_verified(path)
    return array


class _VerifiedFiles:
    """Remembers which bundled files passed their SHA-256 check in this process.

    A file is known by (resolved path, mtime, size), so a replaced file is checked again.
    The hashing itself happens while the file is read, so nothing is decompressed twice.
    """

    SUMS_FILE = "SHA256SUMS.uncompressed"

    def __init__(self):
        self._verified: set[tuple[str, int, int]] = set()

    def pending(self, folder: Path, files: dict[str, Path]) -> dict[Path, str]:
        """Expected payload SHA-256 of each file in `files` not verified yet."""
        todo = [path for path in files.values() if self._key(path) not in self._verified]
        if not todo:
            return {}
        sums_path = folder / self.SUMS_FILE
        try:
            lines = sums_path.read_text(encoding="ascii").splitlines()
        except (OSError, UnicodeDecodeError):
            raise DatasetError(
                f"bundled MNIST is corrupt: {sums_path} is missing or unreadable; reinstall"
            ) from None
        sums = {}
        for line in lines:
            parts = line.split()
            if len(parts) == 2:
                sums[parts[1].lstrip("*")] = parts[0].lower()
        expected = {}
        for path in todo:
            name = path.name.removesuffix(".gz")
            if name not in sums:
                raise DatasetError(
                    f"bundled MNIST is corrupt: {name} has no entry in {sums_path}; reinstall"
                )
            expected[path] = sums[name]
        return expected

    def mark_verified(self, path: Path) -> None:
        self._verified.add(self._key(path))

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int]:
        st = path.stat()
        return (str(path.resolve()), st.st_mtime_ns, st.st_size)


_BUNDLED_MNIST = _VerifiedFiles()
