"""One training run's history, as the plots and the runs list need it.

Per-update losses are kept with a stride that doubles whenever the buffer fills, so memory
stays flat however long the run (at most ``capacity`` points). Anchors (update, samples seen,
training seconds), one per batch log, map an update number to samples and seconds.

A run also keeps the learning rates the user set while it trained (``lr_changes``), where it
diverged, and the run it continues (``parent``): its curves then start where the parent's end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scratchnet.control import RateChange

from .settings import RunSpec

X_UNITS = ("epochs", "samples", "seconds")
DESCENT_LABELS = {"full": "Full batch", "mini": "Mini-batch", "sgd": "Stochastic"}
OPTIMIZER_LABELS = {
    "sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "rmsprop": "RMSProp", "adam": "Adam",
}
EPOCH_KEYS = ("loss", "accuracy", "test_loss", "test_accuracy")


class Columns:
    """A growable float64 table of ``width`` columns; ``view()`` is (n, width)."""

    def __init__(self, width: int, capacity: int = 256) -> None:
        self._data = np.empty((capacity, width))
        self._n = 0

    def append(self, rows: np.ndarray) -> None:
        rows = np.atleast_2d(rows)
        need = self._n + len(rows)
        if need > len(self._data):
            grown = np.empty((max(need, 2 * len(self._data)), self._data.shape[1]))
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = rows
        self._n = need

    def keep_rows(self, mask: np.ndarray) -> None:
        kept = self._data[: self._n][mask]
        self._n = len(kept)
        self._data[: self._n] = kept

    def view(self) -> np.ndarray:
        return self._data[: self._n]

    def __len__(self) -> int:
        return self._n


class UpdateTrace:
    """(update number, loss) pairs, every ``stride``-th update, at most ``capacity`` of them."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.stride = 1
        self._points = Columns(2)

    def add(self, first_update: int, losses: np.ndarray) -> None:
        """``losses[i]`` is the loss of update ``first_update + 1 + i`` (updates count from 1)."""
        updates = np.arange(first_update + 1, first_update + 1 + len(losses))
        keep = updates % self.stride == 0
        self._points.append(np.column_stack([updates[keep], losses[keep]]))
        while len(self._points) > self.capacity:
            self.stride *= 2
            self._points.keep_rows(self._points.view()[:, 0] % self.stride == 0)

    def view(self) -> np.ndarray:
        """(n, 2): update number, loss."""
        return self._points.view()


