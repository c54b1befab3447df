"""Run folders: every run saved as it goes, found again later, renamed, deleted, zipped.

One folder per run (its name is the run's id)::

    run.json          format version, name, created, the RunConfig, data set and how it was
                      imported (data_import: held-out share, split seed, image size, photos),
                      model sizes, parent run and fork point, status (running, done, stopped,
                      diverged)
    curves.jsonl      every log of the run (arrays and checkpoints left out), one JSON per line
    curves.csv        one row per epoch
    checkpoints/      e0003-u000000750-s000048000.npz (epoch 3 ended, update 750, 48,000
                      samples), "-mid" before ".npz" for one taken inside an epoch

``RunWriter`` writes a folder while the run trains: run.json and the checkpoints atomically
(a temporary file renamed into place), the curves appended and flushed line by line. A write
that fails (a full disk) is reported in ``RunWriter.problem`` and the run goes on in memory.

``RunStore`` lists the folders of a root cheaply (run.json and the folder's file sizes only)
and lists what is wrong with each in ``StoredRun.warnings`` instead of failing: a folder cut
short, leftover temporary files, nonsense JSON, a newer format. ``StoredRun.check_checkpoints``
reads the checkpoints' array headers (not their data) and warns of shapes that do not match the
configuration. Zips are imported with limits on paths, links, file count and size.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import io
import json
import math
import os
import re
import shutil
import socket
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .checkpoints import Checkpoint, CheckpointError, checkpoint_bytes, load_checkpoint
from .errors import ScratchnetError
from .files import os_reason, write_atomically
from .limits import MAX_IMPORT_SIDE
from .run_config import RunConfig

FORMAT_VERSION = 1
STATUSES = ("running", "done", "stopped", "diverged")
CSV_KEYS = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "seconds", "lr", "update", "samples_seen")
MAX_RUN_JSON = 1 << 20
MAX_ZIP_FILES = 10_000
MAX_ZIP_BYTES = 2 << 30
MAX_ZIP_RATIO = 200  # a checkpoint of float weights compresses by 1.1x; a zip bomb by 1,000x
_CHECKPOINT_NAME = re.compile(r"e(\d+)-u(\d+)-s(\d+)(-mid)?\.npz")
_TMP = re.compile(r"^\..*\.tmp$|\.tmp$")
_RUN_FILES = ("run.json", "curves.jsonl", "curves.csv")
_ZIP_CHECKPOINT = re.compile(r"(checkpoints|spill)/[^/]+\.npz")  # spill/: the window's overflow


class RunStoreError(ScratchnetError, ValueError):
    """A run folder or zip that cannot be used as asked; the message says which and why."""


def runs_root() -> Path:
    """``$XDG_DATA_HOME/scratchnet/runs``, else ``~/.local/share/scratchnet/runs`` (a relative
    ``XDG_DATA_HOME`` is ignored, as the XDG spec says). Not created here."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "scratchnet" / "runs"


def checkpoint_filename(ckpt: Checkpoint) -> str:
    mid = "-mid" if ckpt.mid_epoch else ""
    return f"e{ckpt.epoch:04d}-u{ckpt.update:09d}-s{ckpt.samples_seen:012d}{mid}.npz"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_value(value.item())
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    return value


def curve_record(log: dict) -> dict:
    """A log as curves.jsonl keeps it: no checkpoint, no training-set rows; the per-update losses
    as a list; NaN and infinity as null."""
    return {k: _json_value(v) for k, v in log.items() if k not in ("checkpoint", "rows")}


