"""Live plots: loss per update and per epoch, accuracy per epoch, for one or several runs.

Curves are created once per run and updated with ``setData``; per-update curves use peak
downsampling and clip to the view, so redraws stay cheap however long the run.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QSizePolicy, QWidget

from .run_record import RunRecord

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
X_LABELS = {"epochs": "epoch", "samples": "samples seen", "seconds": "training time (s)"}
DATA_MIN_HEIGHT = 90  # the plots' data area, whatever their legends take under it
AXES_HEIGHT = 80  # title, x axis and its label


def run_color(run: RunRecord) -> str:
    return PALETTE[(run.run_id - 1) % len(PALETTE)]


def _plain(text: str) -> str:
    """A label's text without its HTML."""
    return html.unescape(text.replace("<b>", "").replace("</b>", ""))


class LegendBelow(pg.LegendItem):
    """A legend in its own row of the plot's layout, under the x axis, so that it never covers the
    data. One run: its lines with their full texts, as many side by side as the width holds
    (``fit``). Several: a table, a row per run and a column per kind of line (``show_table``), so
    that every run's every line has its cell however many runs there are."""

    def __init__(self) -> None:
        super().__init__(offset=None, labelTextColor="#222", labelTextSize="8pt", frame=False, verSpacing=-6)
        self.setFlag(self.GraphicsItemFlag.ItemIgnoresTransformations, False)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)  # as compact as its entries
        self._texts: list[str] = []  # each line's text as it reads, in order
        self._entries: list[tuple[pg.ItemSample, pg.LabelItem]] = []  # a list's lines and texts
        self._shown: list[pg.GraphicsWidget] = []  # everything in the legend's layout
        self._table = False
        # a table's: column titles, (label, header, short header) and lines per run, which headers show
        self._titles: list[str] = []
        self._headers: list[tuple[pg.LabelItem, str, str]] = []
        self._rows: list[list[pg.PlotDataItem | None]] = []
        self._headers_shown = "full"
        self._full_width = 0.0

    def updateSize(self) -> None:
        self.updateGeometry()  # the plot's layout places it (pyqtgraph's own would set its geometry)

    def _label(self, text: str, bold: bool = False) -> pg.LabelItem:
        return pg.LabelItem(text, color=self.opts["labelTextColor"], justify="left",
                            size=self.opts["labelTextSize"], bold=bold)

    def _reset(self) -> None:
        for i in range(self.layout.count() - 1, -1, -1):
            self.layout.removeAt(i)
        for item in self._shown:
            if item.scene() is not None:
                item.scene().removeItem(item)
        self._shown, self._entries, self._texts = [], [], []

    def _keep(self, item: pg.GraphicsWidget) -> pg.GraphicsWidget:
        self._shown.append(item)
        return item

    def show_list(self, entries: list[tuple[pg.PlotDataItem, str]]) -> None:
        """One run's lines and their texts; ``fit`` lays them out."""
        self._reset()
        self._table = False
        for line, text in entries:
            self._entries.append((self._keep(self.sampleType(line)), self._keep(self._label(html.escape(text)))))
            self._texts.append(text)

    def show_table(self, titles: list[str], rows: list[tuple[str, str, list[pg.PlotDataItem | None]]]) -> None:
        """Column ``titles`` (kinds of line), then per run its header, a shorter header for a narrow
        plot, and its line of each kind (None: none)."""
        self._reset()
        self._table = True
        center = Qt.AlignmentFlag.AlignCenter
        for column, title in enumerate(titles, start=1):
            label = self._keep(self._label(html.escape(title).replace(" (", "<br>(")))
            self.layout.addItem(label, 0, column, alignment=center)
        self._headers = []
        for row, (header, short, lines) in enumerate(rows, start=1):
            label = self._keep(self._label(html.escape(header), bold=True))
            self._headers.append((label, header, short))
            self.layout.addItem(label, row, 0)
            for column, line in enumerate(lines, start=1):
                if line is not None:
                    self.layout.addItem(self._keep(self.sampleType(line)), row, column, alignment=center)
        self._titles, self._rows = titles, [lines for _header, _short, lines in rows]
        self._headers_shown = "full"
        self._full_width = self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).width()
        self.updateGeometry()

    def entry_texts(self) -> list[str]:
        """Every line's text as it reads: "header: column title" in a table."""
        if not self._table:
            return list(self._texts)
        return [f"{_plain(label.text)}: {title}"
                for (label, _header, _short), lines in zip(self._headers, self._rows, strict=True)
                for title, line in zip(self._titles, lines, strict=True) if line is not None]

    def fit(self, width: float) -> None:
        """A list: as many lines side by side as ``width`` holds. A table: its runs' short headers
        when the full ones would make it wider than ``width``."""
        if self._table:
            wanted = "full" if self._full_width <= width else "short"
            if wanted != self._headers_shown:
                self._headers_shown = wanted
                for label, header, short in self._headers:
                    label.setText(html.escape(header if wanted == "full" else short), bold=True)
                self.updateGeometry()
            return
        for i in range(self.layout.count() - 1, -1, -1):
            self.layout.removeAt(i)
        gap = self.layout.horizontalSpacing()
        widths = [sample.boundingRect().width() + label.boundingRect().width() + 2 * gap
                  for sample, label in self._entries]
        columns = 1
        for count in range(len(widths), 1, -1):  # the most columns whose widest entries fit
            if sum(max(widths[c::count]) for c in range(count)) <= width:
                columns = count
                break
        for k, (sample, label) in enumerate(self._entries):
            row, column = divmod(k, columns)
            self.layout.addItem(sample, row, 2 * column, alignment=Qt.AlignmentFlag.AlignVCenter)
            self.layout.addItem(label, row, 2 * column + 1)
        self.updateGeometry()


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
    legend = LegendBelow()
    legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # as the epoch curves below
    # under both axes and the data
    item.layout.addItem(legend, 4, 0, 1, 3, alignment=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    widget.legend_below = legend  # not item.legend: the plot would add and remove entries itself
    return widget


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each point (fewer at the start); same length."""
    if window <= 1 or len(values) == 0:
        return values
    sums = np.cumsum(values, dtype=np.float64)
    out = np.empty(len(values))
    out[:window] = sums[:window] / np.arange(1, min(window, len(values)) + 1)
    out[window:] = (sums[window:] - sums[:-window]) / window
    return out


def smoothing_window(run: RunRecord) -> int:
    """Kept points spanning about a twentieth of an epoch: one-sample steps become readable."""
    updates = run.n_train / 20 / max(run.batch_size, 1)
    return max(1, round(updates / run.trace.stride))


def _epoch_curve(plot: pg.PlotItem, color: str, style: Qt.PenStyle, symbol: str) -> pg.PlotDataItem:
    return plot.plot(
        pen=pg.mkPen(color, width=2, style=style), symbol=symbol, symbolSize=6, symbolBrush=color,
        symbolPen=pg.mkPen(color),
    )


def during_epoch_note(run: RunRecord) -> str:
    """How a run's train figures were measured: during the epoch, while the weights moved, with
    the run's dropout and augmentation (why they can sit below the test figures)."""
    config = run.spec.config
    extras = [what for what, used in (("dropout", config.dropout > 0), ("augmentation", config.augment)) if used]
    return "during the epoch" + (f", with {' and '.join(extras)}" if extras else "")


def curve_names(run: RunRecord, detailed: bool, raw: bool) -> dict[str, str | None]:
    """The legend text of each of a run's curves (None: not in the legend). Alone, a run's lines
    say in full what they measure; among several, the legend heads each run's row with its label
    (``PlotsPanel``), so its lines are named in short: per update, train, test."""
    if detailed:
        names = {
            "updates": "per update",  # the plot is the loss's: its lines need not say "loss"
            "loss": f"train ({during_epoch_note(run)})", "test_loss": "test",
            "accuracy": f"train ({during_epoch_note(run)})", "test_accuracy": "test",
        }
    else:
        names = {"updates": "per update" + ("" if raw else " (smoothed)"), "loss": "train", "test_loss": "test",
                 "accuracy": "train", "test_accuracy": "test"}
    names |= {"train_eval_loss": None, "train_eval_accuracy": None,
              "diverged": "diverged (loss not finite)" if run.diverged_at else None}
    if run.spec.train_eval_size:
        measured = (f"train, end of epoch, inference mode ({run.spec.train_eval_size:,} images)" if detailed
                    else "train, end of epoch")
        names["train_eval_loss"] = measured if detailed else None  # among several, the accuracy plot names it
        names["train_eval_accuracy"] = measured
    return names


EPOCH_STYLES = {  # line style and symbol of each per-epoch series
    "loss": (Qt.DashLine, "o"), "test_loss": (Qt.SolidLine, "s"), "train_eval_loss": (Qt.DotLine, "t"),
    "accuracy": (Qt.DashLine, "o"), "test_accuracy": (Qt.SolidLine, "s"), "train_eval_accuracy": (Qt.DotLine, "t"),
}


class _RunCurves:
    """The curves of one run in both plots. Alone, a run shows its raw per-update losses; among
    several, a trailing mean of them (unless ``raw``), so that the runs can be told apart. Marks:
    a red cross where a diverged run's loss stopped being finite, and a vertical line at each
    learning rate set during the run."""

    def __init__(self, run: RunRecord, loss_plot: pg.PlotItem, accuracy_plot: pg.PlotItem, detailed: bool,
                 raw: bool) -> None:
        color = run_color(run)
        faint = pg.mkColor(color)
        faint.setAlpha(110 if detailed or raw else 220)
        self.names = curve_names(run, detailed, raw)
        self.header = None if detailed else run.label
        self.short_header = f"#{run.run_id}"  # for a legend too narrow for the labels
        self.items = {"updates": loss_plot.plot(pen=pg.mkPen(faint, width=1 if detailed or raw else 2))}
        for key, (style, symbol) in EPOCH_STYLES.items():
            plot = accuracy_plot if "accuracy" in key else loss_plot
            self.items[key] = _epoch_curve(plot, color, style, symbol)
        self.items["diverged"] = loss_plot.plot(pen=None, symbol="x", symbolSize=16, symbolBrush="#d00000",
                                                symbolPen=pg.mkPen("#d00000", width=2))
        updates = self.items["updates"]
        updates.setDownsampling(auto=True, method="peak")
        updates.setClipToView(True)
        # The epoch curves change once an epoch, but the per-update curve under them makes Qt
        # repaint them at every redraw. Cached, they are a pixmap copy instead of a Python paint()
        # call, each of which takes the GIL from the training worker.
        for key, item in self.items.items():
            if key != "updates":
                for part in (item.curve, item.scatter):
                    part.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.smoothed = not (detailed or raw)
        self.color = color
        self.rate_lines: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        self._plots = (loss_plot, accuracy_plot)
        self._epochs_drawn: tuple[int, str] | None = None
        self._rates_drawn: tuple[int, str] | None = None

    def update(self, run: RunRecord, unit: str) -> None:
        x, losses = run.update_curve(unit)
        if self.smoothed:
            losses = trailing_mean(losses, smoothing_window(run))
        self.items["updates"].setData(x, losses)
        blow_up = run.divergence_point(unit)
        if blow_up is not None:
            # the cross ends the line as drawn (smoothed or not), at the update that blew up
            end = float(losses[-1]) if len(losses) else blow_up[1]
            self.items["diverged"].setData([blow_up[0]], [end])
        self._draw_rate_changes(run, unit)
        drawn = (len(run.epochs), unit)
        if drawn == self._epochs_drawn:
            return  # epoch curves change once an epoch: repainting them at every redraw is waste
        self._epochs_drawn = drawn
        for key in EPOCH_STYLES:
            x, y = run.epoch_curve(key, unit)
            self.items[key].setData(x, 100 * y if "accuracy" in key else y)

    def _draw_rate_changes(self, run: RunRecord, unit: str) -> None:
        drawn = (len(run.lr_changes), unit)
        if drawn == self._rates_drawn:
            return
        self._rates_drawn = drawn
        self._remove_rate_lines()
        for change in run.lr_changes:
            # the new rate moves the weights from update change.update on: the line is where it began
            x = float(run.update_x(np.array([change.update - 1]), unit)[0])
            for plot in self._plots:
                line = pg.InfiniteLine(
                    pos=x, angle=90, pen=pg.mkPen(self.color, width=1, style=Qt.DashDotLine),
                    label=f"lr {change.lr:g}",
                    labelOpts={"position": 0.92, "color": self.color, "anchors": [(0, 0), (0, 0)]},
                )
                plot.addItem(line)
                self.rate_lines.append((plot, line))

    def _remove_rate_lines(self) -> None:
        for plot, line in self.rate_lines:
            plot.removeItem(line)
        self.rate_lines = []

    def remove(self, loss_plot: pg.PlotItem, accuracy_plot: pg.PlotItem) -> None:
        self._remove_rate_lines()
        for key, item in self.items.items():
            (accuracy_plot if "accuracy" in key else loss_plot).removeItem(item)


class PlotsPanel(QWidget):
    """Two plots side by side. ``show_runs`` chooses the runs drawn; ``refresh`` redraws them."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot("lossPlot", "Loss (cross-entropy)", "loss")
        self.accuracy_plot = _plot("accuracyPlot", "Accuracy", "accuracy (%)")
        self.accuracy_plot.getPlotItem().setYRange(0, 100, padding=0)
        self.setMinimumHeight(DATA_MIN_HEIGHT + AXES_HEIGHT)  # the panels under them never squeeze them flat
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.accuracy_plot)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.getPlotItem().disableAutoRange()
        self._x_end = self._loss_top = 0.0
        self._accuracy_range: tuple[float, float] = (0.0, 100.0)
        self.unit = "epochs"
        self.raw_loss = False  # comparisons: each run's raw per-update loss instead of its trailing mean
        self.zoom_accuracy = False  # the accuracy axis spans the data instead of 0-100%
        self._runs: list[RunRecord] = []
        self._curves: dict[int, _RunCurves] = {}
        # the time slider's cursor: (run, update) and a vertical line in each plot
        self._cursor: tuple[RunRecord, int] | None = None
        self._cursor_lines = []
        for plot in (self.loss_plot, self.accuracy_plot):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#444", width=1.5, style=Qt.DashLine))
            line.setZValue(20)
            line.hide()
            plot.getPlotItem().addItem(line, ignoreBounds=True)
            self._cursor_lines.append(line)
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
            run.run_id: _RunCurves(run, self.loss_plot.getPlotItem(), self.accuracy_plot.getPlotItem(), detailed,
                                   self.raw_loss)
            for run in runs
        }
        self._runs = list(runs)
        self._x_end = self._loss_top = 0.0
        for plot in (self.loss_plot, self.accuracy_plot):
            self._fill_legend(plot, detailed)
        self._fit_legends()
        self.refresh()

    def _fill_legend(self, plot: pg.PlotWidget, detailed: bool) -> None:
        """``plot``'s legend: the one run's lines in full, or a table of the runs' lines."""
        accuracy = plot is self.accuracy_plot
        keys = [key for key in ("updates", *EPOCH_STYLES, "diverged") if ("accuracy" in key) == accuracy]
        curves = list(self._curves.values())
        legend = plot.legend_below
        if detailed:
            (one,) = curves
            legend.show_list([(one.items[key], one.names[key]) for key in keys if one.names[key] is not None])
            return
        keys = [key for key in keys if any(c.names[key] is not None for c in curves)]
        titles = [next(c.names[key] for c in curves if c.names[key] is not None) for key in keys]
        legend.show_table(titles, [(c.header, c.short_header,
                                    [c.items[key] if c.names[key] is not None else None for key in keys])
                                   for c in curves])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_legends()

    def _fit_legends(self) -> None:
        """Both legends laid out for their plot's width, with as many rows as the longer one, so
        that the two plots keep the same height and their x axes line up."""
        plots = (self.loss_plot, self.accuracy_plot)
        legends = [plot.legend_below for plot in plots]
        for legend, plot in zip(legends, plots, strict=True):
            legend.fit(plot.width() - 10)
        height = max(legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).height() for legend in legends)
        for plot in plots:
            plot.getPlotItem().layout.setRowMinimumHeight(4, height)
        self.setMinimumHeight(round(DATA_MIN_HEIGHT + AXES_HEIGHT + height))

    def set_raw_loss(self, raw: bool) -> None:
        """Among several runs, draw each one's raw per-update loss (True) or its trailing mean."""
        self.raw_loss = raw
        self.show_runs(self._runs)

    def set_zoom_accuracy(self, zoom: bool) -> None:
        """The accuracy axis spans the data (True) or 0-100%."""
        self.zoom_accuracy = zoom
        self._steady_ranges()

    def set_x_unit(self, unit: str) -> None:
        self.unit = unit
        self._set_x_labels()
        self.refresh()  # the cursor moves with it

    def refresh(self) -> None:
        for run in self._runs:
            self._curves[run.run_id].update(run, self.unit)
        self._steady_ranges()
        self._place_cursor()

    def set_cursor(self, run: RunRecord | None, update: int = 0) -> None:
        """A vertical line in both plots at ``run``'s update ``update`` (the time slider's
        checkpoint), in the current x unit; None hides it."""
        self._cursor = None if run is None else (run, update)
        self._place_cursor()

    def cursor_x(self) -> float | None:
        """Where the cursor line stands (x in the current unit), or None when hidden."""
        line = self._cursor_lines[0]
        return float(line.value()) if line.isVisible() else None

    def _place_cursor(self) -> None:
        x = None
        if self._cursor is not None and self._cursor[0] in self._runs:
            run, update = self._cursor
            x = float(run.update_x(np.array([update]), self.unit)[0])
        for line in self._cursor_lines:
            line.setVisible(x is not None)
            if x is not None:
                line.setValue(x)

    def _steady_ranges(self) -> None:
        """Set the view ranges in steps rather than auto-ranging on every redraw: the axes (slow to
        paint) then change rarely, and a user's zoom stays until the data outgrow it."""
        x_end, loss_top, all_planned = 0.0, 0.0, True
        for run in self._runs:
            planned = run.planned_extent(self.unit)
            all_planned = all_planned and planned > 0
            x_end = max(x_end, planned)
            for key in ("updates", "loss", "test_loss"):
                x, values = self.curve_data(run.run_id, key)
                finite = values[np.isfinite(values)] if len(values) else values
                if len(finite):
                    loss_top = max(loss_top, float(finite.max()))
                if len(x) and not planned:
                    x_end = max(x_end, float(x[-1]))
        x_end = x_end if all_planned else _grown(self._x_end, x_end)
        loss_top = _grown(self._loss_top, loss_top)
        if (x_end, loss_top) != (self._x_end, self._loss_top):
            self._x_end, self._loss_top = x_end, loss_top
            for plot in (self.loss_plot, self.accuracy_plot):
                plot.getPlotItem().setXRange(0, 1.03 * (x_end or 1.0), padding=0)
            self.loss_plot.getPlotItem().setYRange(0, loss_top or 1.0, padding=0.02)
        accuracy_range = self._accuracy_span() if self.zoom_accuracy else (0.0, 100.0)
        if accuracy_range != self._accuracy_range:
            self._accuracy_range = accuracy_range
            self.accuracy_plot.getPlotItem().setYRange(*accuracy_range, padding=0)

    def _accuracy_span(self) -> tuple[float, float]:
        """The accuracies drawn, widened to whole steps of 5% (0-100% when there are none)."""
        values = [self.curve_data(run.run_id, key)[1] for run in self._runs
                  for key in ("accuracy", "test_accuracy", "train_eval_accuracy")]
        values = np.concatenate(values) if values else np.zeros(0)
        values = values[np.isfinite(values)]
        if not len(values):
            return 0.0, 100.0
        low, high = 5 * np.floor(values.min() / 5 - 0.2), 5 * np.ceil(values.max() / 5 + 0.2)
        return float(max(low, 0.0)), float(min(high, 100.0))

    def curve_data(self, run_id: int, key: str) -> tuple[np.ndarray, np.ndarray]:
        """What a curve currently shows ("updates", "loss", "test_loss", "accuracy", "test_accuracy",
        "train_eval_loss", "train_eval_accuracy", "diverged")."""
        # the data set on the curve: getData() gives what is on screen now, after clipping to the
        # view and downsampling, which depends on the view range at that moment
        item = self._curves[run_id].items[key]
        x, y = item.xData, item.yData
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

    def legend_entries(self, plot: pg.PlotWidget) -> list[str]:
        """The texts of ``plot``'s legend, in order, each as it reads: "#2 Mini-batch 64: train"
        under a run's header."""
        return plot.legend_below.entry_texts()

    def rate_change_marks(self, run_id: int) -> list[tuple[float, str]]:
        """(x, label) of the learning-rate lines drawn for a run, in the loss plot."""
        return [(line.value(), line.label.format) for plot, line in self._curves[run_id].rate_lines
                if plot is self.loss_plot.getPlotItem()]

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
