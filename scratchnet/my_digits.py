"""My digits: the learner's own handwriting, kept as a small data set of IDX files.

``MyDigits`` is the store: 28×28 uint8 images (exactly what the drawing pad's preprocessing gave
the network) and their labels, in ``$XDG_DATA_HOME/scratchnet/my-digits`` (fallback
``~/.local/share/scratchnet/my-digits``). Every change is written at once: both files through
temporary files, a commit mark and ``os.replace``, so a killed app leaves the old pair of files or
the new one, never one of each. A store
that cannot be read is moved aside into a ``damaged-*`` folder and reported in ``problem``; the
store then starts empty, and the damaged files stay for the user to look at.

``mixed_training_set`` and ``fine_tune_dataset`` build what fine-tuning trains on: MNIST's
training images with my digits repeated until they make a chosen share of the rows, spread
evenly among them (so of every batch), and my digits split into the ones trained on and the ones held out
to measure the fine-tuning by.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths
from .data import DIGIT_CLASSES, Dataset, read_idx
from .errors import DatasetError

SIDE = 28
IMAGES_FILE = "images-idx3-ubyte"
LABELS_FILE = "labels-idx1-ubyte"
COMMIT_MARK = "commit-mark"  # present while a committed change of both files is being put in place
# the names the data set picker and the run configuration use for the two data sets
MY_DIGITS = "my-digits"
MNIST_PLUS_MY_DIGITS = "mnist+my-digits"
DEFAULT_SHARE = 0.10
DEFAULT_HELD_OUT = 0.25


def store_folder() -> Path:
    """``$XDG_DATA_HOME/scratchnet/my-digits``, or ``~/.local/share/scratchnet/my-digits``."""
    return paths.user_data_dir() / "my-digits"


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file, atomically (a temporary file, then ``os.replace``)."""
    os.replace(_write_temporary(path, array), path)