class RunWriter:
    """Writes one run's folder while it trains. Call ``log(log)`` with each log of ``train``
    (checkpoint logs are saved as files), and ``finish(status)`` at the end (``log`` of the
    "done" log does it too). Never raises for a failed write: ``problem`` holds the first one
    and the writer stops writing, while the run keeps training in memory."""

    def __init__(self, folder: str | os.PathLike, config: RunConfig, *, name: str, parent: str | None = None,
                 fork: dict | None = None, model=None, data_import: dict | None = None,
                 data_key: str | None = None, blas_threads: int | None = None) -> None:
        self.folder = Path(folder)
        self.problem: str | None = None
        self.checkpoint_paths: list[Path] = []
        self.info = {
            "format_version": FORMAT_VERSION, "name": str(name), "created": _now(), "config": config.to_dict(),
            "dataset": config.dataset, "parent": parent, "fork": fork, "status": "running",
            "pid": os.getpid(), "host": socket.gethostname(),
        }
        if data_import is not None:  # how an imported data set was read: split, seed, size, photos
            self.info["data_import"] = dict(data_import)
        if data_key is not None:  # dataset_key of the data as read
            self.info["data_key"] = data_key
        if blas_threads is not None:  # the run's BLAS thread limit (the window's: 1): a resume repeats it
            self.info["blas_threads"] = int(blas_threads)
        if model is not None:
            self.info["shapes"] = {k: list(v.shape) for k, v in model.parameters().items()}
            self.info["input_size"] = model.input_size
            self.info["output_size"] = model.output_size
        self._csv_started = False
        self._created = self._try(self._create)

    def _create(self) -> None:
        (self.folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        if (self.folder / "run.json").exists():
            raise FileExistsError(f"{self.folder} already holds a run")
        self._write_info()

    def _write_info(self) -> None:
        data = json.dumps(self.info, indent=1).encode()
        write_atomically(self.folder / "run.json", lambda handle: handle.write(data))

    def _try(self, action, *args) -> bool:
        if self.problem is not None:
            return False
        try:
            action(*args)
            return True
        except FileExistsError as exc:
            self.problem = str(exc)
        except (OSError, ScratchnetError) as exc:
            reason = os_reason(exc) if isinstance(exc, OSError) and exc.errno else str(exc)
            self.problem = f"cannot save the run in {self.folder}: {reason}"
        return False

    def log(self, log: dict) -> None:
        event = log.get("event")
        if event == "checkpoint":
            self.checkpoint(log["checkpoint"])
            return
        self._try(self._append, "curves.jsonl", json.dumps(curve_record(log)) + "\n")
        if event == "epoch":
            self._try(self._csv_row, log)
        elif event == "start":
            self.info["start"] = {k: log[k] for k in ("n_train", "batch_size", "updates_per_epoch", "epochs",
                                                      "first_epoch", "first_update") if k in log}
        elif event == "done":
            self.info["epochs_completed"] = log.get("epochs_completed")
            self.finish("stopped" if log.get("stopped") else "done")

    def checkpoint(self, ckpt: Checkpoint) -> Path | None:
        """Save ``ckpt`` as checkpoints/<name>.npz; its path, or None when it could not be written."""
        path = self.folder / "checkpoints" / checkpoint_filename(ckpt)
        data = checkpoint_bytes(ckpt)
        if self._try(write_atomically, path, lambda handle: handle.write(data)):
            self.checkpoint_paths.append(path)
            return path
        return None

    def finish(self, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        self.info["status"] = status
        self.info["finished"] = _now()
        if self.problem is None:
            self._try(self._write_info)
            return
        if not self._created:
            return
        # a write failed earlier (a full disk): say so in run.json if there is room again
        self.info["problem"] = f"the run was not saved completely: {self.problem}"
        with contextlib.suppress(OSError, ScratchnetError):
            self._write_info()

    def _append(self, name: str, text: str) -> None:
        with open(self.folder / name, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()

    def _csv_row(self, log: dict) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if not self._csv_started and not (self.folder / "curves.csv").exists():
            writer.writerow(CSV_KEYS)
        self._csv_started = True
        writer.writerow(["" if _json_value(log.get(k)) is None else log.get(k) for k in CSV_KEYS])
        self._append("curves.csv", out.getvalue())


@dataclass
class CheckpointInfo:
    epoch: int
    update: int
    samples_seen: int
    mid_epoch: bool
    path: Path


@dataclass
class StoredRun:
    """One run folder, as ``RunStore.list`` found it. ``config`` is None when run.json cannot
    give one; ``warnings`` says what is wrong, one sentence each."""

    id: str
    folder: Path
    name: str
    created: str = ""
    config: RunConfig | None = None
    status: str = "unknown"
    size_bytes: int = 0
    warnings: list[str] = field(default_factory=list)
    parent: str | None = None
    fork: dict | None = None
    dataset: str = ""
    info: dict = field(default_factory=dict)

    def data_import(self) -> dict | None:
        """The ``load_dataset`` options the run's data were imported with (image_size, held_out,
        seed, photo), None when run.json has none (a run of MNIST, or saved before they were
        kept). Raises ``RunStoreError`` when they are there but not valid."""
        options = self.info.get("data_import")
        if options is None:
            return None
        problem = _data_import_problem(options)
        if problem:
            raise RunStoreError(f"run.json: data_import {problem}")
        return {k: options[k] for k in DATA_IMPORT_KEYS}

    def curves(self) -> list[dict]:
        """The logs in curves.jsonl (read now); a line that is not JSON (a write cut short) is
        skipped with a warning."""
        path = self.folder / "curves.jsonl"
        records = []
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.warn(f"curves.jsonl cannot be read: {os_reason(exc)}")
            return []
        bad = 0
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                bad += 1
        if bad:
            lines = f"{bad} lines that are" if bad > 1 else "1 line that is"
            self.warn(f"curves.jsonl has {lines} not a log (cut short or edited)")
        return records

    def epoch_logs(self) -> list[dict]:
        return [r for r in self.curves() if r.get("event") == "epoch" and not r.get("partial")]

    def checkpoints(self) -> list[CheckpointInfo]:
        """The checkpoint files, in update order (from their names; none is opened)."""
        found = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.folder / "checkpoints"):
                m = _CHECKPOINT_NAME.fullmatch(entry.name)
                if m and entry.is_file(follow_symlinks=False):
                    found.append(CheckpointInfo(int(m[1]), int(m[2]), int(m[3]), bool(m[4]), Path(entry.path)))
        return sorted(found, key=lambda c: (c.update, c.mid_epoch is False))

    def epoch_checkpoint(self, epoch: int) -> CheckpointInfo | None:
        """The checkpoint at the end of ``epoch`` (0: the initial weights), or None."""
        return next((c for c in self.checkpoints() if c.epoch == epoch and not c.mid_epoch), None)

    def load_checkpoint(self, index: int) -> Checkpoint:
        """The ``index``-th checkpoint; ``CheckpointError`` names the file and what is wrong,
        including parameters whose shapes are not those of the run's configuration."""
        info = self.checkpoints()[index]
        ckpt = load_checkpoint(info.path)
        expected = self.expected_shapes()
        if expected is not None:
            problem = shape_problem({k: v.shape for k, v in ckpt.params.items()}, expected)
            if problem:
                raise CheckpointError(f"{info.path}: {problem}")
        return ckpt

    def expected_shapes(self) -> dict[str, tuple[int, ...]] | None:
        """The parameter shapes the configuration gives (None when unknown)."""
        if self.config is None:
            return None
        size_in, size_out = self.info.get("input_size"), self.info.get("output_size")
        if isinstance(size_in, int) and isinstance(size_out, int) and size_in > 0 and size_out > 0:
            try:
                model = self.config.build_model(size_in, size_out)
            except (ValueError, MemoryError):
                return None
            return {k: v.shape for k, v in model.parameters().items()}
        shapes = self.info.get("shapes")
        if isinstance(shapes, dict):
            return {k: tuple(v) for k, v in shapes.items() if isinstance(v, list)}
        return None

    def check_checkpoints(self) -> list[str]:
        """Read every checkpoint's array headers (not the arrays) and add a warning for each that
        cannot be read or whose shapes do not match the configuration; returns the new warnings."""
        expected = self.expected_shapes()
        found = []
        for info in self.checkpoints():
            try:
                shapes = _npz_shapes(info.path)
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
                found.append(f"checkpoint {info.path.name} cannot be read ({exc})")
                continue
            params = {k[len("param/"):]: v for k, v in shapes.items() if k.startswith("param/")}
            if "checkpoint.json" not in shapes:
                found.append(f"checkpoint {info.path.name} is not a scratchnet checkpoint")
            elif expected is not None and (problem := shape_problem(params, expected)):
                found.append(f"checkpoint {info.path.name}: {problem}")
        for warning in found:
            self.warn(warning)
        return found

    def warn(self, text: str) -> None:
        """Add a warning about this run (once)."""
        if text not in self.warnings:
            self.warnings.append(text)

    @classmethod
    def read(cls, run_id: str, folder: Path) -> StoredRun:
        """The run in ``folder`` as its run.json describes it, with a warning for each kind of
        damage found (never raises): only run.json and the folder's sizes are read."""
        run = cls(id=run_id, folder=folder, name=run_id)
        run.size_bytes, leftovers = _folder_size(folder)
        if leftovers:
            run.warn(f"{len(leftovers)} temporary file{'s' if len(leftovers) > 1 else ''} left by a save that "
                      f"was cut short ({leftovers[0]})")
        path = folder / "run.json"
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_RUN_JSON + 1)
        except FileNotFoundError:
            run.warn("run.json is missing: the run was cut short before it was first saved")
            return run
        except OSError as exc:
            run.warn(f"run.json cannot be read: {os_reason(exc)}")
            return run
        if len(raw) > MAX_RUN_JSON:
            run.warn("run.json is larger than 1 MB: not a run's description")
            return run
        try:
            info = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            run.warn(f"run.json is not valid JSON ({exc}): it was cut short or edited")
            return run
        if not isinstance(info, dict):
            run.warn("run.json is not a JSON object: it was edited")
            return run
        run.info = info
        version = info.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            run.warn(f"run.json has no valid format_version ({version!r})")
            return run
        if version > FORMAT_VERSION:
            run.warn(f"made by a newer scratchnet (run format {version}; this one reads {FORMAT_VERSION}): "
                      "update scratchnet to open it")
            if isinstance(info.get("name"), str):
                run.name = info["name"]
            return run
        for key, kind in (("name", str), ("created", str), ("dataset", str), ("status", str)):
            value = info.get(key)
            if isinstance(value, kind):
                setattr(run, key, value)
            elif value is not None or key in ("name", "status"):
                run.warn(f"run.json: {key} is {value!r}, not text")
        if run.status not in STATUSES:
            run.warn(f"run.json: unknown status {run.status!r}")
        elif run.status == "running" and not _alive(info):
            run.warn("the run ended without finishing: the process stopped (killed, or the disk filled up)")
        run.parent = info.get("parent") if isinstance(info.get("parent"), str) else None
        run.fork = info.get("fork") if isinstance(info.get("fork"), dict) else None
        try:
            run.config = RunConfig.from_dict(info.get("config"))
        except (ValueError, TypeError) as exc:
            run.warn(f"run.json: the run configuration is not valid: {exc}")
        if isinstance(info.get("problem"), str):
            run.warn(info["problem"])
        return run


DATA_IMPORT_KEYS = ("image_size", "held_out", "seed", "photo")


def dataset_key(dataset) -> str:
    """A short fingerprint of the data a run trains and tests on (every label, the shapes and a
    sample of the pixels): the same files read the same way give the same key, so a resume can
    tell that the data changed since. Fast: it hashes about 1/97 of the pixels."""
    digest = hashlib.blake2b(digest_size=12)
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        array = np.asarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        sample = array.reshape(-1)[::97] if array.ndim > 1 else array
        digest.update(np.ascontiguousarray(sample).tobytes())
    return digest.hexdigest()


def _data_import_problem(options) -> str | None:
    if not isinstance(options, dict) or not set(DATA_IMPORT_KEYS) <= set(options):
        return f"is {options!r}, not the options {', '.join(DATA_IMPORT_KEYS)}"
    size, held_out, seed, photo = (options[k] for k in DATA_IMPORT_KEYS)
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or not 2 <= size <= MAX_IMPORT_SIDE):
        return f"image_size is {size!r}"
    if not isinstance(held_out, (int, float)) or isinstance(held_out, bool) or not 0 < held_out < 1:
        return f"held_out is {held_out!r}, not a share between 0 and 1"
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        return f"seed is {seed!r}"
    if photo not in (False, True, "auto"):
        return f"photo is {photo!r}"
    return None


