"""``scratchnet predict IMAGE``: read a handwritten digit from an image file.

The image (PNG, JPEG, or anything Qt reads; colour becomes luminance, transparency is laid on
white paper) goes through the same path as the drawing pad: ``ink_from_grey`` finds the ink
whichever its polarity, ``prepare_drawing`` puts it in MNIST form, and the model's three most
likely classes are printed, one per line (``7  98.2%``), or as one JSON object with ``--json``.
Without ``--model`` the default model in the user cache is used, trained first if missing.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scratchnet.data import load_dataset
from scratchnet.errors import ModelFileError, ScratchnetError
from scratchnet.files import read_regular
from scratchnet.network import Sequential, mlp
from scratchnet.optimizers import make_optimizer
from scratchnet.paths import user_cache_dir
from scratchnet.preprocess import MNIST_SIDE, area_resample, ink_from_grey, prepare_drawing
from scratchnet.serialization import load_model_file, save_model
from scratchnet.training import TrainConfig, train

from .args import ArgumentParser

PROG = "scratchnet predict"
TOP_K = 3
DEFAULT_MODEL_NAME = "default-model.npz"
MAX_IMAGE_BYTES = 64 << 20
MAX_IMAGE_PIXELS = 8192 * 8192
READ_SIDE = 1024
VECTOR_FORMATS = ("svg", "svgz")
# ITU-R BT.601 luma weights for R, G, B.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class PredictError(Exception):
    """A runtime failure with a message for the user (exit code 1)."""


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Read a handwritten digit from an image file.")
    p.add_argument("image", type=Path, help="PNG, JPEG, … : dark ink on light paper or the reverse")
    p.add_argument("--model", type=Path, help=f"a saved model (default: the cached {DEFAULT_MODEL_NAME})")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        grey, digit = read_image_and_digit(args.image)  # a bad image fails before a model is trained
        loaded = load_or_train_model(args.model)
        drawing = model_input(grey, digit, loaded)
        probabilities = loaded.model.predict_proba(drawing[None, :])[0]
    except (PredictError, ScratchnetError) as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    ranked = np.argsort(probabilities)[::-1][:TOP_K]
    top = [
        {"class": int(k), "name": loaded.class_names[k], "probability": float(probabilities[k])} for k in ranked
    ]
    if args.json:
        sys.stdout.write(json.dumps({"image": str(args.image), "top": top}) + "\n")
    else:
        for entry in top:
            sys.stdout.write(f"{printable(entry['name'])}  {100 * entry['probability']:.1f}%\n")
    return 0


def read_digit(path: Path, model: DigitModel | None = None) -> np.ndarray:
    """The image in a file as ``model``'s network sees it: (side * side,) float32.

    The digit in MNIST form (as the drawing pad does), resized to the model's side when it is not
    28; or, for a model trained on image folders read by plain area resize, the image itself resized
    to the side (the same reading as its training images). A blank image raises PredictError."""
    grey, digit = read_image_and_digit(path)
    return model_input(grey, digit, model)


def read_image_and_digit(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (H, W) luminance of an image file and the (784,) digit found in it; PredictError when
    the image is blank (checked before any model is loaded or trained)."""
    grey = read_grey_image(path)
    digit = prepare_drawing(ink_from_grey(grey))
    if digit is None:
        raise PredictError(f"{path.name}: no ink found (the image is blank)")
    return grey, digit


def model_input(grey: np.ndarray, digit: np.ndarray, model: DigitModel | None = None) -> np.ndarray:
    """What ``model`` reads of an image: its ``digit`` (784,) in MNIST form, resized to the model's
    side; or, for a model of plainly read image folders, the ``grey`` image itself area-resized."""
    side = model.side if model is not None else MNIST_SIDE
    if model is not None and model.plain:
        return area_resample(grey, side, side).clip(0.0, 1.0).reshape(-1)
    if side != MNIST_SIDE:
        return area_resample(digit.reshape(MNIST_SIDE, MNIST_SIDE), side, side).reshape(-1)
    return digit


def read_grey_image(path: Path) -> np.ndarray:
    """(H, W) float32 luminance in [0, 1] of an image file; transparent areas read as white.

    Only a regular file of at most ``MAX_IMAGE_BYTES`` is read, by us (Qt would block on a FIFO).
    Images above ``MAX_IMAGE_PIXELS`` are refused from their header; others are decoded straight
    to at most ``READ_SIDE`` pixels a side, which is plenty to find a digit for a 28×28 input.
    Vector drawings (SVG, SVGZ) are refused: a small one can expand to gigabytes.
    """
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize
    from PySide6.QtGui import QImage, QImageReader  # Qt only here: QImage needs no application

    data = QByteArray(read_regular(path, MAX_IMAGE_BYTES, PredictError, path.name))
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)  # a phone photo's EXIF orientation
    kind = bytes(reader.format().data()).decode("ascii", "replace").lower()
    if not kind:
        raise PredictError(f"{path.name}: not an image format this app reads (PNG, JPEG, BMP, GIF, WebP, …)")
    if kind in VECTOR_FORMATS:
        raise PredictError(f"{path.name}: is an SVG drawing, which is not read; export it as a PNG first")
    size = reader.size()
    width, height = size.width(), size.height()
    if width * height > MAX_IMAGE_PIXELS:
        raise PredictError(f"{path.name}: {width:,}×{height:,} pixels is larger than the "
                           f"{MAX_IMAGE_PIXELS:,} pixels accepted; shrink the image first")
    if max(width, height) > READ_SIDE:
        scale = READ_SIDE / max(width, height)
        reader.setScaledSize(QSize(max(1, round(width * scale)), max(1, round(height * scale))))
    image = reader.read()
    if image.isNull():
        raise PredictError(f"{path.name}: cannot read the image ({reader.errorString()})")
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    height, width = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(height, image.bytesPerLine())
    rgba = rows[:, : 4 * width].reshape(height, width, 4).astype(np.float32) / 255.0
    alpha = rgba[..., 3:]
    on_white = rgba[..., :3] * alpha + (1.0 - alpha)
    return on_white @ LUMA