def _write_temporary(path: Path, array: np.ndarray) -> Path:
    """``array`` as an IDX file beside ``path`` (``path`` + ".tmp"), flushed to the disk; returns it."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as stream:
        stream.write(header)
        stream.write(array.tobytes())
        stream.flush()
        os.fsync(stream.fileno())
    return temporary


def to_pixels(digit: np.ndarray) -> np.ndarray:
    """A prepared input (784,) or (28, 28) in [0, 1] as the (28, 28) uint8 image that is stored."""
    digit = np.asarray(digit, dtype=np.float32)
    if digit.size != SIDE * SIDE or not np.all(np.isfinite(digit)):
        raise ValueError(f"a digit is {SIDE * SIDE} finite pixels, got {digit.size} values")
    return np.rint(np.clip(digit, 0.0, 1.0) * 255).astype(np.uint8).reshape(SIDE, SIDE)


class MyDigits:
    """The store of my digits in ``folder`` (default ``store_folder()``), read at once.

    ``images`` (N, 28, 28) uint8 and ``labels`` (N,) int64 are the store's contents (copies: change
    them through ``add``, ``delete`` and ``relabel``, which save at once). ``problem`` says why the
    files found could not be read (they were moved aside), else None. Saving raises OSError when
    the folder cannot be written; the store in memory is then unchanged.
    """

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.folder = Path(folder) if folder is not None else store_folder()
        self.problem: str | None = None
        self.version = 0  # counts the changes: a result computed from an older version is stale
        self._images = np.zeros((0, SIDE, SIDE), np.uint8)
        self._labels = np.zeros(0, np.uint8)
        self._read()

    # ---- contents
    def __len__(self) -> int:
        return len(self._labels)

    @property
    def images(self) -> np.ndarray:
        return self._images.copy()

    @property
    def labels(self) -> np.ndarray:
        return self._labels.astype(np.int64)

    def inputs(self) -> np.ndarray:
        """The images as the network's rows: (N, 784) float32 in [0, 1], like ``load_dataset``."""
        return np.divide(self._images.reshape(len(self), -1), np.float32(255), dtype=np.float32)

    def counts(self) -> np.ndarray:
        """(10,) how many digits of each label."""
        return np.bincount(self._labels, minlength=len(DIGIT_CLASSES))

    # ---- changes, each saved at once
    def add(self, digit: np.ndarray, label: int) -> int:
        """Store ``digit`` (the prepared (784,) input in [0, 1]) as ``label``; returns its index."""
        label = _checked_label(label)
        images = np.concatenate([self._images, to_pixels(digit)[None]])
        self._save(images, np.append(self._labels, np.uint8(label)))
        return len(self) - 1

    def delete(self, index: int) -> None:
        self._check_index(index)
        self._save(np.delete(self._images, index, axis=0), np.delete(self._labels, index))

    def relabel(self, index: int, label: int) -> None:
        self._check_index(index)
        labels = self._labels.copy()
        labels[index] = _checked_label(label)
        self._save(self._images, labels)

    # ---- files
    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self):
            raise IndexError(f"no digit {index}: the store holds {len(self)}")

    def _save(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Both files change together: the new ones are written beside the old, then a commit mark
        is made (one atomic rename), then both are renamed into place and the mark removed. A kill
        before the mark leaves the old pair; after it, the next read completes the change."""
        self.folder.mkdir(parents=True, exist_ok=True)
        staged = [(_write_temporary(self.folder / name, array), self.folder / name)
                  for name, array in ((IMAGES_FILE, images), (LABELS_FILE, labels))]
        mark = self.folder / COMMIT_MARK
        _write_temporary(mark, np.zeros(1, np.uint8))
        os.replace(mark.with_name(mark.name + ".tmp"), mark)
        for temporary, path in staged:
            os.replace(temporary, path)
        mark.unlink()
        self._images, self._labels = images, labels
        self.version += 1

    def _finish_interrupted_save(self) -> None:
        """Complete a save that was committed but not finished, or drop one that was not committed."""
        mark = self.folder / COMMIT_MARK
        for name in (IMAGES_FILE, LABELS_FILE, COMMIT_MARK):
            temporary = self.folder / (name + ".tmp")
            if temporary.is_file():
                if mark.is_file() and name != COMMIT_MARK:
                    os.replace(temporary, self.folder / name)
                else:
                    temporary.unlink()
        if mark.is_file():
            mark.unlink()

    def _read(self) -> None:
        try:
            self._finish_interrupted_save()
        except OSError as exc:
            self.problem = f"My digits could not be read ({exc})"
            return
        paths = [self.folder / IMAGES_FILE, self.folder / LABELS_FILE]
        present = [path.exists() for path in paths]
        if not any(present):
            return
        try:
            if not all(present):
                missing = paths[present.index(False)]
                raise DatasetError(f"{missing} is missing")
            images, labels = read_idx(paths[0]), read_idx(paths[1])
            if images.shape[1:] != (SIDE, SIDE) or images.dtype != np.uint8:
                raise DatasetError(f"{paths[0]}: images must be (N, 28, 28) uint8, got {images.shape}")
            if labels.shape != (len(images),) or labels.dtype != np.uint8:
                raise DatasetError(f"{paths[1]}: {labels.shape[0]} labels for {len(images)} images")
            if labels.size and labels.max() > 9:
                raise DatasetError(f"{paths[1]}: label {labels.max()} is not a digit 0-9")
        except DatasetError as exc:
            self.problem = f"My digits could not be read ({exc}); the files were moved to {self._put_aside(paths)}"
            return
        self._images, self._labels = images, labels

    def _put_aside(self, paths: list[Path]) -> Path:
        aside = self.folder / time.strftime("damaged-%Y%m%d-%H%M%S")
        suffix = 1
        while aside.exists():
            aside = aside.with_name(f"{aside.name.split('+')[0]}+{suffix}")
            suffix += 1
        aside.mkdir(parents=True)
        for path in paths:
            if path.exists() or path.is_symlink():
                os.replace(path, aside / path.name)
        return aside


def _checked_label(label) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label <= 9:
        raise ValueError(f"a label is a digit 0-9, got {label!r}")
    return int(label)


# --------------------------------------------------------------------------- data sets


def split_held_out(labels: np.ndarray, held_out: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held) of a seeded split where about ``held_out`` of each label is held out
    (at least one of a label with two or more digits, never all of it)."""
    if not 0.0 <= held_out < 1.0:
        raise ValueError(f"the held-out share must be from 0 to below 1, got {held_out!r}")
    rng = np.random.default_rng(seed)
    train, held = [], []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        count = 0 if held_out == 0 or len(rows) < 2 else min(len(rows) - 1, max(1, round(held_out * len(rows))))
        held.extend(rows[:count])
        train.extend(rows[count:])
    return np.sort(np.array(train, np.int64)), np.sort(np.array(held, np.int64))


def mixed_training_set(x: np.ndarray, y: np.ndarray, x_mine: np.ndarray, y_mine: np.ndarray, share: float,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) holding every row of ``x`` in order, and my digits repeated (each as evenly as
    possible) so that they make ``share`` of the rows, spread evenly among them: every run of rows
    (a batch in order, the first rows a smaller training size keeps) holds ``share`` of mine, to
    within one row, and so does a shuffled batch on average.

    ``share`` is in (0, 1); with no digits of mine, (x, y) is returned as it is.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"the share of my digits must be above 0 and below 1, got {share!r}")
    if len(y_mine) == 0:
        return x, y
    wanted = max(1, round(share * len(y) / (1.0 - share)))
    rows = np.resize(np.random.default_rng(seed).permutation(len(y_mine)), wanted)
    total = len(y) + wanted
    step = np.arange(total + 1) * wanted // total
    is_mine = step[1:] > step[:-1]  # exactly ``wanted`` rows, evenly spaced
    mixed_x = np.empty((total, x.shape[1]), np.float32)
    mixed_y = np.empty(total, np.int64)
    mixed_x[~is_mine], mixed_y[~is_mine] = x, y
    mixed_x[is_mine], mixed_y[is_mine] = x_mine[rows], y_mine[rows]
    return mixed_x, mixed_y


