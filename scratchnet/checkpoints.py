"""Checkpoints: everything a run needs to go on from a point exactly as it would have gone on.

A ``Checkpoint`` holds the weights (``Sequential.state_dict`` names), the optimiser's state (its
per-parameter buffers and step count), the state of every random generator the loop draws from
(the loop's own, which shuffles and augments, then each distinct Dropout generator, in the order
``scratchnet.training.run_generators`` lists them), and where in the run it was taken. Taken
in the middle of an epoch it also holds ``epoch_state``: the loop generator's state before that
epoch's shuffle (to draw the same order again) and the epoch's running loss, accuracy and time,
so that even a mid-epoch resume gives the same epoch log.

- ``capture`` / ``restore``: copy into a checkpoint and back into a model, optimiser and generators.
- ``save_checkpoint`` / ``load_checkpoint``: one ``.npz`` of arrays plus a JSON string, written
  atomically and read with ``allow_pickle=False``.
- ``checkpoint_updates``: at which updates a run of a given length keeps one.
- ``CheckpointMemory``: all runs' checkpoints in one memory budget, the oldest spilled to disk.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ScratchnetError
from .files import write_atomically

FORMAT_VERSION = 1
MID_RUN_EPOCHS = 10  # runs shorter than this also keep checkpoints inside their epochs
DEFAULT_COUNT = 20
DEFAULT_BUDGET = 200 * 2**20


class CheckpointError(ScratchnetError, ValueError):
    """A checkpoint file that cannot be used; the message starts with its path."""


@dataclass
class Checkpoint:
    """The state of a run after ``update`` updates (``epoch`` epochs completed)."""

    epoch: int
    update: int
    samples_seen: int
    seconds: float
    params: dict[str, np.ndarray]
    optimizer_state: dict = field(default_factory=dict)
    """"steps" (int), "name" (the optimiser's kind) and one array per buffer under
    "<param>/<buffer>" (e.g. "0.W/exp_avg")."""
    rng_state: dict = field(default_factory=dict)
    """"0", "1", ...: JSON-able ``bit_generator.state`` of each generator, in ``run_generators`` order."""
    lr: float = math.nan
    epoch_state: dict | None = None
    """Only mid-epoch: "order_rng" (the loop generator before the epoch's shuffle), "samples"
    (the epoch's samples done), "loss_sum", "correct", "updates", "seconds"."""

    @property
    def nbytes(self) -> int:
        arrays = [*self.params.values(), *(v for v in self.optimizer_state.values() if isinstance(v, np.ndarray))]
        return sum(a.nbytes for a in arrays) + 1024

    @property
    def mid_epoch(self) -> bool:
        return self.epoch_state is not None

    def position(self) -> tuple[int, int, int]:
        return self.epoch, self.update, self.samples_seen


def capture(model, optimizer, generators: Sequence[np.random.Generator], *, epoch: int, update: int,
            samples_seen: int, seconds: float, epoch_state: dict | None = None) -> Checkpoint:
    """A checkpoint of the run now: copies of the weights, of the optimiser's buffers and of the
    generators' states."""
    state: dict = {"steps": int(optimizer.steps), "name": optimizer.get_config()["name"]}
    for name, slot in optimizer.state.items():
        for key, value in slot.items():
            state[f"{name}/{key}"] = value.copy()
    return Checkpoint(
        epoch=int(epoch), update=int(update), samples_seen=int(samples_seen), seconds=float(seconds),
        params=model.state_dict(), optimizer_state=state,
        rng_state={str(i): copy.deepcopy(g.bit_generator.state) for i, g in enumerate(generators)},
        lr=float(optimizer.lr), epoch_state=copy.deepcopy(epoch_state),
    )


def restore(checkpoint: Checkpoint, model, optimizer, generators: Sequence[np.random.Generator]) -> None:
    """Put ``checkpoint`` back into ``model``, ``optimizer`` and ``generators``.

    The optimiser's state comes back when the optimiser is of the checkpoint's kind; an optimiser
    of another kind (a fork that changes it) starts with fresh state. Everything is checked
    before anything changes; a ValueError names the parameter or generator that does not match.
    """
    params = model.parameters()
    missing = sorted(set(params) - set(checkpoint.params))
    extra = sorted(set(checkpoint.params) - set(params))
    if missing:
        raise ValueError(f"the checkpoint has no parameter {missing[0]!r}")
    if extra:
        raise ValueError(f"the checkpoint has parameter {extra[0]!r}, which the model lacks")
    for name, target in params.items():
        value = checkpoint.params[name]
        if value.shape != target.shape:
            raise ValueError(f"parameter {name!r} has shape {value.shape} in the checkpoint, "
                             f"the model expects {target.shape}")
    same_kind = checkpoint.optimizer_state.get("name") == optimizer.get_config()["name"]
    buffers: dict[str, dict[str, np.ndarray]] = {}
    if same_kind:
        for key, value in checkpoint.optimizer_state.items():
            if not isinstance(value, np.ndarray):
                continue
            name, _, buffer = key.rpartition("/")
            if name not in params or value.shape != params[name].shape:
                raise ValueError(f"optimiser state {key!r} does not match the model's parameters")
            buffers.setdefault(name, {})[buffer] = value.astype(params[name].dtype, copy=True)
    if len(checkpoint.rng_state) != len(generators):
        raise ValueError(f"the checkpoint has {len(checkpoint.rng_state)} random generators, "
                         f"the run has {len(generators)}")
    for i, g in enumerate(generators):
        state = checkpoint.rng_state.get(str(i))
        if not isinstance(state, dict) or state.get("bit_generator") != g.bit_generator.state["bit_generator"]:
            raise ValueError(f"random generator {i} of the checkpoint does not match the run's")
    for name, target in params.items():
        target[...] = checkpoint.params[name]
    if same_kind:
        optimizer.state = buffers
        optimizer.steps = int(checkpoint.optimizer_state.get("steps", 0))
    else:
        optimizer.state = {}
        optimizer.steps = 0
    for i, g in enumerate(generators):
        g.bit_generator.state = copy.deepcopy(checkpoint.rng_state[str(i)])


# ---------------------------------------------------------------------------------- files

_META = "checkpoint.json"


def _meta(ckpt: Checkpoint) -> dict:
    return {
        "format_version": FORMAT_VERSION, "epoch": ckpt.epoch, "update": ckpt.update,
        "samples_seen": ckpt.samples_seen, "seconds": ckpt.seconds, "lr": ckpt.lr,
        "optimizer": {k: v for k, v in ckpt.optimizer_state.items() if not isinstance(v, np.ndarray)},
        "rng_state": ckpt.rng_state, "epoch_state": ckpt.epoch_state,
        "params": list(ckpt.params), "buffers": [k for k, v in ckpt.optimizer_state.items()
                                                 if isinstance(v, np.ndarray)],
    }


def checkpoint_bytes(ckpt: Checkpoint) -> bytes:
    """The checkpoint as the bytes of an .npz: "param/<name>" and "opt/<key>" arrays plus the
    JSON string "checkpoint.json" (positions, generator states, optimiser name and steps)."""
    arrays = {f"param/{k}": v for k, v in ckpt.params.items()}
    arrays |= {f"opt/{k}": v for k, v in ckpt.optimizer_state.items() if isinstance(v, np.ndarray)}
    arrays[_META] = np.array(json.dumps(_meta(ckpt), allow_nan=True))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def save_checkpoint(ckpt: Checkpoint, path: str | os.PathLike) -> None:
    """Write ``ckpt`` to ``path`` (.npz) through a temporary file and a rename: a reader sees
    the old file or the new one, never half of one. Raises ``SaveError`` naming ``path``."""
    data = checkpoint_bytes(ckpt)
    write_atomically(path, lambda handle: handle.write(data))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``. Raises ``CheckpointError(f"{path}:
    {problem}")`` for a missing, truncated or corrupt file, a missing array or a newer format."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                raise CheckpointError(f"{path}: not an .npz file, it is cut short or corrupt")
        with np.load(path, allow_pickle=False) as data:
            names = set(data.files)
            if _META not in names:
                raise CheckpointError(f"{path}: not a scratchnet checkpoint (no {_META})")
            meta = json.loads(str(data[_META][()]))
            if not isinstance(meta, dict):
                raise CheckpointError(f"{path}: {_META} is not a JSON object")
            version = meta.get("format_version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise CheckpointError(f"{path}: format version {version!r} is newer than this scratchnet "
                                      f"reads ({FORMAT_VERSION}); update scratchnet")
            params = {}
            for name in meta["params"]:
                if f"param/{name}" not in names:
                    raise CheckpointError(f"{path}: the array of parameter {name!r} is missing")
                params[name] = data[f"param/{name}"]
            optimizer_state = dict(meta.get("optimizer") or {})
            for key in meta.get("buffers", []):
                if f"opt/{key}" not in names:
                    raise CheckpointError(f"{path}: the optimiser array {key!r} is missing")
                optimizer_state[key] = data[f"opt/{key}"]
            for name, value in [*params.items(), *optimizer_state.items()]:
                if isinstance(value, np.ndarray) and value.dtype.kind != "f":
                    raise CheckpointError(f"{path}: array {name!r} holds {value.dtype}, not floats")
            problem = _meta_problem(meta, Path(path).name)
            if problem:
                raise CheckpointError(f"{path}: {problem}")
            return Checkpoint(
                epoch=int(meta["epoch"]), update=int(meta["update"]), samples_seen=int(meta["samples_seen"]),
                seconds=float(meta["seconds"]), params=params, optimizer_state=optimizer_state,
                rng_state=dict(meta["rng_state"]), lr=float(meta.get("lr", math.nan)),
                epoch_state=meta.get("epoch_state"),
            )
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: cannot be read, it is cut short or corrupt ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(f"{path}: not a valid checkpoint ({what})") from None


_NAME = re.compile(r"e(\d+)-u(\d+)-s(\d+)(-mid)?\.npz")
_EPOCH_STATE = {"order_rng": dict, "samples": int, "loss_sum": float, "correct": int, "updates": int,
                "seconds": float}


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rng_problem(state) -> str | None:
    """What is wrong with a generator's saved state (tried on a scratch generator), or None."""
    if not isinstance(state, dict) or not isinstance(state.get("bit_generator"), str):
        return "is not a generator's state"
    kind = getattr(np.random, state["bit_generator"], None)
    if not isinstance(kind, type) or not issubclass(kind, np.random.BitGenerator):
        return f"names no known generator ({state['bit_generator']!r})"
    try:
        kind().state = copy.deepcopy(state)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        return f"is not a valid {state['bit_generator']} state ({exc})"
    return None


def _meta_problem(meta: dict, filename: str) -> str | None:
    """What is wrong with a checkpoint's JSON (positions, generators, optimiser, epoch state),
    or None: everything ``restore`` and the training loop will use is checked here, so a
    damaged file is named instead of failing later."""
    for key in ("epoch", "update", "samples_seen"):
        if not _count(meta.get(key)):
            return f"{key} is {meta.get(key)!r}, not a count"
    if not _number(meta.get("seconds")) or not _number(meta.get("lr", math.nan)):
        return "seconds and lr must be numbers"
    m = _NAME.fullmatch(filename)
    if m and (int(m[1]), int(m[2]), int(m[3])) != (meta["epoch"], meta["update"], meta["samples_seen"]):
        return (f"its name says epoch {int(m[1])}, update {int(m[2])}, but it holds epoch {meta['epoch']}, "
                f"update {meta['update']}")
    optimizer = meta.get("optimizer") or {}
    if not isinstance(optimizer, dict):
        return "the optimiser's state is not a JSON object"
    if "steps" in optimizer and not _count(optimizer["steps"]):
        return f"the optimiser's steps is {optimizer['steps']!r}, not a count"
    rng = meta.get("rng_state")
    if not isinstance(rng, dict):
        return "rng_state is not a JSON object"
    for key, state in rng.items():
        if problem := _rng_problem(state):
            return f"random generator {key} {problem}"
    epoch_state = meta.get("epoch_state")
    if epoch_state is not None:
        if not isinstance(epoch_state, dict):
            return "epoch_state is not a JSON object"
        for key, kind in _EPOCH_STATE.items():
            value = epoch_state.get(key)
            ok = _number(value) if kind is float else _count(value) if kind is int else isinstance(value, kind)
            if not ok:
                return f"epoch_state {key} is {value!r}"
        if problem := _rng_problem(epoch_state["order_rng"]):
            return f"epoch_state order_rng {problem}"
    return None


# ------------------------------------------------------------------------------- schedule

def checkpoint_updates(epochs: int, updates_per_epoch: int, count: int = DEFAULT_COUNT) -> list[int]:
    """The updates (counted from the run's start) after which a run keeps a checkpoint: 0 (the
    initial weights), every epoch's end, and for runs of fewer than 10 epochs about ``count``
    more spread evenly through the run (0: epoch ends only)."""
    total = epochs * updates_per_epoch
    marks = {0, *range(updates_per_epoch, total + 1, updates_per_epoch)}
    if epochs < MID_RUN_EPOCHS and count > 0:
        marks.update(round(total * i / (count + 1)) for i in range(1, count + 1))
    return sorted(marks)


# --------------------------------------------------------------------------------- memory

class CheckpointMemory:
    """Every run's checkpoints in one budget of ``budget_bytes``.

    ``add`` keeps a checkpoint in memory; when all the runs' checkpoints together pass the
    budget, the oldest added are spilled: written to their run's ``spill_dir`` (as
    ``spill-<update>.npz``; one added with ``saved=`` its file on disk, e.g. the one
    ``RunWriter`` wrote, is not written again) and read back by ``get``, or, for a run without
    a spill folder,
    dropped, unless it is an epoch end (epoch ends stay: a run always keeps those, so when they
    cannot be written, e.g. the disk is full, memory may pass the budget by those). ``get``
    never adds a read-back checkpoint to memory, so scrubbing through spilled checkpoints
    keeps memory where it was. Its methods may be called from several threads (a training
    worker adds while the window gets).
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET) -> None:
        self._lock = threading.RLock()
        self.budget_bytes = int(budget_bytes)
        self._runs: dict[object, list[_Slot]] = {}
        self._in_memory: OrderedDict[int, _Slot] = OrderedDict()  # id(slot) -> slot, oldest first
        self.nbytes = 0

    def add(self, run_key, ckpt: Checkpoint, spill_dir: str | os.PathLike | None = None, *,
            saved: str | os.PathLike | None = None) -> None:
        """Keep ``ckpt`` as the run's next checkpoint; ``saved``: a file that already holds it."""
        slot = _Slot(ckpt, Path(spill_dir) if spill_dir is not None else None)
        slot.saved = Path(saved) if saved is not None else None
        with self._lock:
            self._runs.setdefault(run_key, []).append(slot)
            self._in_memory[id(slot)] = slot
            self.nbytes += slot.nbytes
            self._fit(keep=slot)

    def get(self, run_key, index: int) -> Checkpoint:
        """The ``index``-th checkpoint of the run (in the order of ``list``)."""
        with self._lock:
            slot = self._runs[run_key][index]
            ckpt, path = slot.ckpt, slot.path
        return ckpt if ckpt is not None else load_checkpoint(path)

    def list(self, run_key) -> list[tuple[int, int, int]]:
        """(epoch, update, samples_seen) of each checkpoint the run keeps, in the order added."""
        with self._lock:
            return [slot.position for slot in self._runs.get(run_key, [])]

    def drop(self, run_key) -> None:
        with self._lock:
            for slot in self._runs.pop(run_key, []):
                if self._in_memory.pop(id(slot), None) is not None:
                    self.nbytes -= slot.nbytes

    def runs(self) -> list:
        with self._lock:
            return list(self._runs)

    def _fit(self, keep: _Slot) -> None:
        for key in list(self._in_memory):
            if self.nbytes <= self.budget_bytes:
                return
            slot = self._in_memory[key]
            if slot is keep:
                continue
            if (slot.spill_dir is not None or slot.saved is not None) and slot.spill():
                pass
            elif slot.ckpt.mid_epoch:
                # no place on disk (or the write failed): the mid-epoch point is forgotten
                for slots in self._runs.values():
                    if slot in slots:
                        slots.remove(slot)
            else:
                continue  # an epoch end that cannot be spilled stays in memory
            del self._in_memory[key]
            self.nbytes -= slot.nbytes


class _Slot:
    def __init__(self, ckpt: Checkpoint, spill_dir: Path | None) -> None:
        self.ckpt: Checkpoint | None = ckpt
        self.position = ckpt.position()
        self.nbytes = ckpt.nbytes
        self.spill_dir = spill_dir
        self.path: Path | None = None
        self.saved: Path | None = None

    def spill(self) -> bool:
        if self.saved is not None and self.saved.is_file():
            self.path = self.saved
            self.ckpt = None
            return True
        if self.spill_dir is None:
            return False
        try:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            path = self.spill_dir / f"spill-{self.ckpt.update:09d}.npz"
            save_checkpoint(self.ckpt, path)
        except (OSError, ScratchnetError):
            return False
        self.path = path  # first: get() reads ckpt, then path
        self.ckpt = None
        return True
