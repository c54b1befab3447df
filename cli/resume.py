"""``scratchnet resume DIR --from-epoch K``: go on training a run saved with ``--run-dir``.

The run's configuration comes from DIR/run.json and the weights, optimiser state and random
generators from its checkpoint at the end of epoch K; any training flag changes the
configuration from there (``--epochs N`` trains up to epoch N in all). The epochs are numbered
as in the original run, and without overrides their figures equal the original run's exactly.
``--run-dir NEW`` saves the continued run as a new run whose parent is DIR. An imported data
set is read with the options saved in run.json (held-out share, split seed, image size, photos),
so the test split is the run's own.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from scratchnet.checkpoints import CheckpointError
from scratchnet.files import is_folder
from scratchnet.my_digits import MNIST_PLUS_MY_DIGITS, MY_DIGITS
from scratchnet.run_config import FIELDS
from scratchnet.run_store import RunStore, RunStoreError, RunWriter, dataset_key, shape_problem
from scratchnet.threads import blas_thread_limit

from .args import non_negative_int
from .train import (
    PHOTO_MODES,
    _failure,
    _usage_error,
    build_parser,
    execute,
    import_options,
    prepare,
    run_config,
    run_dir_problem,
)

PROG = "resume"


# how the run's data were imported: from run.json unless given again
_IMPORT_FLAGS = {"image_size": "image_size", "held_out": "held_out", "split_seed": "seed", "photo": "photo"}
_FROM_CHECKPOINT = ("seed", "init")  # what a checkpoint fixes: the generators and the weights


def build_resume_parser():
    p = build_parser("scratchnet resume", "Go on training a run saved with `scratchnet train --run-dir`, from one "
                                          "of its epochs; training flags override its settings.")
    p.add_argument("run", type=Path, metavar="DIR", help="the run's folder (the --run-dir it was trained with)")
    p.add_argument("--from-epoch", type=non_negative_int, required=True, metavar="K",
                   help="continue from the checkpoint at the end of epoch K (0: the initial weights)")
    for action in p._actions:  # the defaults are the run's, not train's
        if action.dest in _IMPORT_FLAGS:
            action.default = argparse.SUPPRESS  # to tell a flag given from none
        if action.dest in (*FIELDS, *_IMPORT_FLAGS, "activation") and action.help:
            if action.dest in _FROM_CHECKPOINT:
                action.help = "not with resume: the weights and random generators come from the checkpoint"
                continue
            text = re.sub(r"\s*\(?\bdefault\b[^)]*\)?\s*$", "", action.help).replace(", the default)", ")")
            if action.dest == "epochs":
                text = "train up to epoch N in all"
            action.help = f"{text.strip()} (default: the run's)" if text.strip() else "default: the run's"
    return p


def main(argv: list[str]) -> int:
    args = build_resume_parser().parse_args(argv)
    if args.preset is not None:
        return _usage_error("--preset cannot be used with resume: the run's own settings are the base", PROG)
    for name in _FROM_CHECKPOINT:
        if hasattr(args, name):
            return _usage_error(f"--{name} cannot be used with resume: the weights and random generators come "
                                "from the checkpoint (train a new run to change them)", PROG)
    if not is_folder(args.run):
        return _failure(f"{args.run}: no such run folder", PROG)
    try:
        run = RunStore(args.run.parent).get(args.run.name)
    except RunStoreError as exc:
        return _failure(f"{args.run}: {exc}", PROG)
    if run.config is None:
        problem = run.warnings[0] if run.warnings else "run.json gives no run configuration"
        return _failure(f"{args.run}: {problem}", PROG)
    infos = run.checkpoints()
    info = run.epoch_checkpoint(args.from_epoch)
    if info is None:
        kept = sorted({c.epoch for c in infos if not c.mid_epoch})
        have = ", ".join(map(str, kept)) if kept else "none"
        return _failure(f"{args.run}: no checkpoint at the end of epoch {args.from_epoch} (epochs kept: {have})",
                        PROG)
    try:
        saved_import = run.data_import()
    except RunStoreError as exc:
        return _failure(f"{args.run}: {exc}", PROG)
    read_another_way = any(hasattr(args, flag) for flag in _IMPORT_FLAGS)
    _import_flags(args, saved_import)
    try:
        config = run_config(args, base=run.config)
    except ValueError as exc:
        return _usage_error(str(exc), PROG)
    if config.dataset in (MY_DIGITS, MNIST_PLUS_MY_DIGITS):
        return _failure(f"{args.run}: the run trained on the window's {config.dataset!r}, which the command line "
                        "does not load (your drawn digits change as you add them); fork it in the window, or give "
                        "--dataset", PROG)
    if args.run_dir is not None and (problem := run_dir_problem(args.run_dir)):
        return _usage_error(problem, PROG)
    try:
        ckpt = run.load_checkpoint(infos.index(info))
    except CheckpointError as exc:
        return _failure(str(exc), PROG)
    prepared = prepare(args, config, PROG)
    if isinstance(prepared, int):
        return prepared
    dataset, model, config = prepared
    problem = shape_problem({k: v.shape for k, v in ckpt.params.items()},
                            {k: v.shape for k, v in model.parameters().items()})
    if problem:
        return _usage_error(f"the options change the saved network, so its weights do not fit: {problem}", PROG)
    saved_key = run.info.get("data_key")
    same_reading = not read_another_way and (config.dataset, config.train_size) == (run.config.dataset,
                                                                                      run.config.train_size)
    if isinstance(saved_key, str) and same_reading and dataset_key(dataset) != saved_key:
        sys.stderr.write("note: the data read now differ from the data the run trained on (their files changed, "
                         "or they were read another way): the resumed figures will differ from the run's\n")
    if ckpt.epoch >= config.epochs:
        sys.stderr.write(f"note: epoch {ckpt.epoch} is the run's last (--epochs {config.epochs}); "
                         "give a larger --epochs to train more\n")
    threads = run.info.get("blas_threads")
    threads = threads if isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1 else None
    writer = None
    if args.run_dir is not None:
        fork = {"epoch": ckpt.epoch, "update": ckpt.update, "samples_seen": ckpt.samples_seen,
                "from": str(args.run)}
        writer = RunWriter(args.run_dir, config, name=args.run_dir.name, parent=run.id, fork=fork, model=model,
                           data_import=import_options(args), data_key=dataset_key(dataset),
                           blas_threads=threads)
        if writer.problem:
            return _failure(writer.problem, PROG)
    if threads is None:
        return execute(args, config, dataset, model, writer=writer, resume=ckpt, prog=PROG)
    with blas_thread_limit(threads):  # as the run trained (the window's runs: 1), for the same sums
        return execute(args, config, dataset, model, writer=writer, resume=ckpt, prog=PROG)


def _import_flags(args, saved: dict | None) -> None:
    """Fill the import flags not given from the run's saved options (train's defaults for a
    run saved without them)."""
    defaults = build_parser().parse_args([])
    for flag, key in _IMPORT_FLAGS.items():
        if hasattr(args, flag):
            continue
        if saved is None:
            value = getattr(defaults, flag)
        elif flag == "photo":
            value = next(name for name, mode in PHOTO_MODES.items() if mode == saved[key])
        else:
            value = saved[key]
        setattr(args, flag, value)

