"""Live plots: loss per update and per epoch, accuracy per epoch, for one or several runs.

Curves are created once per run and updated with ``setData``; per-update curves use peak
downsampling and clip to the view, so redraws stay cheap however long the run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QWidget

from .run_record import RunRecord

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
X_LABELS = {"epochs": "epoch", "samples": "samples seen", "seconds": "training time (s)"}


def run_color(run: RunRecord) -> str:
    return PALETTE[(run.run_id - 1) % len(PALETTE)]


def _plot(name: str, title: str, y_label: str) -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    widget.setObjectName(name)
    item = widget.getPlotItem()
    item.setTitle(title, color="#222", size="11pt")
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.25)
    for side in ("left", "bottom"):
        # replaying an axis's text is the slowest part of a redraw: paint it from a pixmap until
        # its range changes (pyqtgraph then calls update(), which refreshes the cache)
        item.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    item.addLegend(offset=(-10, 10), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 200))
    return widget


class _RunCurves:
    """The curves of one run in both plots."""

    def __init__(self, run: RunRecord, loss_plot: pg.PlotItem, accuracy_plot: pg.PlotItem, detailed: bool) -> None:
        color = run_color(run)
        faint = pg.mkColor(color)
        faint.setAlpha(110)
        name = run.label
        self.items = {
            "updates": loss_plot.plot(
                pen=pg.mkPen(faint, width=1), name=f"{name}: loss per update" if detailed else name
            ),
            "loss": loss_plot.plot(
                pen=pg.mkPen(color, width=2, style=Qt.DashLine), symbol="o", symbolSize=6,
                symbolBrush=color, name="train loss (epoch)" if detailed else None,
            ),
            "test_loss": loss_plot.plot(
                pen=pg.mkPen(color, width=2), symbol="s", symbolSize=6, symbolBrush=color,
                name="test loss (epoch)" if detailed else None,
            ),
            "accuracy": accuracy_plot.plot(
                pen=pg.mkPen(color, width=2, style=Qt.DashLine), symbol="o", symbolSize=6,
                symbolBrush=color, name=f"{name}: train" if detailed else None,
            ),
            "test_accuracy": accuracy_plot.plot(
                pen=pg.mkPen(color, width=2), symbol="s", symbolSize=6, symbolBrush=color,
                name=f"{name}: test" if detailed else name,
            ),
        }
        updates = self.items["updates"]
        updates.setDownsampling(auto=True, method="peak")
        updates.setClipToView(True)
        self.detailed = detailed

    def update(self, run: RunRecord, unit: str) -> None:
        self.items["updates"].setData(*run.update_curve(unit))
        for key in ("loss", "test_loss"):
            self.items[key].setData(*run.epoch_curve(key, unit))
        for key in ("accuracy", "test_accuracy"):
            x, y = run.epoch_curve(key, unit)
            self.items[key].setData(x, 100 * y)

    def remove(self, loss_plot: pg.PlotItem, accuracy_plot: pg.PlotItem) -> None:
        for key, item in self.items.items():
            (accuracy_plot if "accuracy" in key else loss_plot).removeItem(item)


class PlotsPanel(QWidget):
    """Two plots side by side. ``show_runs`` chooses the runs drawn; ``refresh`` redraws them."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot("lossPlot", "Loss (cross-entropy)", "loss")
        self.accuracy_plot = _plot("accuracyPlot", "Accuracy (solid: test, dashed: train)", "accuracy (%)")
        self.accuracy_plot.getPlotItem().setYRange(0, 100)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.accuracy_plot)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.getPlotItem().disableAutoRange()
        self._x_end = self._loss_top = 0.0
        self.unit = "epochs"
        self._runs: list[RunRecord] = []
        self._curves: dict[int, _RunCurves] = {}
        self._set_x_labels()

    @property
    def runs(self) -> list[RunRecord]:
        return list(self._runs)

    def show_runs(self, runs: list[RunRecord]) -> None:
        """Draw exactly ``runs`` (one run: detailed legend; several: one entry per run)."""
        detailed = len(runs) == 1
        for curves in self._curves.values():
            curves.remove(self.loss_plot.getPlotItem(), self.accuracy_plot.getPlotItem())
        self._curves = {
            run.run_id: _RunCurves(run, self.loss_plot.getPlotItem(), self.accuracy_plot.getPlotItem(), detailed)
            for run in runs
        }
        self._runs = list(runs)
        self._x_end = self._loss_top = 0.0
        self.refresh()

    def set_x_unit(self, unit: str) -> None:
        self.unit = unit
        self._set_x_labels()
        self.refresh()

    def refresh(self) -> None:
        for run in self._runs:
            self._curves[run.run_id].update(run, self.unit)
        self._steady_ranges()

    def _steady_ranges(self) -> None:
        """Set the view ranges in steps rather than auto-ranging on every redraw: the axes (slow to
        paint) then change rarely, and a user's zoom stays until the data outgrow it."""
        x_end, loss_top, all_planned = 0.0, 0.0, True
        for run in self._runs:
            x, losses = run.update_curve(self.unit)
            planned = run.planned_extent(self.unit)
            all_planned = all_planned and planned > 0
            x_end = max(x_end, planned if planned else (x[-1] if len(x) else 0.0))
            if len(losses):
                loss_top = max(loss_top, float(np.nanmax(losses)))
            for key in ("loss", "test_loss"):
                values = run.epoch_curve(key, self.unit)[1]
                if len(values) and np.isfinite(values).any():
                    loss_top = max(loss_top, float(np.nanmax(values)))
        x_end = x_end if all_planned else _grown(self._x_end, x_end)
        loss_top = _grown(self._loss_top, loss_top)
        if (x_end, loss_top) != (self._x_end, self._loss_top):
            self._x_end, self._loss_top = x_end, loss_top
            for plot in (self.loss_plot, self.accuracy_plot):
                plot.getPlotItem().setXRange(0, x_end or 1.0, padding=0.02)
            self.loss_plot.getPlotItem().setYRange(0, loss_top or 1.0, padding=0.02)

    def curve_data(self, run_id: int, key: str) -> tuple[np.ndarray, np.ndarray]:
        """What a curve currently shows ("updates", "loss", "test_loss", "accuracy", "test_accuracy")."""
        x, y = self._curves[run_id].items[key].getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (x, y)

    def export_png(self, path: str | Path) -> list[Path]:
        """Save each plot as ``<stem>-loss.png`` and ``<stem>-accuracy.png``; returns the paths."""
        path = Path(path)
        written = []
        for suffix, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot)):
            target = path.with_name(f"{path.stem}-{suffix}.png")
            exporter = ImageExporter(plot.getPlotItem())
            exporter.parameters()["width"] = max(800, plot.width())
            exporter.export(str(target))
            written.append(target)
        return written

    def _set_x_labels(self) -> None:
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.getPlotItem().setLabel("bottom", X_LABELS[self.unit])


def _grown(current: float, needed: float) -> float:
    """``current`` while it holds ``needed`` and is not more than 3x too large, else a new
    bound 25% above ``needed`` (so that a growing series changes the range only now and then)."""
    if needed <= 0 or not np.isfinite(needed):
        return current
    if needed <= current <= 3 * needed:
        return current
    return 1.25 * needed
