"""``scratchnet train``: train a network without a window.

Prints a progress bar and a readable summary, or with ``--json`` one JSON object per epoch and a
final ``{"event": "done", ...}`` line on stdout. ``--run-dir DIR`` saves the run as it goes
(``scratchnet.run_store``: configuration, curves, checkpoints), for ``scratchnet resume``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from scratchnet.checkpoints import DEFAULT_COUNT
from scratchnet.data import DATASET_NAMES, load_dataset
from scratchnet.data_import import CLASS_FOLDERS, IMAGE_SPLIT, find_layout
from scratchnet.download import download_dataset
from scratchnet.errors import DatasetError, SaveError, ScratchnetError, TrainingDiverged
from scratchnet.files import check_destination, is_folder
from scratchnet.initializers import INITIALIZERS
from scratchnet.layers import ACTIVATIONS
from scratchnet.limits import architecture_problem
from scratchnet.optimizers import OPTIMIZER_NAMES
from scratchnet.presets import PRESETS
from scratchnet.run_config import FIELDS, RunConfig, hidden_layers, model_metadata
from scratchnet.run_store import RunWriter, dataset_key
from scratchnet.schedules import SCHEDULES
from scratchnet.serialization import save_model
from scratchnet.training import DESCENTS, train

from .args import (
    ArgumentParser,
    image_side,
    layer_tokens,
    non_negative_float,
    non_negative_int,
    open_share,
    positive_float,
    positive_int,
    unit_interval,
    widths,
)

EPOCH_KEYS = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "seconds", "samples_per_second", "lr")


def build_parser(prog: str = "scratchnet train",
                 description: str = "Train a from-scratch NumPy network on MNIST-style data.") -> ArgumentParser:
    """The options; those of the run configuration are left out of the namespace unless given, so
    that ``run_config`` can tell a flag from a default (which comes from ``RunConfig``)."""
    d = RunConfig()
    p = ArgumentParser(prog=prog, description=description, argument_default=argparse.SUPPRESS)
    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="start every training option from this preset; flags given explicitly still win")
    p.add_argument("--dataset", help="mnist (bundled), fashion-mnist, or a path: a folder of IDX files, a CSV folder "
                                     "(train.csv + test.csv), one .csv, image folders (train/<class>/ + test/<class>/, "
                                     f"or <class>/ alone) or an .npz (default {d.dataset})")
    p.add_argument("--image-size", type=image_side, default=None, metavar="N",
                   help="resize imported images to N x N (default: the data's own size; 28 for image folders)")
    p.add_argument("--held-out", type=open_share, default=1 / 7, metavar="SHARE",
                   help="test share of one CSV or of <class>/ folders, split by class (default 1/7)")
    p.add_argument("--split-seed", type=non_negative_int, default=0, help="seed of that split (default 0)")
    p.add_argument("--photo", choices=("no", "yes", "auto"), default="no",
                   help="images are photos of digits on paper: find the ink and centre it as the drawing pad "
                        "does (yes), plain area resize (no, the default), or photos only on light paper (auto)")
    p.add_argument("--allow-large", action="store_true", default=False, help="read a CSV of more than 2 GB")
    p.add_argument("--download", action="store_true", default=False,
                   help="download fashion-mnist into the cache first if needed")
    p.add_argument("--hidden", type=widths,
                   help="hidden widths, e.g. 128 or 256,128; 'none' for softmax regression (default "
                        f"{','.join(str(w) for w in d.widths(0, 0)[1:-1])})")
    p.add_argument("--layers", type=layer_tokens,
                   help="any stack before the output layer, replacing --hidden and --dropout, e.g. "
                        "conv5x5x8,relu,pool2,conv5x5x16,relu,pool2,flatten,dense128,relu (also conv5x5x6p2 for "
                        "padding 2, conv3x3x8s2 for stride 2, pool3s2, dropout0.25, leaky_relu, sigmoid, tanh)")
    p.add_argument("--activation", choices=list(ACTIVATIONS), help=f"of every hidden layer (default {_activation(d)})")
    p.add_argument("--init", choices=list(INITIALIZERS), help=f"default {d.init}")
    p.add_argument("--descent", choices=list(DESCENTS),
                   help=f"full batch, mini-batch or one-sample SGD (default {d.descent})")
    p.add_argument("--batch-size", type=positive_int, help=f"samples per update, mini only (default {d.batch_size})")
    p.add_argument("--optimizer", choices=list(OPTIMIZER_NAMES), help=f"default {d.optimizer}")
    p.add_argument("--lr", dest="learning_rate", metavar="LR", type=positive_float,
                   help=f"learning rate > 0 (default {d.learning_rate})")
    p.add_argument("--momentum", type=unit_interval, help=f"for momentum and nesterov (default {d.momentum})")
    p.add_argument("--weight-decay", type=non_negative_float, help=f"default {d.weight_decay}")
    p.add_argument("--dropout", type=unit_interval, help=f"default {d.dropout}")
    p.add_argument("--schedule", choices=list(SCHEDULES), help=f"default {d.schedule}")
    p.add_argument("--epochs", type=positive_int, help=f"default {d.epochs}")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction,
                   help="randomly shift, rotate and scale each mini-batch's images (default off)")
    p.add_argument("--train-size", type=positive_int, help="train on the first N images (default all)")
    p.add_argument("--seed", type=non_negative_int, help=f"default {d.seed}")
    p.add_argument("--save", type=Path, default=None, help="write the trained model to this .npz")
    p.add_argument("--json", action="store_true", default=False, help="JSON Lines on stdout instead of a progress bar")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="save the run in this new folder as it trains: configuration, curves and checkpoints "
                        "(see `scratchnet resume`)")
    p.add_argument("--checkpoints", type=non_negative_int, default=None,
                   help="with --run-dir, runs under 10 epochs also keep this many checkpoints spread through the "
                        f"run besides every epoch's end (default {DEFAULT_COUNT}; 0: epoch ends only)")
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def run_config(args: argparse.Namespace, base: RunConfig | None = None) -> RunConfig:
    """The preset's configuration (or ``base``, or the default one) with the run options given on
    the command line.

    ``--hidden`` and ``--activation`` together give the hidden layers; either alone keeps the other
    from the base. Raises ``ValueError`` for a combination that makes no sense."""
    if args.preset is not None:
        base = PRESETS[args.preset].config
    base = base or RunConfig()
    given = {name: getattr(args, name) for name in FIELDS if name != "hidden" and hasattr(args, name)}
    activation = getattr(args, "activation", None)
    if hasattr(args, "hidden") or activation is not None:
        hidden = getattr(args, "hidden", [h.width for h in base.hidden])
        given["hidden"] = hidden_layers(*hidden, activation=activation or _activation(base))
    return base.replace(**given)


def _activation(config: RunConfig) -> str:
    return config.hidden[0].activation if config.hidden else "relu"


def _activations(config: RunConfig) -> str:
    return ", ".join(dict.fromkeys(h.activation for h in config.hidden)) or "no hidden layer"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        config = run_config(args)
    except ValueError as exc:
        return _usage_error(str(exc))
    if args.run_dir is not None and (problem := run_dir_problem(args.run_dir)):
        return _usage_error(problem)
    prepared = prepare(args, config)
    if isinstance(prepared, int):
        return prepared
    dataset, model, config = prepared
    writer = None
    if args.run_dir is not None:
        writer = RunWriter(args.run_dir, config, name=args.run_dir.name, model=model, data_import=import_options(args),
                           data_key=dataset_key(dataset))
        if writer.problem:
            return _failure(writer.problem)
    return execute(args, config, dataset, model, writer=writer)


def run_dir_problem(folder: Path) -> str | None:
    """Why ``--run-dir`` cannot hold a new run, or None."""
    if (folder / "run.json").exists():
        return f"--run-dir {folder} already holds a run; choose a new folder (or `scratchnet resume` it)"
    if folder.exists() and not is_folder(folder):
        return f"--run-dir {folder} is not a folder"
    return None


def prepare(args: argparse.Namespace, config: RunConfig, prog: str = "train"):
    """(dataset, model, config) for ``config`` (an imported data set named by its absolute path), or the
    exit code after a message."""
    if args.checkpoints is not None and args.run_dir is None:
        _note("--checkpoints applies only with --run-dir (checkpoints are kept in the run's folder); ignored")
    if config.descent != "mini" and hasattr(args, "batch_size"):
        _note(f"--batch-size applies to mini-batch only; {config.descent} descent ignores it")
    if config.dataset not in DATASET_NAMES and not os.path.exists(config.dataset):
        return _usage_error(f"unknown dataset {config.dataset!r}: use mnist, fashion-mnist or the path of your "
                            "data (a folder of IDX files, a CSV folder, a .csv, image folders or an .npz)", prog)
    imported = config.dataset not in DATASET_NAMES
    if imported:  # a saved model names its data wherever the command runs
        config = config.replace(dataset=os.path.abspath(config.dataset))
    try:
        if args.save is not None:
            check_destination(args.save)  # before training, which a failed save would lose
    except SaveError as exc:
        return _failure(str(exc), prog)

    try:
        if args.download and config.dataset == "fashion-mnist":
            download_dataset("fashion-mnist", progress=None if args.json else _download_progress)
        options = import_options(args)
        progress = _ImportProgress(sys.stderr) if not args.json and sys.stderr.isatty() else None
        dataset = load_dataset(config.dataset, **options, read_image=_image_reader(), allow_large=args.allow_large,
                               progress=progress)
        if progress is not None:
            progress.finish()
    except DatasetError as exc:  # bad data given by path: the user's input, as a bad flag is
        return _usage_error(str(exc), prog) if imported else _failure(str(exc), prog)
    except ScratchnetError as exc:
        return _failure(str(exc), prog)
    if imported:
        _note(f"{dataset.name}: {dataset.layout}; {dataset.num_classes} classes, "
              f"{dataset.image_shape[0]}x{dataset.image_shape[1]} images")
    if config.train_size is not None:
        if config.train_size > len(dataset.x_train):
            _note(f"--train-size {config.train_size} is more than the {len(dataset.x_train)} training images: "
                  "using all")
        else:
            dataset = dataset.subset(config.train_size)

    if config.layers:
        for flag in ("hidden", "activation", "dropout"):
            if hasattr(args, flag):
                _note(f"--layers gives the whole stack; --{flag} is ignored")
        try:  # every layer's shape and the parameter cap are checked before its weights are drawn
            model = config.build_model(dataset.x_train.shape[1], dataset.num_classes)
        except ValueError as exc:
            return _usage_error(f"--layers: {exc}", prog)
    else:
        widths = config.widths(dataset.x_train.shape[1], dataset.num_classes)
        problem = architecture_problem(widths)
        if problem is not None:
            return _usage_error(f"--hidden {','.join(map(str, widths[1:-1])) or 'none'}: {problem}", prog)
        model = config.build_model(dataset.x_train.shape[1], dataset.num_classes)
    return dataset, model, config


def execute(args: argparse.Namespace, config: RunConfig, dataset, model, *, writer: RunWriter | None = None,
            resume=None, prog: str = "train") -> int:
    """Train (from ``resume``, a checkpoint, when given), report, save the run through ``writer``
    and the model to ``--save``; the exit code."""
    report = _JsonReport() if args.json else _TextReport(sys.stderr, sys.stdout)
    report.begin(model, dataset, config)
    started = time.perf_counter()
    diverged = None
    told = False
    try:
        # overflow on the way to a divergence is reported as TrainingDiverged, not as warnings
        with np.errstate(over="ignore", invalid="ignore"):
            for log in train(model, config.build_optimizer(), dataset.x_train, dataset.y_train,
                             config.train_config(), x_test=dataset.x_test, y_test=dataset.y_test,
                             augment=config.build_augmenter(dataset.image_shape[0]), resume=resume,
                             checkpoints=_checkpoint_count(args) if writer is not None else None):
                if writer is not None:
                    writer.log(log)
                    if writer.problem and not told:
                        told = True
                        _note(f"{writer.problem}; training goes on without saving the run")
                report.log(log)
    except TrainingDiverged as exc:
        diverged = exc
        if writer is not None:
            writer.finish("diverged")
    except BaseException:
        if writer is not None:
            writer.finish("stopped")
        raise
    try:
        _save(args.save, model, dataset, config, note="last finite weights after divergence" if diverged else "",
              data_import=_saved_import(args, config.dataset, config.dataset not in DATASET_NAMES))
    except SaveError as exc:
        _failure(str(exc), prog)
        return _failure(str(diverged), prog) if diverged else 1
    if diverged is not None:
        return _failure(str(diverged), prog)
    report.end(time.perf_counter() - started)
    if writer is not None and not writer.problem:
        _note(f"run saved in {writer.folder}")
    return 0


def _checkpoint_count(args: argparse.Namespace) -> int:
    return DEFAULT_COUNT if args.checkpoints is None else args.checkpoints


def import_options(args: argparse.Namespace) -> dict:
    """The ``load_dataset`` options of imported data, as given on the command line (saved with the
    model, so that ``explain --test-index`` finds the same test split)."""
    return {"image_size": args.image_size, "held_out": args.held_out, "seed": args.split_seed,
            "photo": PHOTO_MODES[args.photo]}


PHOTO_MODES = {"no": False, "yes": True, "auto": "auto"}


def _saved_import(args: argparse.Namespace, dataset: str, imported: bool) -> dict | None:
    """What a saved model records of how its data was imported (None for MNIST at its own size);
    ``images`` says the data were image folders, which ``predict`` then reads the same way."""
    if not imported and args.image_size is None:
        return None
    images = imported and find_layout(dataset) in (IMAGE_SPLIT, CLASS_FOLDERS)
    return {**import_options(args), "images": images}


def _image_reader():
    """gui.image_reader.read_grey, imported only when the window's Qt is there (it always is in
    the app; the engine never imports Qt itself)."""
    from gui.image_reader import read_grey

    return read_grey


class _ImportProgress:
    """``progress(done, total)`` of an import (images, or bytes of CSV) as a one-line bar on a terminal."""

    def __init__(self, err) -> None:
        self.err, self.last = err, None

    def __call__(self, done: int, total: int) -> None:
        filled = int(30 * done / max(total, 1))
        text = f"\rreading data [{'#' * filled}{'.' * (30 - filled)}] {done / max(total, 1):4.0%}"
        if text != self.last:  # a terminal line written about 100 times, not once per image
            self.err.write(text)
            self.err.flush()
            self.last = text

    def finish(self) -> None:
        if self.last is not None:
            self.err.write("\r" + " " * 72 + "\r")
            self.err.flush()


def _save(path: Path | None, model, dataset, config: RunConfig, note: str = "", data_import=None) -> None:
    if path is None:
        return
    extra = {"data_import": data_import} if data_import is not None else {}
    save_model(model, path, model_metadata(config, dataset.class_names, note=note, **extra))
    _note(f"model saved to {path}" + (f" ({note})" if note else ""))


class _JsonReport:
    def begin(self, model, dataset, config) -> None:
        self._last = None
        self._before = 0.0

    def log(self, log: dict) -> None:
        if log["event"] == "start":
            self._before = log["seconds"]  # a resumed run's training time before this command
            for note in log["notes"]:
                _note(note)
        elif log["event"] == "epoch":
            print(json.dumps({k: _json_number(log[k]) for k in EPOCH_KEYS}), flush=True)
        elif log["event"] == "done":
            self._last = log

    def end(self, wall_seconds: float) -> None:
        """``seconds``: training time in this command (at most ``wall_seconds``); ``run_seconds``:
        the run's in all, a resumed run's earlier training included."""
        done = self._last
        print(json.dumps({"event": "done", "test_accuracy": _json_number(done["test_accuracy"]),
                          "test_loss": _json_number(done["test_loss"]),
                          "seconds": done["seconds"] - self._before, "run_seconds": done["seconds"],
                          "wall_seconds": wall_seconds, "epochs": done["epochs_completed"]}), flush=True)


class _TextReport:
    """A one-line progress bar on stderr (when it is a terminal) and a summary on stdout."""

    def __init__(self, err, out) -> None:
        self.err, self.out = err, out
        self.interactive = err.isatty()

    def begin(self, model, dataset, config) -> None:
        self.out.write(f"{dataset.name}: {len(dataset.x_train):,} training, {len(dataset.x_test):,} test images\n")
        if config.layers:
            shapes = model.shapes()
            steps = [f"{token} {'x'.join(map(str, shape))}" for token, shape in
                     zip((*config.layers, "output"), shapes[-len(config.layers) - 1:], strict=True)]
            first = "x".join(map(str, shapes[-len(steps) - 1]))
            self.out.write(f"network {first} -> {' -> '.join(steps)} ({config.init} init), "
                           f"{model.param_count():,} parameters\n")
        else:
            sizes = "-".join(str(d.in_features) for d in model.dense_layers) + f"-{model.output_size}"
            self.out.write(f"network {sizes} ({_activations(config)}, {config.init} init), "
                           f"{model.param_count():,} parameters\n")
        aug = config.build_augmenter(dataset.image_shape[0])
        if aug is not None:
            self.out.write(f"augmentation: shifts up to {aug.max_shift:g} px, rotations up to {aug.max_rotation:g}°, "
                           f"scale ±{aug.max_scale:.0%}\n")
        self.epochs = config.epochs
        self.last = None

    def log(self, log: dict) -> None:
        event = log["event"]
        if event == "start":
            self.before = log["seconds"]  # a resumed run's training time before this command
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
                       f"{done['seconds'] - self.before:.1f} s training ({wall_seconds:.1f} s in all)\n")


def _download_progress(done: int, total: int, filename: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\rdownloading {filename}: {done / max(total, 1):.0%}")
        sys.stderr.flush()


def _json_number(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _note(message: str) -> None:
    sys.stderr.write(f"note: {message}\n")


def _usage_error(message: str, prog: str = "train") -> int:
    sys.stderr.write(f"scratchnet {prog}: error: {message}\n")
    return 2


def _failure(message: str, prog: str = "train") -> int:
    sys.stderr.write(f"scratchnet {prog}: {message}\n")
    return 1
