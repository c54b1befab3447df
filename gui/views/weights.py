"""Inside the network: first-layer weights as images, weight and gradient histograms, stuck units
(dead ReLU units and their like), and the activations of every layer for one digit. For a
convolutional network: the first convolution's kernels and the feature maps of every image layer
for that digit (``feature_maps.py``). The maths is ``scratchnet.explain``'s; this view only draws.

The tiles use a diverging colour map centred on zero (blue negative, white zero, red positive),
with one scale for the whole layer so pages can be compared.
"""

from __future__ import annotations

import functools
import html
import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from scratchnet.conv import Conv2D
from scratchnet.explain import MEANINGS, BatchStats, batch_stats, first_kernels, layer_outputs
from scratchnet.threads import using_blas

from .feature_maps import MAP_KIND_TIP, MAP_KINDS, FeatureMapsView, KernelView
from .images import digit_pixmap, square_side
from .predictions import ModelContext
from .widgets import make_button, make_combo

TILES_PER_PAGE = 256
TILE_SIDE = 28
GAP_RGBA = (70, 70, 70, 255)
STATS_BATCH = 1000
GRADIENT_TITLE = f"Gradient sizes on {STATS_BATCH:,} test images"
HISTOGRAM_BINS = 60
LEGEND_PER_LINE = 3
LAYER_PENS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
SOURCE_DRAWING = "drawing"
SOURCE_TEST = "test"
TILES_TITLE = "First layer: one tile per hidden unit, as the input image (blue < 0 < red)"
KERNELS_TITLE = "First convolution: one tile per kernel (blue < 0 < red)"
KERNEL_COLUMNS = 8


# the histograms' axis labels in plain words ("(x0.001)" is pyqtgraph's unit prefix for small values)
WEIGHT_AXIS_TIP = (
    "Across: the value of the weights, one curve per layer. When the values are small the axis "
    "says “weight (x0.001)”: read each tick as thousandths, so 5 means 0.005. Up: how many weights "
    "have that value (density). Training usually spreads the weights out from their narrow start."
)
GRADIENT_AXIS_TIP = (
    "Across: how strongly the loss reacts to each weight, |dL/dW|, as a power of ten: −2 means 0.01, "
    "−4 means 0.0001. Further right, the weight is being pushed harder by the current error; a layer "
    "far to the left learns slowly (vanishing gradients). Up: how many weights have that size."
)

def weight_scale(weights: np.ndarray) -> float:
    """The colour scale's half-range: the 99.5th percentile of |W| (a few outliers would wash
    out every other tile), never 0."""
    return float(np.percentile(np.abs(weights), 99.5)) or 1.0


def mosaic_columns(count: int, max_columns: int | None = None) -> int:
    """A near-square grid for ``count`` tiles, at most ``max_columns`` wide."""
    return max(1, min(math.ceil(math.sqrt(count)), max_columns or count))


@functools.cache
def diverging_lut() -> np.ndarray:
    """(256, 4) uint8 RGBA: blue, white at code 127.5, red (read once: pyqtgraph reads a file)."""
    lut = np.ascontiguousarray(pg.colormap.get("CET-D1").getLookupTable(nPts=256, mode="byte", alpha=True))
    lut.flags.writeable = False
    return lut


def tile_mosaic(weights: np.ndarray, start: int, count: int, scale: float, max_columns: int | None = None
                ) -> np.ndarray:
    """Units ``start`` .. ``start + count - 1`` of ``weights`` (784, units) as 28×28 tiles in a
    near-square grid (at most ``max_columns`` wide) with 1-pixel grey gaps. Returns (H, W, 4)
    uint8 RGBA, diverging colours with white at zero and full colour at ±``scale``."""
    columns = mosaic_columns(count, max_columns)
    rows = max(1, math.ceil(count / columns))
    side = square_side(weights.shape[0])  # 28 for MNIST, the data's square side for others
    step = side + 1
    block = weights[:, start:start + count].T.reshape(count, side, side)
    codes = np.clip((block / scale + 1.0) * 127.5, 0, 255).astype(np.uint8, order="C")
    # each RGBA colour as one 32-bit word; every tile with its gap above and to its left, then the
    # tiles laid out row by row at once (a Python loop over 256 tiles took 10+ ms)
    gap = np.array(GAP_RGBA, np.uint8).view(np.uint32)[0]
    tiles = np.full((rows * columns, step, step), gap, np.uint32)
    tiles[:count, 1:, 1:] = diverging_lut().view(np.uint32)[:, 0][codes]
    mosaic = np.full((rows * step + 1, columns * step + 1), gap, np.uint32)
    mosaic[:-1, :-1] = tiles.reshape(rows, columns, step, step).transpose(0, 2, 1, 3).reshape(
        rows * step, columns * step)
    return mosaic.view(np.uint8).reshape(rows * step + 1, columns * step + 1, 4)