def my_digits_dataset(store: MyDigits, held_out: float = DEFAULT_HELD_OUT, seed: int = 0) -> Dataset:
    """My digits alone, ``held_out`` of each label as the test split."""
    if len(store) < 2:
        raise DatasetError(f"My digits holds {len(store)} digit(s): draw and add at least 2 on the drawing pad")
    train, held = split_held_out(store.labels, held_out, seed)
    if len(held) == 0:
        raise DatasetError("My digits has no label with 2 digits or more, so none can be held out to test on: "
                           "add a second digit of some label")
    x, y = store.inputs(), store.labels
    return Dataset(MY_DIGITS, x[train], y[train], x[held], y[held], list(DIGIT_CLASSES))


@dataclass(frozen=True)
class FineTuneData:
    """What fine-tuning trains on and measures by.

    ``dataset``: MNIST's training images mixed with my training digits, MNIST's test split.
    ``x_held``, ``y_held``: my held-out digits; ``mine_trained``: how many of mine it trains on.
    """

    dataset: Dataset
    x_held: np.ndarray
    y_held: np.ndarray
    mine_trained: int


def fine_tune_dataset(mnist: Dataset, store: MyDigits, share: float = DEFAULT_SHARE,
                      held_out: float = DEFAULT_HELD_OUT, seed: int = 0) -> FineTuneData:
    """MNIST mixed with my digits (``share`` of the rows) after ``held_out`` of mine are put aside."""
    if len(store) == 0:
        raise DatasetError("My digits is empty: draw digits on the drawing pad and click “Add to my digits”")
    train, held = split_held_out(store.labels, held_out, seed)
    x, y = store.inputs(), store.labels
    x_train, y_train = mixed_training_set(mnist.x_train, mnist.y_train, x[train], y[train], share, seed)
    dataset = Dataset(MNIST_PLUS_MY_DIGITS, x_train, y_train, mnist.x_test, mnist.y_test,
                      list(mnist.class_names), mnist.image_shape)
    return FineTuneData(dataset, x[held], y[held], len(train))


__all__ = ["DEFAULT_HELD_OUT", "DEFAULT_SHARE", "MNIST_PLUS_MY_DIGITS", "MY_DIGITS", "FineTuneData", "MyDigits",
           "fine_tune_dataset", "mixed_training_set", "my_digits_dataset", "split_held_out", "store_folder",
           "to_pixels", "write_idx"]
