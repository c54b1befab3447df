"""``scratchnet predict IMAGE``: read a handwritten digit from an image file.

The image (PNG, JPEG, or anything Qt reads; colour becomes luminance, transparency is laid on
white paper) goes through the same path as the drawing pad: ``ink_from_grey`` finds the ink
whichever its polarity, ``prepare_drawing`` puts it in MNIST form, and the model's three most
likely classes are printed, one per line (``7  98.2%``), or as one JSON object with ``--json``.
Without ``--model`` the default model in the user cache is used, trained first if missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scratchnet.data import load_dataset
from scratchnet.errors import ScratchnetError
from scratchnet.network import Sequential, mlp
from scratchnet.optimizers import make_optimizer
from scratchnet.paths import user_cache_dir
from scratchnet.preprocess import MNIST_SIDE, ink_from_grey, prepare_drawing
from scratchnet.serialization import load_model_file, save_model
from scratchnet.training import TrainConfig, train

from .args import ArgumentParser

PROG = "scratchnet predict"
TOP_K = 3
DEFAULT_MODEL_NAME = "default-model.npz"
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
        drawing = prepare_drawing(ink_from_grey(read_grey_image(args.image)))
        if drawing is None:
            raise PredictError(f"{args.image.name}: no ink found (the image is blank)")
        model, class_names = _load_or_train_model(args.model)
        probabilities = model.predict_proba(drawing[None, :])[0]
    except (PredictError, ScratchnetError) as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    ranked = np.argsort(probabilities)[::-1][:TOP_K]
    top = [
        {"class": int(k), "name": class_names[k], "probability": float(probabilities[k])} for k in ranked
    ]
    if args.json:
        sys.stdout.write(json.dumps({"image": str(args.image), "top": top}) + "\n")
    else:
        for entry in top:
            sys.stdout.write(f"{entry['name']}  {100 * entry['probability']:.1f}%\n")
    return 0


def read_grey_image(path: Path) -> np.ndarray:
    """(H, W) float32 luminance in [0, 1] of an image file; transparent areas read as white."""
    from PySide6.QtGui import QImage, QImageReader  # Qt only here: QImage needs no application

    if path.is_dir():
        raise PredictError(f"{path.name}: is a folder, not an image")
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)  # a phone photo's EXIF orientation
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


def default_model_path() -> Path:
    return user_cache_dir() / DEFAULT_MODEL_NAME


def _load_or_train_model(path: Path | None) -> tuple[Sequential, list[str]]:
    """The model and one display name per class; the default model is trained if missing."""
    if path is None:
        path = default_model_path()
        if not path.exists():
            _train_default_model(path)
    loaded = load_model_file(path)
    model = loaded.model
    if model.input_size != MNIST_SIDE * MNIST_SIDE:
        raise PredictError(
            f"{path.name}: the model takes {model.input_size} inputs, not a 28×28 image ({MNIST_SIDE ** 2})"
        )
    names = loaded.metadata.get("class_names")
    if not isinstance(names, list) or len(names) != model.output_size:
        names = [str(k) for k in range(model.output_size)]
    return model, [str(name) for name in names]


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