@dataclass(frozen=True)
class Histogram:
    """One layer's curve: ``density`` over the bins between ``edges``."""

    name: str
    edges: np.ndarray
    density: np.ndarray


def view_stats(context: ModelContext) -> BatchStats | None:
    """Weights, gradients and stuck units on the first ``STATS_BATCH`` test images, or None (no
    model, or a convolutional one, which ``batch_stats`` does not explain yet)."""
    if not context.usable or context.model.is_image_network:
        return None
    count = min(STATS_BATCH, len(context.dataset.y_test))
    with using_blas():  # a run's worker may change the BLAS thread count meanwhile
        return batch_stats(context.model, context.dataset.x_test[:count], context.dataset.y_test[:count])


def histograms(context: ModelContext) -> dict[str, list[Histogram]] | None:
    """The weight and the log10 |gradient| histograms of every layer (keys "weights" and
    "gradients"), or None."""
    stats = context.computed(view_stats)
    if stats is None:
        return None
    curves: dict[str, list[Histogram]] = {"weights": [], "gradients": []}
    for key, arrays in (("weights", stats.weights), ("gradients", stats.weight_gradients)):
        for name, values in arrays.items():
            if key == "gradients":  # magnitudes span decades: compare them on a log scale
                values = np.log10(np.abs(values[values != 0]))
            values = values[np.isfinite(values)]  # a diverged run's overflowed gradients
            if values.size:
                density, edges = np.histogram(values, bins=HISTOGRAM_BINS, density=True)
                curves[key].append(Histogram(name, edges, density))
    return curves


def tile_scale(context: ModelContext) -> float | None:
    """The first layer's colour scale (``weight_scale``), or None when there are no tiles to show."""
    model = context.model
    if model is None or square_side(model.input_size) is None or model.is_image_network:
        return None
    return weight_scale(model.dense_layers[0].params["W"])


def stuck_units_text(units, inputs: int) -> str:
    """One line per hidden layer's count of stuck units, then what each count means."""
    if not units:
        return "No hidden activation layers, so no dead or saturated units."
    lines = [f"{u.name}: {u.count} {u.condition} ({100 * u.fraction:.1f}%)" for u in units]
    conditions = dict.fromkeys(u.condition for u in units)
    lines += [f"{condition} = {MEANINGS[condition]}" for condition in conditions]
    return f"On {inputs:,} test images:\n" + "\n".join(lines)