@dataclass
class RunRecord:
    """A run: its settings, what the loop reported, and how it ended."""

    run_id: int
    spec: RunSpec
    n_train: int = 0
    batch_size: int = 0
    updates_per_epoch: int = 1
    trace: UpdateTrace = field(default_factory=UpdateTrace)
    anchors: Columns = field(default_factory=lambda: Columns(3))  # update, samples, seconds
    epochs: list[dict] = field(default_factory=list)
    result: dict | None = None
    status: str = "running"
    error: str = ""
    diverged_at: int = 0  # the update whose loss was not finite
    lr_changes: list[RateChange] = field(default_factory=list)
    parent: RunRecord | None = None  # the run whose weights this one continued from
    # a fork (issue 16): the run and checkpoint it went on from, numbered as that run (its logs
    # count epochs, updates and samples from the parent's start, so it is drawn on the same axes)
    fork_of: RunRecord | None = None
    fork_point: tuple[int, int, int, float] | None = None  # epoch, update, samples_seen, seconds
    spill_dir: Path | None = None  # where its checkpoints beyond the memory budget go
    stored: object | None = None  # its ``StoredRun``, for a run of an earlier session read from the library
    stored_id: str = ""  # its folder's name in the run library ("" when not saved)
    name: str = ""  # its name in the run library
    curves_loaded: bool = True  # False for a stored run until its curves.jsonl is read

    def __post_init__(self) -> None:
        self.anchors.append(np.zeros(3))

    def fork_from(self, parent: RunRecord, checkpoint) -> None:
        """This run goes on from ``checkpoint`` of ``parent``: its curves start there."""
        self.fork_of = parent
        self.fork_point = (checkpoint.epoch, checkpoint.update, checkpoint.samples_seen, float(checkpoint.seconds))
        self.anchors.view()[0] = [checkpoint.update, checkpoint.samples_seen, checkpoint.seconds]

    @property
    def seconds_offset(self) -> float:
        """A fork's training seconds before its first update (its parent's up to the fork)."""
        return self.fork_point[3] if self.fork_point is not None else 0.0

    # ---- what the worker reported
    def on_start(self, log: dict) -> None:
        self.n_train = log["n_train"]
        self.batch_size = log["batch_size"]
        self.updates_per_epoch = log["updates_per_epoch"]
        if log.get("first_update"):  # resumed: the curves go on from where the checkpoint was
            self.anchors.view()[0] = [log["first_update"], log.get("samples_seen", 0), log.get("seconds", 0.0)]

    def on_batch(self, log: dict) -> None:
        self.trace.add(log["first_update"], log["losses"])
        self.anchors.append(np.array([log["update"], log["samples_seen"], log["seconds"]]))

    def on_epoch(self, log: dict) -> None:
        self.epochs.append({k: v for k, v in log.items() if k != "model"})
        # the batch log that closes an epoch can overstate its seconds (it is taken after the
        # epoch's time is added up); the epoch log's own figure is the reference
        anchors = self.anchors.view()
        if anchors[-1, 0] == log["update"]:
            anchors[-1, 2] = self.training_seconds_at_epochs()[-1]

    def training_seconds_at_epochs(self) -> np.ndarray:
        """Cumulative training seconds at the end of each epoch so far (a fork's from its
        parent's start)."""
        return self.seconds_offset + np.cumsum([e["seconds"] for e in self.epochs])

    @property
    def training_seconds(self) -> float:
        """Training seconds up to the latest report."""
        return float(self.anchors.view()[-1, 2])

    def on_done(self, log: dict) -> None:
        self.result = {k: v for k, v in log.items() if k != "model"}
        self.status = "stopped" if log["stopped"] else "finished"

    def on_failed(self, message: str) -> None:
        self.status = "failed"
        self.error = message

    def on_diverged(self, info: dict) -> None:
        """The worker's ``diverged`` report: the losses up to the non-finite one join the trace."""
        losses = info["losses"]
        self.trace.add(info["first_update"], losses)
        self.diverged_at = info["first_update"] + len(losses)
        last = self.anchors.view()[-1]
        samples = last[1] + (self.diverged_at - last[0]) * self.batch_size
        self.anchors.append(np.array([self.diverged_at, min(samples, self.spec.config.epochs * self.n_train), last[2]]))
        self.status = "diverged"
        self.error = info["message"]

    # ---- curves
    def update_curve(self, unit: str) -> tuple[np.ndarray, np.ndarray]:
        """x (in ``unit``) and loss of the kept per-update points (of a diverged run, the finite
        ones: ``divergence_point`` marks the blow-up)."""
        points = self.update_points()
        return self.update_x(points[:, 0], unit), points[:, 1]

    def update_points(self) -> np.ndarray:
        """(n, 2): update number and loss of the kept per-update points; of a diverged run, the
        finite ones."""
        points = self.trace.view()
        return points[np.isfinite(points[:, 1])] if self.diverged_at else points

    def divergence_point(self, unit: str) -> tuple[float, float] | None:
        """Where a diverged run's loss curve ends (x in ``unit``, last finite loss), else None."""
        if not self.diverged_at:
            return None
        x, losses = self.update_curve(unit)
        last_loss = float(losses[-1]) if len(losses) else 0.0
        return float(self.update_x(np.array([self.diverged_at]), unit)[0]), last_loss

    def epoch_curve(self, key: str, unit: str) -> tuple[np.ndarray, np.ndarray]:
        """x (in ``unit``) and ``key`` ("loss", "test_accuracy", ...) of each epoch log (empty when
        the logs lack ``key``: "train_eval_accuracy" of a run that did not measure it)."""
        if not self.epochs or key not in self.epochs[0]:
            return np.zeros(0), np.zeros(0)
        values = np.array([e[key] for e in self.epochs], dtype=float)
        if unit == "samples":
            x = np.array([e["samples_seen"] for e in self.epochs], dtype=float)
        elif unit == "seconds":
            x = self.training_seconds_at_epochs()
        else:
            x = np.array([e["update"] / self.updates_per_epoch for e in self.epochs], dtype=float)
        return self.start(unit) + x, values

    def planned_extent(self, unit: str) -> float:
        """Where the x axis ends when the run completes, if known in advance (else 0; a diverged
        run ended early: its data say where)."""
        if self.status == "diverged":
            return 0.0
        if unit == "epochs":
            return self.start(unit) + self.spec.config.epochs
        if unit == "samples":
            return self.start(unit) + self.spec.config.epochs * self.n_train
        return 0.0

    def start(self, unit: str) -> float:
        """Where this run's curves begin: 0, or where the run it continues ended."""
        return self.parent.end(unit) if self.parent is not None else 0.0

    def end(self, unit: str) -> float:
        """Where this run's curves end so far (x in ``unit``)."""
        last = self.anchors.view()[-1, 0]
        return float(self.update_x(np.array([last]), unit)[0])

    def update_x(self, updates: np.ndarray, unit: str) -> np.ndarray:
        """x (in ``unit``) of update numbers of this run."""
        if unit == "epochs":
            return self.start(unit) + updates / self.updates_per_epoch
        if unit == "samples" and self.fork_of is None and self.batch_size > 0:
            # exact, also across an epoch's short last batch (between two anchors an epoch end
            # would bend a straight line); a fork may have changed the batch size: its anchors say
            epochs, within = np.divmod(np.asarray(updates, dtype=float), self.updates_per_epoch)
            return self.start(unit) + epochs * self.n_train + np.minimum(within * self.batch_size, self.n_train)
        anchors = self.anchors.view()
        column = 1 if unit == "samples" else 2
        return self.start(unit) + np.interp(updates, anchors[:, 0], anchors[:, column])

    # ---- lineage
    def lineage(self) -> list[RunRecord]:
        """The runs whose weights this one grew from, oldest first, then this run."""
        chain = [self]
        while chain[0].parent is not None:
            chain.insert(0, chain[0].parent)
        return chain

    def history_entry(self) -> dict:
        """What a saved model records of this run (JSON): its number and label, the run it
        continues (or None), the epochs it trained and its final test accuracy (None if unknown)."""
        return {
            "run": self.run_id, "label": self.label, "continues": self.parent.run_id if self.parent else None,
            "epochs": len(self.epochs), "status": self.status,
            "test_accuracy": float(self.result["test_accuracy"]) if self.result else None,
        }

    # ---- text
    @property
    def label(self) -> str:
        """The run's name in legends: its number and its label, or its descent."""
        return f"#{self.run_id} {self.spec.label or self.descent_text}"

    @property
    def descent_text(self) -> str:
        config = self.spec.config
        text = DESCENT_LABELS[config.descent]
        return f"{text} {config.batch_size}" if config.descent == "mini" else text

    def architecture_text(self, input_size: int = 784, output_size: int = 10) -> str:
        return "-".join(str(w) for w in self.spec.config.widths(input_size, output_size))

    @property
    def learning_rate_text(self) -> str:
        """"lr 0.05", or with the rates set mid-run: "lr 0.05→0.01→0.02"."""
        rates = [self.spec.config.learning_rate, *(change.lr for change in self.lr_changes)]
        return "lr " + "→".join(f"{lr:g}" for lr in rates)

    def learning_rate_history(self) -> str:
        """Each rate set mid-run, with the update (and epoch) it took effect at; "" when none."""
        return "; ".join(
            f"{change.lr:g} from update {change.update:,} (epoch {(change.update - 1) / self.updates_per_epoch:.2f})"
            for change in self.lr_changes
        )

    @property
    def fork_text(self) -> str:
        """Where a fork went on from: "epoch 3", or mid-epoch "epoch 2.40"."""
        epoch, update, _samples, _seconds = self.fork_point
        if self.updates_per_epoch > 0 and update % self.updates_per_epoch:
            return f"epoch {update / self.updates_per_epoch:.2f}"
        return f"epoch {epoch}"

    @property
    def final_test_accuracy(self) -> float:
        return self.result["test_accuracy"] if self.result else math.nan

    def summary(self) -> str:
        """One line for the runs list."""
        config = self.spec.config
        if self.stored is not None and self.stored.config is None:  # a damaged folder: what is wrong
            return f"#{self.run_id} {self.stored.name} · ⚠ {'; '.join(self.stored.warnings)}"
        parts = [f"#{self.run_id}"]
        if self.spec.label:
            parts.append(self.spec.label)
        parts += [self.descent_text, OPTIMIZER_LABELS[config.optimizer], self.learning_rate_text,
                  self.architecture_text()]
        if self.parent is not None:
            parts.append(f"continues #{self.parent.run_id}")
        if self.fork_of is not None:
            parts.insert(0, "↳")
            parts.append(f"fork of #{self.fork_of.run_id} @ {self.fork_text}")
        if self.result:
            parts.append(f"test {100 * self.result['test_accuracy']:.2f}%")
            parts.append(f"{self.result['seconds']:.1f} s")
        if self.status == "diverged":
            parts.append(f"DIVERGED at update {self.diverged_at:,}")
        elif self.status != "finished":
            parts.append(self.status)
        if self.stored is not None:
            parts.append("saved" if self.curves_loaded else "saved (select to load)")
            if self.stored.warnings:
                parts.append("⚠ " + "; ".join(self.stored.warnings))
        return " · ".join(parts)