def shape_problem(shapes: dict, expected: dict) -> str | None:
    """What differs between parameter shapes (name -> shape) and the ``expected`` ones, or None."""
    for name, shape in expected.items():
        if name not in shapes:
            return f"parameter {name!r} of the configuration is missing"
        if tuple(shapes[name]) != tuple(shape):
            return (f"parameter {name!r} has shape {tuple(shapes[name])}, the run's configuration gives "
                    f"{tuple(shape)}")
    extra = sorted(set(shapes) - set(expected))
    if extra:
        return f"parameter {extra[0]!r} is not in the run's configuration"
    return None


def _npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """name -> shape of each array in an .npz, from the .npy headers only."""
    shapes = {}
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            with zf.open(member) as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, _ = read_header(handle)
            shapes[member.removesuffix(".npy")] = shape
    return shapes


class RunStore:
    """The run folders under ``root`` (default ``runs_root()``)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else runs_root()

    def new_folder(self, name: str) -> Path:
        """A folder for a new run (not created): its date and time, then ``name`` in letters,
        digits and dashes; "-2", "-3"... when taken."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:40] or "run"
        stem = f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{slug}"
        candidate, n = stem, 1
        while (self.root / candidate).exists():
            n += 1
            candidate = f"{stem}-{n}"
        return self.root / candidate

    def list(self) -> list[StoredRun]:
        """Every run folder, oldest first; never loads a checkpoint."""
        runs = []
        try:
            entries = [e for e in os.scandir(self.root) if e.is_dir(follow_symlinks=False)
                       and not e.name.startswith(".")]
        except OSError:
            return []
        for entry in entries:
            runs.append(self.get(entry.name))
        return sorted(runs, key=lambda r: (r.created, r.id))

    def get(self, run_id: str) -> StoredRun:
        return StoredRun.read(run_id, self._folder(run_id))

    def _folder(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not run_id or run_id in (".", "..") or "/" in run_id \
                or "\\" in run_id or "\0" in run_id:
            raise RunStoreError(f"{run_id!r} is not a run id")
        return self.root / run_id

    def _existing(self, run_id: str) -> Path:
        folder = self._folder(run_id)
        try:
            mode = os.lstat(folder).st_mode
        except OSError:
            raise RunStoreError(f"there is no run {run_id!r} in {self.root}") from None
        if not stat.S_ISDIR(mode):
            raise RunStoreError(f"{folder} is not a run folder")
        return folder

    def rename(self, run_id: str, name: str) -> StoredRun:
        """Give the run a new display name (its folder keeps its id)."""
        folder = self._existing(run_id)
        name = str(name).strip()
        if not name:
            raise RunStoreError("a run's name cannot be empty")
        run = self.get(run_id)
        if not run.info:
            raise RunStoreError(f"{folder / 'run.json'} cannot be read, so the run cannot be renamed")
        version = run.info.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunStoreError(f"{run_id} was made by a newer scratchnet; update it to rename the run")
        info = dict(run.info, name=name)
        data = json.dumps(info, indent=1).encode()
        try:
            write_atomically(folder / "run.json", lambda handle: handle.write(data))
        except ScratchnetError as exc:
            raise RunStoreError(str(exc)) from None
        return self.get(run_id)

    def delete(self, run_id: str) -> None:
        folder = self._existing(run_id)
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            raise RunStoreError(f"cannot delete {folder}: {os_reason(exc)}") from None

    def total_size(self) -> int:
        return sum(run.size_bytes for run in self.list())

    def cleanup_plan(self, limit_bytes: int) -> list[str]:
        """The ids to delete, oldest first, to bring the library to ``limit_bytes`` or under
        (runs still being written are left out). The caller asks before deleting them."""
        runs = self.list()
        total = sum(run.size_bytes for run in runs)
        plan = []
        for run in runs:
            if total <= limit_bytes:
                break
            if run.status == "running" and _alive(run.info):
                continue
            plan.append(run.id)
            total -= run.size_bytes
        return plan

    def export_zip(self, run_id: str, path: str | os.PathLike) -> Path:
        """Write the run's folder (temporary files left out) to the zip ``path``, under its id."""
        folder = self._existing(run_id)
        real = folder.resolve()

        def write(handle) -> None:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
                for file in sorted(folder.rglob("*")):
                    inside = file.resolve().is_relative_to(real)  # no file reached through a link
                    if inside and file.is_file() and not file.is_symlink() and not _TMP.search(file.name):
                        zf.write(file, f"{run_id}/{file.relative_to(folder).as_posix()}")

        try:
            write_atomically(path, write)
        except ScratchnetError as exc:
            raise RunStoreError(str(exc)) from None
        return Path(path)

    def import_zip(self, path: str | os.PathLike, *, max_files: int = MAX_ZIP_FILES,
                   max_bytes: int = MAX_ZIP_BYTES) -> StoredRun:
        """Unpack a run exported by ``export_zip`` into the library; returns it. Refuses with a
        ``RunStoreError`` a zip that is not one run folder: absolute or ``..`` paths, links,
        more than ``max_files`` files, more than ``max_bytes`` unpacked, files that are not a
        run's (run.json, curves.jsonl, curves.csv, checkpoints/*.npz, spill/*.npz), or that as a
        whole compresses more than a run's files can (a zip bomb, even of many small entries)."""
        try:
            zf = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise RunStoreError(f"{path}: no such file") from None
        except (OSError, zipfile.BadZipFile) as exc:
            raise RunStoreError(f"{path}: not a zip file ({exc})") from None
        with zf:
            members = zf.infolist()
            top = _check_members(path, members, max_files, max_bytes)
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=".import-", dir=self.root))
            except OSError as exc:
                raise RunStoreError(f"cannot import {path} into {self.root}: {os_reason(exc)}") from None
            try:
                for member in members:
                    if member.is_dir():
                        continue
                    relative = member.filename[len(top) + 1:] if top else member.filename
                    target = staging.joinpath(*relative.split("/"))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _extract(zf, member, target, path)
                if not (staging / "run.json").is_file():
                    raise RunStoreError(f"{path}: not an exported run (no run.json)")
                run_id = self._free_id(top or Path(path).stem)
                os.replace(staging, self.root / run_id)
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise RunStoreError(f"{path}: the zip is damaged ({exc})") from None
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise RunStoreError(f"cannot import {path} into {self.root}: {os_reason(exc)}") from None
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return self.get(run_id)

    def _free_id(self, wanted: str) -> str:
        wanted = re.sub(r"[^A-Za-z0-9._-]+", "-", wanted).strip(".-") or "imported"
        candidate, n = wanted, 1
        while (self.root / candidate).exists():
            n += 1
            candidate = f"{wanted}-{n}"
        return candidate