def printable(text: str) -> str:
    """``text`` with control characters (terminal escape codes, newlines) shown as ``\\x1b``."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def default_model_path() -> Path:
    return user_cache_dir() / DEFAULT_MODEL_NAME


@dataclass(frozen=True)
class DigitModel:
    """A model that reads square images, one display name per class, and the data set it was
    trained on (its metadata's ``dataset``, else "mnist") with the options it was imported with
    (``load_dataset`` keywords, empty for MNIST)."""

    model: Sequential
    class_names: list[str]
    dataset: str
    side: int = MNIST_SIDE
    data_import: dict = field(default_factory=dict)

    @property
    def plain(self) -> bool:
        """Trained on images read by plain area resize (image folders imported without photo)."""
        return self.data_import.get("photo") is False and self.data_import.get("images", False)

    def load_options(self) -> dict:
        """The keywords that make ``load_dataset(self.dataset, ...)`` give the data it was trained on."""
        return {key: value for key, value in self.data_import.items() if key != "images"}


def load_or_train_model(path: Path | None) -> DigitModel:
    """The model at ``path``, or the default model in the user cache, trained first if missing."""
    cached = path is None
    if cached:
        path = default_model_path()
        if not path.exists():
            _train_default_model(path)
    try:
        loaded = load_model_file(path)
    except ModelFileError as exc:
        if not cached:
            raise
        reason = str(exc).removeprefix(f"{path.name}: ")
        raise PredictError(f"the cached default model {path} cannot be used: {reason}. "
                           "Delete that file and run again to train a new one.") from None
    model = loaded.model
    side = math.isqrt(model.input_size)
    if side * side != model.input_size:
        raise PredictError(f"{path.name}: the model takes {model.input_size} inputs, not a square image")
    names = loaded.metadata.get("class_names")
    if not isinstance(names, list) or len(names) != model.output_size:
        names = [str(k) for k in range(model.output_size)]
    dataset = loaded.metadata.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        dataset = "mnist"
    options = loaded.metadata.get("data_import")
    options = _import_options(options) if isinstance(options, dict) else {}
    return DigitModel(model, [str(name) for name in names], dataset, side, options)


def _import_options(saved: dict) -> dict:
    """The ``load_dataset`` options a model's metadata names, the valid ones only."""
    keep = {}
    if isinstance(saved.get("image_size"), int) and not isinstance(saved["image_size"], bool):
        keep["image_size"] = saved["image_size"]
    if isinstance(saved.get("held_out"), float) and 0 < saved["held_out"] < 1:
        keep["held_out"] = saved["held_out"]
    if isinstance(saved.get("seed"), int) and not isinstance(saved["seed"], bool) and saved["seed"] >= 0:
        keep["seed"] = saved["seed"]
    if saved.get("photo") in (False, True, "auto"):
        keep["photo"] = saved["photo"]
    if saved.get("images") is True:
        keep["images"] = True
    return keep


def _train_default_model(path: Path) -> None:
    """784-128-10, mini-batch 64, momentum SGD lr 0.05, 2 epochs, seed 0, on bundled MNIST."""
    sys.stderr.write(f"note: no default model yet; training one on MNIST (a few seconds) into {path}\n")
    data = load_dataset("mnist")
    model = mlp(MNIST_SIDE * MNIST_SIDE, [128], 10, rng=np.random.default_rng(0))
    config = TrainConfig(descent="mini", batch_size=64, epochs=2, seed=0)
    test_accuracy = float("nan")
    for log in train(model, make_optimizer("momentum", 0.05), data.x_train, data.y_train, config,
                     x_test=data.x_test, y_test=data.y_test):
        if log["event"] == "done":
            test_accuracy = log["test_accuracy"]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, path, metadata={
            "dataset": data.name, "class_names": list(data.class_names), "test_accuracy": test_accuracy,
        })
    except OSError as exc:
        raise PredictError(f"cannot save the default model to {path} ({exc.strerror or exc})") from None
    sys.stderr.write(f"note: default model saved ({100 * test_accuracy:.1f}% on the MNIST test set)\n")
