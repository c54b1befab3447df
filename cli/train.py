"""``scratchnet train``: train a network without a window.

Prints a progress bar and a readable summary, or with ``--json`` one JSON object per epoch and a
final ``{"event": "done", ...}`` line on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from scratchnet.augment import Augmenter
from scratchnet.data import DATASET_NAMES, load_dataset
from scratchnet.download import download_dataset
from scratchnet.errors import SaveError, ScratchnetError, TrainingDiverged
from scratchnet.files import check_destination, is_folder
from scratchnet.initializers import INITIALIZERS
from scratchnet.layers import ACTIVATIONS
from scratchnet.limits import architecture_problem
from scratchnet.network import mlp
from scratchnet.optimizers import OPTIMIZER_NAMES, make_optimizer
from scratchnet.presets import PRESETS
from scratchnet.schedules import SCHEDULES
from scratchnet.serialization import save_model
from scratchnet.training import DESCENTS, TrainConfig, train

from .args import (
    ArgumentParser,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    unit_interval,
    widths,
)

EPOCH_KEYS = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "seconds", "samples_per_second", "lr")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="scratchnet train", description="Train a from-scratch NumPy network on MNIST-style data.")
    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="start every training option from this preset; flags given explicitly still win")
    p.add_argument("--dataset", default="mnist", help="mnist (bundled), fashion-mnist, or a folder of IDX files")
    p.add_argument("--download", action="store_true", help="download fashion-mnist into the cache first if needed")
    p.add_argument("--hidden", type=widths, default=[128],
                   help="hidden widths, e.g. 128 or 256,128; 'none' for softmax regression")
    p.add_argument("--activation", choices=list(ACTIVATIONS), default="relu")
    p.add_argument("--init", choices=list(INITIALIZERS), default="he")
    p.add_argument("--descent", choices=list(DESCENTS), default="mini", help="full batch, mini-batch or one-sample SGD")
    p.add_argument("--batch-size", type=positive_int, default=64, help="samples per update (mini only)")
    p.add_argument("--optimizer", choices=list(OPTIMIZER_NAMES), default="momentum")
    p.add_argument("--lr", type=positive_float, default=0.05, help="learning rate (> 0)")
    p.add_argument("--momentum", type=unit_interval, default=0.9, help="momentum for momentum/nesterov")
    p.add_argument("--weight-decay", type=non_negative_float, default=0.0)
    p.add_argument("--dropout", type=unit_interval, default=0.0)
    p.add_argument("--schedule", choices=list(SCHEDULES), default="constant")
    p.add_argument("--epochs", type=positive_int, default=5)
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=False,
                   help="randomly shift, rotate and scale each mini-batch's images")
    p.add_argument("--train-size", type=positive_int, default=None, help="train on the first N images")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--save", type=Path, default=None, help="write the trained model to this .npz")
    p.add_argument("--json", action="store_true", help="JSON Lines on stdout instead of a progress bar")
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse argv; with ``--preset NAME`` the preset's fields become the defaults of their options."""
    parser = build_parser()
    known, _ = parser.parse_known_args(argv)
    if known.preset is not None:
        parser.set_defaults(**PRESETS[known.preset].option_defaults())
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.descent != "mini" and "--batch-size" in " ".join(argv):
        _note(f"--batch-size applies to mini-batch only; {args.descent} descent ignores it")
    if args.dataset not in DATASET_NAMES and not is_folder(args.dataset):
        return _usage_error(
            f"unknown dataset {args.dataset!r}: use mnist, fashion-mnist or an existing folder of IDX files")
    try:
        if args.save is not None:
            check_destination(args.save)  # before training, which a failed save would lose
    except SaveError as exc:
        return _failure(str(exc))
    try:
        config = TrainConfig(descent=args.descent, batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                             schedule=args.schedule)
        optimizer = make_optimizer(args.optimizer, args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    except ValueError as exc:
        return _usage_error(str(exc))

    try:
        if args.download and args.dataset == "fashion-mnist":
            download_dataset("fashion-mnist", progress=None if args.json else _download_progress)
        dataset = load_dataset(args.dataset)
    except ScratchnetError as exc:
        return _failure(str(exc))
    if args.train_size is not None:
        if args.train_size > len(dataset.x_train):
            _note(f"--train-size {args.train_size} is more than the {len(dataset.x_train)} training images: using all")
        else:
            dataset = dataset.subset(args.train_size)

    problem = architecture_problem([dataset.x_train.shape[1], *args.hidden, dataset.num_classes])
    if problem is not None:
        return _usage_error(f"--hidden {','.join(map(str, args.hidden))}: {problem}")
    model = mlp(dataset.x_train.shape[1], args.hidden, dataset.num_classes, activation=args.activation,
                init=args.init, dropout=args.dropout, rng=np.random.default_rng(args.seed))
    report = _JsonReport() if args.json else _TextReport(sys.stderr, sys.stdout)
    report.begin(model, dataset, args)
    started = time.perf_counter()
    diverged = None
    try:
        # overflow on the way to a divergence is reported as TrainingDiverged, not as warnings
        with np.errstate(over="ignore", invalid="ignore"):
            for log in train(model, optimizer, dataset.x_train, dataset.y_train, config,
                             x_test=dataset.x_test, y_test=dataset.y_test,
                             augment=Augmenter() if args.augment else None):
                report.log(log)
    except TrainingDiverged as exc:
        diverged = exc
    try:
        _save(args.save, model, dataset, args, note="last finite weights after divergence" if diverged else "")
    except SaveError as exc:
        _failure(str(exc))
        return _failure(str(diverged)) if diverged else 1
    if diverged is not None:
        return _failure(str(diverged))
    report.end(time.perf_counter() - started)
    return 0


def _save(path: Path | None, model, dataset, args, note: str = "") -> None:
    if path is None:
        return
    metadata = {"dataset": dataset.name, "class_names": list(dataset.class_names), "note": note,
                "cli_args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    save_model(model, path, metadata)
    _note(f"model saved to {path}" + (f" ({note})" if note else ""))


class _JsonReport:
    def begin(self, model, dataset, args) -> None:
        self._last = None

    def log(self, log: dict) -> None:
        if log["event"] == "start":
            for note in log["notes"]:
                _note(note)
        elif log["event"] == "epoch":
            print(json.dumps({k: _json_number(log[k]) for k in EPOCH_KEYS}), flush=True)
        elif log["event"] == "done":
            self._last = log

    def end(self, wall_seconds: float) -> None:
        done = self._last
        print(json.dumps({"event": "done", "test_accuracy": _json_number(done["test_accuracy"]),
                          "test_loss": _json_number(done["test_loss"]), "seconds": done["seconds"],
                          "wall_seconds": wall_seconds, "epochs": done["epochs_completed"]}), flush=True)


class _TextReport:
    """A one-line progress bar on stderr (when it is a terminal) and a summary on stdout."""

    def __init__(self, err, out) -> None:
        self.err, self.out = err, out
        self.interactive = err.isatty()

    def begin(self, model, dataset, args) -> None:
        sizes = "-".join(str(d.in_features) for d in model.dense_layers) + f"-{model.output_size}"
        self.out.write(f"{dataset.name}: {len(dataset.x_train):,} training, {len(dataset.x_test):,} test images\n"
                       f"network {sizes} ({args.activation}, {args.init} init), {model.param_count():,} parameters\n")
        if args.augment:
            aug = Augmenter()
            self.out.write(f"augmentation: shifts up to {aug.max_shift:g} px, rotations up to {aug.max_rotation:g}°, "
                           f"scale ±{aug.max_scale:.0%}\n")
        self.epochs = args.epochs
        self.last = None

    def log(self, log: dict) -> None:
        event = log["event"]
        if event == "start":
            self.updates = log["updates_per_epoch"]
            self.out.write(f"{log['descent']} descent: {log['batch_size']:,} samples per update, "
                           f"{self.updates:,} updates per epoch\n")
            for note in log["notes"]:
                _note(note)
        elif event == "batch" and self.interactive:
            done = (log["update"] - (log["epoch"] - 1) * self.updates) / self.updates
            bar = "#" * int(30 * done) + "." * (30 - int(30 * done))
            self.err.write(f"\repoch {log['epoch']}/{self.epochs} [{bar}] {done:4.0%}  loss {log['loss']:.4f}")
            self.err.flush()
        elif event == "epoch":
            if self.interactive:
                self.err.write("\r" + " " * 72 + "\r")
            self.out.write(f"epoch {log['epoch']:>3}/{self.epochs}  loss {log['loss']:.4f}  acc {log['accuracy']:.2%}  "
                           f"test loss {log['test_loss']:.4f}  test acc {log['test_accuracy']:.2%}  "
                           f"{log['seconds']:.2f} s  {log['samples_per_second']:,.0f} samples/s\n")
            self.out.flush()
        elif event == "done":
            self.last = log

    def end(self, wall_seconds: float) -> None:
        done = self.last
        self.out.write(f"done: test accuracy {done['test_accuracy']:.2%} after {done['epochs_completed']} epochs, "
                       f"{done['seconds']:.1f} s training ({wall_seconds:.1f} s in all)\n")


def _download_progress(done: int, total: int, filename: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\rdownloading {filename}: {done / max(total, 1):.0%}")
        sys.stderr.flush()


def _json_number(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _note(message: str) -> None:
    sys.stderr.write(f"note: {message}\n")


def _usage_error(message: str) -> int:
    sys.stderr.write(f"scratchnet train: error: {message}\n")
    return 2


def _failure(message: str) -> int:
    sys.stderr.write(f"scratchnet train: {message}\n")
    return 1