def _check_members(path, members: list[zipfile.ZipInfo], max_files: int, max_bytes: int) -> str:
    """The zip's top folder ("" when the files sit at its root), after checking every entry."""
    if len(members) > max_files:
        raise RunStoreError(f"{path}: {len(members):,} entries, more than a run holds ({max_files:,} at most)")
    total = packed = 0
    tops = set()
    for member in members:
        name = member.filename
        parts = name.rstrip("/").split("/")
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\\" in name:
            raise RunStoreError(f"{path}: entry {name!r} points outside the run's folder")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise RunStoreError(f"{path}: entry {name!r} is a symbolic link")
        total += member.file_size
        packed += member.compress_size
        if total > max_bytes:
            raise RunStoreError(f"{path}: unpacks to more than {max_bytes / 2**30:g} GB")
        if len(parts) > 1:
            tops.add(parts[0])
        elif not member.is_dir():
            tops.add("")
        else:
            tops.add(parts[0])
    if len(tops) > 1:
        raise RunStoreError(f"{path}: holds more than one folder; export one run per zip")
    top = tops.pop() if tops else ""
    if total > 1 << 20 and total > MAX_ZIP_RATIO * max(packed, 1):
        raise RunStoreError(f"{path}: expands {total / max(packed, 1):,.0f} times: a zip bomb, not a run")
    for member in members:
        relative = member.filename[len(top) + 1:] if top else member.filename
        if member.is_dir():
            if relative.rstrip("/") not in ("", "checkpoints", "spill"):
                raise RunStoreError(f"{path}: folder {member.filename!r} is not part of a run")
        elif not (relative in _RUN_FILES or _ZIP_CHECKPOINT.fullmatch(relative)):
            raise RunStoreError(f"{path}: entry {member.filename!r} is not part of a run (run.json, curves.jsonl, "
                                "curves.csv, checkpoints/*.npz)")
    return top


def _extract(zf: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, path) -> None:
    """Copy one entry, never writing more bytes than its header declares."""
    written = 0
    with zf.open(member) as source, open(target, "wb") as out:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > member.file_size:
                raise RunStoreError(f"{path}: entry {member.filename!r} holds more than it declares")
            out.write(chunk)


def _folder_size(folder: Path) -> tuple[int, list[str]]:
    """Bytes in the folder's files (in every subfolder; links not followed) and the names of
    leftover temporary files."""
    total = 0
    leftovers = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    continue
                total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            if _TMP.search(entry.name):
                leftovers.append(entry.name)
    return total, leftovers


def _alive(info: dict) -> bool:
    """Whether the process that writes a "running" run is still there (on this machine)."""
    pid = info.get("pid")
    if not isinstance(pid, int) or info.get("host") != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