class TileGrid(QScrollArea):
    """First-layer tiles drawn pixel for pixel: every tile is 28×28 screen pixels and every row as
    high as the next, whatever the number of units. As many columns as the width holds; the rows
    that do not fit scroll. ``image`` is the (H, W, 4) mosaic shown, or None."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("weightTiles")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
        self.setMinimumWidth(4 * (TILE_SIDE + 1) + 1 + self.verticalScrollBar().sizeHint().width())
        self.label = QLabel()
        self.label.setObjectName("weightTilesImage")
        self.setWidget(self.label)
        self.image: np.ndarray | None = None
        self.shown_columns = 0
        self._tiles: tuple | None = None

    @property
    def columns(self) -> int:
        """How many tiles fit side by side, with room kept for the vertical scroll bar."""
        width = self.contentsRect().width() - self.verticalScrollBar().sizeHint().width()
        return max(1, (width - 1) // (TILE_SIDE + 1))

    def show_tiles(self, weights: np.ndarray, start: int, count: int, scale: float) -> None:
        self._tiles = (weights, start, count, scale)
        self._draw()

    def clear(self) -> None:
        self._tiles = self.image = None
        self.shown_columns = 0
        self.label.clear()
        self.label.resize(0, 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._tiles is not None and mosaic_columns(self._tiles[2], self.columns) != self.shown_columns:
            self._draw()

    def _draw(self) -> None:
        self.shown_columns = mosaic_columns(self._tiles[2], self.columns)
        self.image = tile_mosaic(*self._tiles, max_columns=self.shown_columns)
        height, width = self.image.shape[:2]
        image = QImage(self.image.data, width, height, 4 * width, QImage.Format_RGBA8888).copy()
        self.label.setPixmap(QPixmap.fromImage(image))
        self.label.resize(width, height)


class WeightsView(QWidget):
    PREPARE = (view_stats, histograms, tile_scale)  # what set_context reads, computed off the GUI thread first

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("weightsView")
        self._context = ModelContext(None, None)
        self._tile_page = 0
        self._drawn_digit: np.ndarray | None = None
        self._activations_dirty = False
        self.stats = None

        self.tiles = TileGrid()
        self.kernels = KernelView()
        self.kernels.hide()
        self.feature_maps = FeatureMapsView()
        self.feature_maps.hide()
        self.map_kind_combo = make_combo("featureMapKind", MAP_KIND_TIP, MAP_KINDS,
                                         lambda: self.feature_maps.set_kind(self.map_kind_combo.currentData()))
        self.map_kind_combo.hide()
        self.jobs = [self.feature_maps.job]  # stopped when the window closes (views.JobCloser)
        self.tiles_label = QLabel()
        self.tiles_label.setObjectName("tilesLabel")
        self.tiles_prev = make_button("◀", "tilesPrevButton", "Previous page of hidden units.",
                                       lambda: self.set_tile_page(self._tile_page - 1))
        self.tiles_next = make_button("▶", "tilesNextButton", "Next page of hidden units.",
                                       lambda: self.set_tile_page(self._tile_page + 1))
        for button in (self.tiles_prev, self.tiles_next):
            button.setFixedWidth(36)

        self.weight_plot = self._histogram_plot("weightHistogram", "Weights (per layer)", "weight")
        self.gradient_plot = self._histogram_plot(
            "gradientHistogram", GRADIENT_TITLE, "log10 |dL/dW|")
        for plot, tip in ((self.weight_plot, WEIGHT_AXIS_TIP), (self.gradient_plot, GRADIENT_AXIS_TIP)):
            plot.setToolTip(tip)
            plot.getAxis("bottom").setToolTip(tip)
        self.histogram_legend = QLabel()
        self.histogram_legend.setObjectName("histogramLegend")
        self.histogram_legend.setToolTip("The colour of each layer's curve in both histograms.")
        self.dead_label = QLabel()
        self.dead_label.setObjectName("deadUnitsLabel")

        self.source_combo = make_combo("activationSource", "Whose activations to show.",
                                       [("the drawing pad's digit", SOURCE_DRAWING), ("test image #", SOURCE_TEST)],
                                       self._on_source)
        self.test_spin = QSpinBox()
        self.test_spin.setObjectName("testDigitSpin")
        self.test_spin.setRange(0, 0)
        self.test_spin.setToolTip("Index of the test image (clicking a misclassified digit selects it too).")
        self.test_spin.valueChanged.connect(self._on_test_index)
        self.test_spin.setEnabled(False)
        self.input_label = QLabel()
        self.input_label.setFixedSize(84, 84)
        self.activation_note = QLabel()
        self.activation_note.setObjectName("activationNote")
        self.activations_widget = pg.GraphicsLayoutWidget()
        self.activations_widget.setBackground("w")
        self.activations_widget.setMinimumHeight(180)
        self.activations_widget.setObjectName("activationPlots")
        self._activation_bars: list[pg.BarGraphItem] = []
        self._layout()
        self.set_context(self._context)

    def _layout(self) -> None:
        tiles = QGroupBox(TILES_TITLE)
        self._tiles_box = tiles
        tiles_column = QVBoxLayout(tiles)
        tiles_column.addWidget(self.tiles, 1)
        tiles_column.addWidget(self.kernels, 1)
        pager = QHBoxLayout()
        pager.addWidget(self.tiles_prev)
        pager.addWidget(self.tiles_label, 1)
        pager.addWidget(self.tiles_next)
        tiles_column.addLayout(pager)

        histograms = QGroupBox("Weights, gradients and dead units")
        histogram_column = QVBoxLayout(histograms)
        histogram_column.addWidget(self.weight_plot, 1)
        histogram_column.addWidget(self.gradient_plot, 1)
        histogram_column.addWidget(self.histogram_legend)
        histogram_column.addWidget(self.dead_label)

        activations = QGroupBox("Activations of each layer")
        self._activations_box = activations
        activation_column = QVBoxLayout(activations)
        source = QHBoxLayout()
        source.addWidget(QLabel("Show"))
        source.addWidget(self.source_combo)
        source.addWidget(self.test_spin)
        source.addWidget(self.map_kind_combo)
        source.addWidget(self.activation_note, 1)
        activation_column.addLayout(source)
        row = QHBoxLayout()
        row.addWidget(self.input_label, 0, Qt.AlignTop)
        row.addWidget(self.activations_widget, 1)
        row.addWidget(self.feature_maps, 1)
        activation_column.addLayout(row, 1)

        self._sections = [(tiles, "First-layer weights"), (histograms, "Histograms and dead units"),
                          (activations, "Activations")]
        # small screens: one section at a time, chosen by a tab bar; large ones: all three in a grid.
        # The sections never change parent (moving pyqtgraph's plots between parents crashed it).
        self.section_bar = QTabBar()
        self.section_bar.setObjectName("weightsSections")
        self.section_bar.setExpanding(False)
        for _box, title in self._sections:
            self.section_bar.addTab(title)
        self.section_bar.currentChanged.connect(self._show_section)
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.section_bar)
        column.addLayout(self._grid, 1)
        self._compact: bool | None = None
        self._arrange(compact=False)

    @property
    def compact(self) -> bool:
        """True when one section shows at a time (the view is smaller than the three need side by side)."""
        return bool(self._compact)

    def minimumSizeHint(self) -> QSize:
        """What one section at a time needs, whatever the arrangement: the view turns compact when
        it gets less than ``wide_size`` (its layout alone would ask for that much)."""
        sizes = [box.minimumSizeHint() for box, _title in self._sections]
        return QSize(max(s.width() for s in sizes),
                     max(s.height() for s in sizes) + self.section_bar.sizeHint().height())

    def wide_size(self) -> QSize:
        """The least room for the three sections side by side: tiles and histograms over the activations."""
        (tiles, _), (histograms, _), (activations, _) = [(box.minimumSizeHint(), t) for box, t in self._sections]
        gap = self._grid.spacing()
        return QSize(max(tiles.width() + gap + histograms.width(), activations.width()),
                     max(tiles.height(), histograms.height()) + gap + activations.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        needed = self.wide_size()
        self._arrange(compact=self.width() < needed.width() or self.height() < needed.height())

    def _arrange(self, compact: bool) -> None:
        """The sections side by side in the grid, or one at a time in its first cell."""
        if compact == self._compact:
            return
        self._compact = compact
        (tiles, _), (histograms, _), (activations, _) = self._sections
        for box, _title in self._sections:
            self._grid.removeWidget(box)
        if compact:
            for box, _title in self._sections:
                self._grid.addWidget(box, 0, 0)
            stretches = ((0, 1), (1, 0))
        else:
            self._grid.addWidget(tiles, 0, 0)
            self._grid.addWidget(histograms, 0, 1)
            self._grid.addWidget(activations, 1, 0, 1, 2)
            stretches = ((0, 2), (1, 1))  # tiles and histograms get the room; the activation bars need little
        for row, stretch in stretches:
            self._grid.setRowStretch(row, stretch)
        self._grid.setColumnStretch(0, 1)
        self._grid.setColumnStretch(1, 0 if compact else 1)
        self.section_bar.setVisible(compact)
        self._show_section()

    @Slot()
    def _show_section(self) -> None:
        current = self.section_bar.currentIndex()
        for k, (box, _title) in enumerate(self._sections):
            box.setVisible(not self._compact or k == current)

    @staticmethod
    def _histogram_plot(name: str, title: str, x_label: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setObjectName(name)
        plot.setTitle(title, color="#333", size="10pt")
        plot.setLabel("bottom", x_label)
        plot.setLabel("left", "density")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        return plot

    # ------------------------------------------------------------------ public
    @property
    def first_layer_units(self) -> int:
        model = self._context.model
        return 0 if model is None else model.dense_layers[0].out_features

    @property
    def tile_page_count(self) -> int:
        return max(1, math.ceil(self.first_layer_units / TILES_PER_PAGE))

    @property
    def tile_page(self) -> int:
        return self._tile_page

    def set_context(self, context: ModelContext) -> None:
        self._context = context
        dataset = context.dataset
        if dataset is not None:
            self.test_spin.setMaximum(len(dataset.y_test) - 1)
        self.stats = context.computed(view_stats)
        self.set_tile_page(self._tile_page)
        self._show_histograms()
        self.refresh_activations()

    def set_tile_page(self, page: int) -> None:
        self._tile_page = min(max(page, 0), self.tile_page_count - 1)
        self.tiles_prev.setEnabled(self._tile_page > 0)
        self.tiles_next.setEnabled(self._tile_page < self.tile_page_count - 1)
        model, scale = self._context.model, self._context.computed(tile_scale)
        image_network = model is not None and model.is_image_network
        self._show_image_widgets(image_network)
        has_kernels = image_network and any(isinstance(layer, Conv2D) for layer in model.layers)
        if has_kernels and all(np.isfinite(p).all() for p in model.parameters().values()):
            kernels = first_kernels(model)
            kernel_scale = self.kernels.show_kernels(kernels.values, KERNEL_COLUMNS)
            out, channels, k, _ = kernels.values.shape
            self.tiles_label.setText(f"{kernels.name}: {out} kernels of {channels}×{k}×{k}, colour scale "
                                     f"±{kernel_scale:.3g}")
            return
        if scale is None:
            self.tiles.clear()
            self.kernels.clear()
            self.tiles_label.setText("No model yet." if model is None else
                                     "The weights are not finite: no kernels to show." if has_kernels else
                                     "A network of images with no convolution: no kernels to show."
                                     if model.is_image_network else "The inputs are not square images.")
            return
        weights = model.dense_layers[0].params["W"]
        start = self._tile_page * TILES_PER_PAGE
        count = min(TILES_PER_PAGE, weights.shape[1] - start)
        self.tiles.show_tiles(weights, start, count, scale)
        self.tiles_label.setText(f"units {start + 1}–{start + count} of {weights.shape[1]}, "
                                 f"colour scale ±{scale:.3g}")

    @Slot(object)
    def set_drawn_digit(self, digit: np.ndarray | None) -> None:
        """The drawing pad's prepared input (784,) or None."""
        self._drawn_digit = digit
        if self.source_combo.currentData() == SOURCE_DRAWING:
            self.refresh_activations()

    @Slot(int)
    def select_test_digit(self, index: int) -> None:
        """Show test image ``index``; while this view is stale its range may not know the data set yet."""
        self.test_spin.setMaximum(max(self.test_spin.maximum(), index))
        self.test_spin.setValue(index)
        self.source_combo.setCurrentIndex(self.source_combo.findData(SOURCE_TEST))

    @Slot()
    def refresh_activations(self) -> None:
        if not self.isVisible():
            self._activations_dirty = True
            return
        self._activations_dirty = False
        digit = self.current_input()
        if digit is not None:
            self.input_label.setPixmap(digit_pixmap(digit, 84))
        else:
            self.input_label.clear()
        model = self._context.model
        if not self._context.usable or digit is None or model.is_image_network:
            self._show_activations([])
            self.activation_note.setText("No model yet." if model is None else
                                         "Nothing drawn on the pad yet." if digit is None else
                                         "The model does not fit this data set." if not self._context.usable else
                                         "A convolutional network: its feature maps are below.")
            if model is not None and model.is_image_network:
                if self._context.usable and digit is not None:
                    self.activation_note.setText("")  # the rows' titles say it (a line here overflowed 1024 px)
                    test = self.source_combo.currentData() == SOURCE_TEST
                    label = int(self._context.dataset.y_test[self.test_spin.value()]) if test else None
                    self.feature_maps.compute(model, digit, label)
                else:
                    self.feature_maps.show_note(self.activation_note.text())
            return
        self.activation_note.setText("")
        with using_blas():
            outputs = layer_outputs(self._context.model, digit)
        self._show_activations(outputs)

    def current_input(self) -> np.ndarray | None:
        """The (784,) input whose activations are shown, or None."""
        if self.source_combo.currentData() == SOURCE_DRAWING:
            return self._drawn_digit
        dataset = self._context.dataset
        return None if dataset is None else dataset.x_test[self.test_spin.value()]

    def activation_values(self) -> list[np.ndarray]:
        """The heights of the activation bars, one (units,) array per layer."""
        return [bars.opts["height"].copy() for bars in self._activation_bars]

    # ------------------------------------------------------------------ internals
    def _show_image_widgets(self, image_network: bool) -> None:
        """Kernels and feature maps for a convolutional network, tiles and bars otherwise."""
        self.tiles.setVisible(not image_network)
        self.kernels.setVisible(image_network)
        self.activations_widget.setVisible(not image_network)
        self.feature_maps.setVisible(image_network)
        for widget in (self.tiles_prev, self.tiles_next, self.weight_plot, self.gradient_plot, self.histogram_legend):
            widget.setVisible(not image_network)
        self.map_kind_combo.setVisible(image_network)
        self._tiles_box.setTitle(KERNELS_TITLE if image_network else TILES_TITLE)
        self._activations_box.setTitle("Feature maps of each image layer" if image_network
                                       else "Activations of each layer")
        if not self._compact:  # the feature maps need more room than the bars; the kernels less than the tiles
            self._grid.setRowStretch(0, 1 if image_network else 2)
            self._grid.setRowStretch(1, 2 if image_network else 1)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._activations_dirty:
            self.refresh_activations()

    @Slot()
    def _on_source(self) -> None:
        self.test_spin.setEnabled(self.source_combo.currentData() == SOURCE_TEST)
        self.refresh_activations()

    @Slot(int)
    def _on_test_index(self, _index: int) -> None:
        if self.source_combo.currentData() == SOURCE_TEST:
            self.refresh_activations()

    def _show_histograms(self) -> None:
        curves = self._context.computed(histograms)
        for plot, key in ((self.weight_plot, "weights"), (self.gradient_plot, "gradients")):
            shown = plot.plotItem.listDataItems()
            wanted = [] if curves is None else curves[key]
            if [item.name() for item in shown] != [curve.name for curve in wanted]:
                plot.clear()  # other layers: new curves (the same layers keep theirs, see below)
        if self.stats is None:
            self.gradient_plot.setTitle(GRADIENT_TITLE, color="#333", size="10pt")
            self.histogram_legend.setText("")
            model = self._context.model
            self.dead_label.setText("The histograms and dead units are worked out\nfor networks of Dense layers "
                                    "only, for now." if model is not None and model.is_image_network else "")
            return
        colours = {name: LAYER_PENS[k % len(LAYER_PENS)] for k, name in enumerate(self.stats.weights)}
        # the legend sits under the plots: inside them it covered the curves and the layer names
        entries = [f'<span style="color:{colour}">━━</span>&nbsp;{html.escape(name)}'
                   for name, colour in colours.items()]
        self.histogram_legend.setText("<br>".join(  # no word wrap: it would make the whole view scroll
            "&nbsp;&nbsp;&nbsp;".join(entries[k:k + LEGEND_PER_LINE]) for k in range(0, len(entries), LEGEND_PER_LINE)))
        for plot, key in ((self.weight_plot, "weights"), (self.gradient_plot, "gradients")):
            shown = plot.plotItem.listDataItems()
            for k, curve in enumerate(curves[key]):
                if k < len(shown):  # a curve made once, then given new data: far cheaper while training
                    shown[k].setData(curve.edges, curve.density, stepMode="center")
                else:
                    plot.plot(curve.edges, curve.density, stepMode="center", name=curve.name,
                              pen=pg.mkPen(colours[curve.name], width=2))
        self.gradient_plot.setTitle(f"Gradient sizes on {self.stats.samples:,} test images (mean loss "
                                    f"{self.stats.loss:.4g})", color="#333", size="10pt")
        self.dead_label.setText(stuck_units_text(self.stats.units, self.stats.samples))

    def _show_activations(self, outputs) -> None:
        names = [output.name for output in outputs]
        if names != [item.titleLabel.text for item in self._activation_plots()]:
            self.activations_widget.clear()
            self._activation_bars = []
            for output in outputs:
                plot = self.activations_widget.addPlot(title=output.name)
                plot.setMouseEnabled(x=False, y=False)
                plot.hideButtons()
                bars = pg.BarGraphItem(x=np.arange(output.values.shape[1]), height=output.values[0],
                                       width=0.8, brush="#2f6db3", pen=None)
                plot.addItem(bars)
                self._activation_bars.append(bars)
        for bars, output in zip(self._activation_bars, outputs, strict=True):
            bars.setOpts(height=output.values[0])

    def _activation_plots(self) -> list[pg.PlotItem]:
        layout = self.activations_widget.ci
        return [layout.getItem(0, col) for col in range(len(self._activation_bars))]
