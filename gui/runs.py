"""The runs panel: every finished or stopped run, selectable to overlay, and CSV export."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from . import tooltips
from .plots import X_LABELS, run_color
from .run_record import X_UNITS, RunRecord

# continues_run: the run whose weights this one started from (empty for a fresh start)
CSV_COLUMNS = ("run", "label", "series", "epoch", "update", "samples_seen", "seconds", "value", "continues_run")


class RunsPanel(QWidget):
    """``selection_changed(list)`` carries the selected RunRecords; ``x_unit_changed(str)`` the axis."""

    selection_changed = Signal(list)
    x_unit_changed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("runsList")
        self.list.setMinimumHeight(2 * self.list.fontMetrics().height() + 8)  # two runs, then it scrolls
        self.list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.list.setToolTip(tooltips.RUNS)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.ElideMiddle)
        self.list.itemSelectionChanged.connect(self._on_selection)
        self.x_axis_combo = QComboBox()
        self.x_axis_combo.setObjectName("xAxisCombo")
        self.x_axis_combo.setToolTip(tooltips.X_AXIS)
        for unit in X_UNITS:
            self.x_axis_combo.addItem(X_LABELS[unit], unit)
        self.x_axis_combo.currentIndexChanged.connect(
            lambda _index: self.x_unit_changed.emit(self.x_axis_combo.currentData())
        )
        self.remove_button = QPushButton("Remove run")
        self.remove_button.setObjectName("removeRunButton")
        self.remove_button.setToolTip("Forget the selected runs.")
        self.remove_button.clicked.connect(self.remove_selected)
        self.details = QLabel("Runs appear here when they finish or are stopped.")
        self.details.setObjectName("runDetailsLabel")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)

        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Runs</b> (select several to overlay)"))
        header.addStretch(1)
        header.addWidget(QLabel("x axis:"))
        header.addWidget(self.x_axis_combo)
        header.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        body = QHBoxLayout()
        body.addWidget(self.list, 5)
        body.addWidget(self.details, 3, Qt.AlignTop)
        layout.addLayout(body)
        self._runs: dict[int, RunRecord] = {}

    @property
    def runs(self) -> list[RunRecord]:
        return list(self._runs.values())

    def add_run(self, run: RunRecord) -> None:
        self._runs[run.run_id] = run
        item = QListWidgetItem(run.summary())
        item.setData(Qt.UserRole, run.run_id)
        item.setForeground(QColor(run_color(run)))
        item.setToolTip(_details(run))
        self.list.addItem(item)

    def update_run(self, run: RunRecord) -> None:
        """Show ``run``'s summary again (renamed, its stored curves read, linked to its parent)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.UserRole) == run.run_id:
                item.setText(run.summary())
                item.setToolTip(_details(run))

    def remove_runs(self, runs: list[RunRecord]) -> None:
        """Forget ``runs`` (deleted from the run library)."""
        ids = {run.run_id for run in runs}
        for row in range(self.list.count() - 1, -1, -1):
            if self.list.item(row).data(Qt.UserRole) in ids:
                self._runs.pop(self.list.item(row).data(Qt.UserRole), None)
                self.list.takeItem(row)
        self._on_selection()

    def select(self, run_ids: list[int]) -> None:
        """Select exactly these runs (and so overlay them)."""
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setSelected(item.data(Qt.UserRole) in run_ids)
        self.list.blockSignals(False)
        self._on_selection()

    def selected_runs(self) -> list[RunRecord]:
        ids = {item.data(Qt.UserRole) for item in self.list.selectedItems()}
        return [run for run_id, run in self._runs.items() if run_id in ids]

    @Slot()
    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            del self._runs[item.data(Qt.UserRole)]
            self.list.takeItem(self.list.row(item))
        self._on_selection()

    @Slot()
    def _on_selection(self) -> None:
        selected = self.selected_runs()
        text = _details(selected[-1]) if selected else ""
        if len(selected) > 1:
            text += f"\n(and {len(selected) - 1} more selected: hover over a run for its details)"
        self.details.setText(text)
        self.selection_changed.emit(selected)


def _details(run: RunRecord) -> str:
    config = run.spec.config
    layers = ", ".join(f"{h.width} {h.activation}" for h in config.hidden) or "none"
    lines = [
        f"Run {run.label}: {run.descent_text}, {config.optimizer} lr {config.learning_rate:g}",
        f"momentum {config.momentum:g}, weight decay {config.weight_decay:g}, {config.schedule} schedule",
        f"Hidden: {layers}; init {config.init}, dropout {config.dropout:g}, seed {config.seed}",
        f"Data: {config.dataset}, {run.n_train:,} images, {config.epochs} epochs",
    ]
    if run.lr_changes:
        lines.append(f"Learning rate set during the run: {run.learning_rate_history()}")
    if run.parent is not None:
        start = run.start("epochs")
        lines.append(f"Continues run #{run.parent.run_id} from its weights: drawn from epoch {start:g} on")
    if run.fork_of is not None:
        lines.append(f"Fork of run #{run.fork_of.run_id} from its checkpoint at {run.fork_text}")
    if run.stored is not None:
        lines.append(f"Saved in the run library as {run.stored.id}")
        lines += [f"Warning: {warning}" for warning in run.stored.warnings]
    if run.status == "diverged":
        lines.append(f"Diverged: the loss of update {run.diverged_at:,} was not finite; the views show "
                     "the last finite weights")
    if run.result:
        r = run.result
        lines.append(
            f"Final: test loss {r['test_loss']:.4f}, test accuracy {100 * r['test_accuracy']:.2f}%, "
            f"{r['update']:,} updates, {r['samples_seen']:,} samples, {r['seconds']:.1f} s"
        )
    return "\n".join(lines)


def write_curves_csv(runs: list[RunRecord], path: str | Path) -> None:
    """Every run's curves in long form: one row per (series, point); see ``CSV_COLUMNS``."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for run in runs:
            parent = run.parent.run_id if run.parent is not None else ""
            points = run.update_points()
            # the run's own numbers (a continued run is drawn after its parent's, not written so)
            samples = run.update_curve("samples")[0] - run.start("samples")
            seconds = run.update_curve("seconds")[0] - run.start("seconds")
            for (update, loss), seen, secs in zip(points, samples, seconds, strict=True):
                epoch = update / run.updates_per_epoch
                writer.writerow([run.run_id, run.label, "loss_per_update", f"{epoch:.4f}", int(update),
                                 round(seen), f"{secs:.4f}", f"{loss:.6g}", parent])
            elapsed = 0.0
            for log in run.epochs:
                elapsed += log["seconds"]
                for key in ("loss", "test_loss", "accuracy", "test_accuracy"):
                    series = {"loss": "train_loss", "accuracy": "train_accuracy"}.get(key, key)
                    writer.writerow([run.run_id, run.label, series, log["epoch"], log["update"],
                                     log["samples_seen"], f"{elapsed:.4f}", f"{log[key]:.6g}", parent])
