"""The network as circles joined by lines: the chosen digit on the left, one column per hidden
layer, the classes with their probabilities on the right.

A hidden column shows its ``SHOWN`` most active units for the digit (most active on top); its
"+N more" marker pages through the rest. Units are shaded by their activation, on the
activation's own range (sigmoid 0..1, tanh -1..1) or, for ReLU-like units, 0 to the column's
largest value. Each shown unit draws its ``links`` strongest incoming weights among the shown
units (or pixels) of the column before: red positive, blue negative, wider and darker when larger.
Links are drawn as a few painter paths (one per sign and width class), not one item per link.
Clicking a unit emits ``unit_clicked(layer, unit)`` (positions in ``model.layers``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from scratchnet.errors import ExplainError
from scratchnet.explain import FeatureMap, activation_range, feature_maps, layer_outputs
from scratchnet.layers import Dense, Dropout
from scratchnet.network import Sequential
from scratchnet.threads import using_blas

from .feature_maps import enlarged_side, map_mosaic, map_scale, mosaic_pixmap
from .images import digit_pixmap, square_side
from .predictions import ModelContext
from .widgets import WrappingLabel, make_combo

SHOWN = 16  # units per hidden column
DEFAULT_LINKS = 3
MAX_LINKS = 16
SOURCE_TEST = "test"
SOURCE_DRAWING = "drawing"
RADIUS = 10.0
ROW = 27.0
COLUMN_GAP = 190.0
IMAGE_SIDE = 112  # the digit, 4 screen pixels per pixel
MAP_TILE = 24  # a channel's feature map in a convolutional network's column, screen pixels (about)
MAP_COLUMN_GAP = 90.0
WIDTH_CLASSES = 4  # link widths drawn: one painter path per sign and width class
POSITIVE, NEGATIVE = QColor("#c0392b"), QColor("#2166ac")
KIND, LAYER, UNIT = 0, 1, 2  # item data keys
UNIT_ITEM, MORE_ITEM = "unit", "more"


@dataclass(frozen=True)
class Column:
    """One column of units: ``values`` (units,) for the digit, ``shown`` (k,) the units drawn
    top to bottom, ``layer`` the position in ``model.layers`` whose output they are, ``span``
    (low, high) of the shading, ``hidden`` more units than shown."""

    name: str
    layer: int
    values: np.ndarray
    shown: np.ndarray
    span: tuple[float, float]
    hidden: int


@dataclass(frozen=True)
class Links:
    """The links drawn into one column: for each shown unit j of it (k,), its ``per_unit``
    strongest incoming weights: ``rows`` (per_unit, k) positions among the column before's shown
    units (or pixels), ``weights`` (per_unit, k)."""

    rows: np.ndarray
    weights: np.ndarray


IMAGE_NETWORK_NOTE = ("A convolutional network: the Neuron lab explains networks of Dense layers only, for now. "
                      "The Network diagram shows its feature maps; Inside the network its kernels, feature maps "
                      "and their δ.")
MAPS_NOTE = ("A convolutional network: one column per image layer, one tile per channel: its feature map for "
             "this digit (blue < 0 < red, one colour scale per layer; the first 16 channels). The Dense layers "
             "after flatten are not drawn here (the Hidden-layer map maps them), and the Neuron lab explains "
             "networks of Dense layers only, for now.")


def unit_layers_of(model: Sequential) -> list[int]:
    """Per column after the input: the position in ``model.layers`` whose output a unit of it
    is: each hidden layer's last element-wise layer (its activation), then the output Dense."""
    positions = []
    for i, layer in enumerate(model.layers):
        following = model.layers[i + 1] if i + 1 < len(model.layers) else None
        if isinstance(layer, (Dense, Dropout)) and following is not None:
            continue
        if following is None or isinstance(following, Dense):
            positions.append(i)
    return positions


def columns_for(model: Sequential, digit: np.ndarray, pages: dict[int, int]) -> list[Column]:
    """The unit columns for one ``digit`` (inputs,); ``pages`` {column: page} pages a wide column."""
    with using_blas():
        outputs = layer_outputs(model, digit)
    columns = []
    for k, (layer, output) in enumerate(zip(unit_layers_of(model), outputs, strict=True)):
        values = np.asarray(output.values[0], np.float64)
        last = k == len(outputs) - 1
        if last and len(values) <= SHOWN:
            shown = np.arange(len(values))  # the classes in their own order
        else:
            order = np.argsort(-values, kind="stable")
            pages_count = -(-len(values) // SHOWN)
            page = pages.get(k, 0) % pages_count
            shown = order[page * SHOWN:(page + 1) * SHOWN]
        span = (0.0, 1.0) if last else activation_range(model, layer)
        if span is None:
            finite = values[np.isfinite(values)]
            span = (0.0, float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
        columns.append(Column(output.name, layer, values, shown, span, len(values) - len(shown)))
    return columns


def strongest_links(weights: np.ndarray, per_unit: int) -> Links:
    """For each column j of ``weights`` (rows, k), the ``per_unit`` rows of largest |w|."""
    per_unit = max(1, min(per_unit, weights.shape[0]))
    rows = np.argsort(-np.abs(weights), axis=0, kind="stable")[:per_unit]
    return Links(rows, np.take_along_axis(weights, rows, axis=0))


def incoming_weights(model: Sequential, columns: list[Column], k: int) -> np.ndarray:
    """The weights (rows, shown) into column ``k``'s shown units from the column before's shown
    units (from every input for the first column)."""
    dense = max(i for i, layer in enumerate(model.layers[:columns[k].layer + 1]) if isinstance(layer, Dense))
    w = model.layers[dense].params["W"]
    rows = np.arange(w.shape[0]) if k == 0 else columns[k - 1].shown
    return w[np.ix_(rows, columns[k].shown)]


def shade(value: float, span: tuple[float, float]) -> QColor:
    """Fill of a unit: white at the span's low end (or at 0 for a range around 0) to dark orange at
    its high end; below 0 on a range around 0, to blue."""
    low, high = span
    if not np.isfinite(value):
        return QColor("#999999")
    if low < 0 < high and value < 0:
        t = min(1.0, value / low)
        return QColor.fromRgbF(1 - 0.8 * t, 1 - 0.6 * t, 1 - 0.2 * t)
    base = max(low, 0.0)
    t = float(np.clip((value - base) / (high - base), 0.0, 1.0)) if high > base else 0.0
    return QColor.fromRgbF(1.0, 1 - 0.55 * t, 1 - 0.9 * t)


class DiagramCanvas(QGraphicsView):
    """The scene and its clicks: ``item_clicked(kind, layer_or_column, unit)``."""

    item_clicked = Signal(str, int, int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("networkDiagramCanvas")
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.Antialiasing)
        self.setBackgroundBrush(QColor("white"))
        self.setMinimumSize(300, 200)

    def mousePressEvent(self, event) -> None:
        for item in self.items(event.position().toPoint()):
            if item.data(KIND) in (UNIT_ITEM, MORE_ITEM):
                self.item_clicked.emit(item.data(KIND), item.data(LAYER), item.data(UNIT))
                return
        super().mousePressEvent(event)

    def fit(self) -> None:
        rect = self.scene().itemsBoundingRect().adjusted(-10, -10, 10, 10)
        self.setSceneRect(rect)
        self.fitInView(rect, Qt.KeepAspectRatio)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()


class NetworkDiagram(QWidget):
    """The diagram tab. Signals: ``unit_clicked(layer, unit)``; ``digit_changed()`` when the
    chosen digit changes (read it with ``digit()`` and ``digit_label()``)."""

    PREPARE = ()  # one digit's forward: cheap enough to run while drawing
    unit_clicked = Signal(int, int)
    digit_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("networkDiagram")
        self._context = ModelContext(None, None)
        self._drawn_digit: np.ndarray | None = None
        self._pages: dict[int, int] = {}
        self.columns: list[Column] = []
        self.links: list[Links] = []
        self.map_columns: list[FeatureMap] = []  # a convolutional network's image layers, drawn as maps
        self.unit_items: dict[tuple[int, int], object] = {}  # (layer, unit) -> its circle
        self.more_items: dict[int, object] = {}  # column -> its "+N more" marker
        self.redraws = 0

        self.source_combo = make_combo("diagramSource", "Which digit flows through the network.",
                                       [("test image #", SOURCE_TEST), ("the drawing pad's digit", SOURCE_DRAWING)],
                                       self._on_digit_choice)
        self.test_spin = QSpinBox()
        self.test_spin.setObjectName("diagramDigitSpin")
        self.test_spin.setRange(0, 0)
        self.test_spin.setToolTip("Index of the test image (clicking a misclassified digit selects it too).")
        self.test_spin.valueChanged.connect(self._on_digit_choice)
        self.link_slider = QSlider(Qt.Horizontal)
        self.link_slider.setObjectName("linkSlider")
        self.link_slider.setRange(1, MAX_LINKS)
        self.link_slider.setValue(DEFAULT_LINKS)
        self.link_slider.setToolTip("How many of its strongest incoming links each shown unit draws.")
        self.link_slider.valueChanged.connect(self.redraw)
        self.link_label = QLabel()
        self.link_label.setObjectName("linkLabel")
        self.note = WrappingLabel()
        self.note.setObjectName("diagramNote")
        self.canvas = DiagramCanvas()
        self.canvas.item_clicked.connect(self._on_item_clicked)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Digit:"))
        controls.addWidget(self.source_combo)
        controls.addWidget(self.test_spin)
        controls.addSpacing(16)
        controls.addWidget(QLabel("Links per unit:"))
        controls.addWidget(self.link_slider, 1)
        controls.addWidget(self.link_label)
        column = QVBoxLayout(self)
        column.addLayout(controls)
        column.addWidget(self.note)
        column.addWidget(self.canvas, 1)
        self.redraw()

    # ------------------------------------------------------------------ the chosen digit
    def digit(self) -> np.ndarray | None:
        """The chosen digit (inputs,), or None."""
        if self.source_combo.currentData() == SOURCE_DRAWING:
            return self._drawn_digit
        dataset = self._context.dataset
        if dataset is None or self.test_spin.value() >= len(dataset.y_test):
            return None
        return dataset.x_test[self.test_spin.value()]

    def digit_label(self) -> int | None:
        """The chosen test image's true class; None for a drawn digit."""
        if self.source_combo.currentData() == SOURCE_DRAWING or self._context.dataset is None:
            return None
        return int(self._context.dataset.y_test[self.test_spin.value()])

    @Slot(object)
    def set_drawn_digit(self, digit: np.ndarray | None) -> None:
        self._drawn_digit = digit
        if self.source_combo.currentData() == SOURCE_DRAWING:
            self._on_digit_choice()

    @Slot(int)
    def select_test_digit(self, index: int) -> None:
        self.test_spin.setMaximum(max(self.test_spin.maximum(), index))
        self.source_combo.setCurrentIndex(self.source_combo.findData(SOURCE_TEST))
        self.test_spin.setValue(index)

    # ------------------------------------------------------------------ drawing
    def set_context(self, context: ModelContext) -> None:
        old = self._context.model
        self._context = context
        if context.dataset is not None:
            self.test_spin.setMaximum(len(context.dataset.y_test) - 1)
        if old is None or context.model is None or old.get_config() != context.model.get_config():
            self._pages = {}
        self.redraw()
        self.digit_changed.emit()

    @Slot()
    def redraw(self) -> None:
        self.link_label.setText(str(self.link_slider.value()))
        scene = self.canvas.scene()
        scene.clear()
        self.unit_items, self.more_items, self.columns, self.links = {}, {}, [], []
        self.map_columns = []
        model, digit = self._context.model, self.digit()
        if model is not None and model.is_image_network and digit is not None and len(digit) == model.input_size:
            try:  # one digit through the image layers, as the Dense columns below are computed
                with using_blas():
                    self.map_columns = feature_maps(model, digit)
            except ExplainError as error:
                self.note.setText(f"{IMAGE_NETWORK_NOTE} ({error})")
                return
            self.note.setText(MAPS_NOTE)
            self._draw_maps(digit)
            self.redraws += 1
            return
        if model is None or digit is None or len(digit) != model.input_size:
            self.note.setText("No model yet: train or open one." if model is None else
                              "Nothing drawn on the pad yet." if digit is None else
                              "The model does not fit this data set.")
            return
        self.columns = columns_for(model, digit, self._pages)
        self.note.setText("Click a unit to open it in the Neuron lab; click “+N more” to page through a wide layer.")
        self._draw(model, digit)
        self.redraws += 1

    def _draw(self, model: Sequential, digit: np.ndarray) -> None:
        scene = self.canvas.scene()
        top, n = -ROW * SHOWN / 2, model.input_size
        side = square_side(n)
        if side is not None and side <= IMAGE_SIDE:
            pixmap = digit_pixmap(digit, IMAGE_SIDE)
            scene.addPixmap(pixmap).setPos(0, -IMAGE_SIDE / 2)
            pixel = pixmap.width() / side
            inputs = [QPointF(pixel * (i % side + 0.5), -IMAGE_SIDE / 2 + pixel * (i // side + 0.5))
                      for i in range(n)]
        else:  # not a square image: the inputs as a line of points
            inputs = [QPointF(IMAGE_SIDE / 2, top + i * ROW * SHOWN / n) for i in range(n)]
        label = scene.addText(f"input ({model.input_size})")
        label.setPos(0, -IMAGE_SIDE / 2 - 24)
        before = inputs
        font = QFont()
        font.setPointSize(8)
        for k, column in enumerate(self.columns):
            x = IMAGE_SIDE + COLUMN_GAP * (k + 1) - 60
            centres = [QPointF(x, top + ROW * (i + 0.5 + (SHOWN - len(column.shown)) / 2))
                       for i in range(len(column.shown))]
            links = strongest_links(incoming_weights(model, self.columns, k), self.link_slider.value())
            self.links.append(links)
            self._draw_links(scene, before if k else inputs, centres, links)
            last = k == len(self.columns) - 1
            for centre, unit in zip(centres, column.shown, strict=True):
                value = float(column.values[unit])
                item = scene.addEllipse(QRectF(centre.x() - RADIUS, centre.y() - RADIUS, 2 * RADIUS, 2 * RADIUS),
                                        QPen(QColor("#555555"), 1), QBrush(shade(value, column.span)))
                item.setData(KIND, UNIT_ITEM)
                item.setData(LAYER, column.layer)
                item.setData(UNIT, int(unit))
                what = "probability" if last else "activation"
                item.setToolTip(f"{column.name}, unit {unit}: {what} {value:.4g}. Click to open it in the Neuron lab.")
                self.unit_items[(column.layer, int(unit))] = item
                if last:
                    names = self._context.class_names
                    text = scene.addText(f"{names[unit] if unit < len(names) else unit}  {100 * value:.1f}%")
                    text.setFont(font)
                    text.setPos(centre.x() + RADIUS + 2, centre.y() - 10)
            title = scene.addText(column.name.replace(" units)", ")"))
            title.setFont(font)
            title.setPos(x - 60, top - 28)
            if column.hidden:
                more = scene.addText(f"+{column.hidden} more ▸")
                more.setFont(font)
                more.setDefaultTextColor(QColor("#2f6db3"))
                more.setPos(x - 30, top + ROW * SHOWN + 2)
                more.setData(KIND, MORE_ITEM)
                more.setData(LAYER, k)
                more.setData(UNIT, -1)
                more.setToolTip("Show the next units of this layer, in order of activation for this digit.")
                self.more_items[k] = more
            before = centres
        self.canvas.fit()

    def _draw_maps(self, digit: np.ndarray) -> None:
        """The digit, then each image layer as a column of its channels' feature maps."""
        scene = self.canvas.scene()
        top = -MAP_TILE * SHOWN * 1.1 / 2
        side = square_side(len(digit))
        if side is not None:
            scene.addPixmap(digit_pixmap(digit, IMAGE_SIDE)).setPos(0, -IMAGE_SIDE / 2)
        font = QFont()
        font.setPointSize(8)
        for k, feature in enumerate(self.map_columns):
            channels, height, width = feature.values.shape
            x = IMAGE_SIDE + 30 + k * MAP_COLUMN_GAP
            scale, zoom = map_scale(feature.values), enlarged_side(max(height, width), MAP_TILE)
            shown = min(channels, SHOWN)
            for c in range(shown):
                tile = scene.addPixmap(mosaic_pixmap(map_mosaic(feature.values[c][None], scale, 1, zoom)))
                tile.setPos(x, top + c * MAP_TILE * 1.1)
                tile.setToolTip(f"{feature.name}, channel {c}: {height}×{width}, from {feature.values[c].min():.3g} "
                                f"to {feature.values[c].max():.3g}")
            title = scene.addText(f"{feature.name}\n{channels}×{height}×{width}")
            title.setFont(font)
            title.setPos(x - 8, top - 40)
            if channels > shown:
                more = scene.addText(f"+{channels - shown} more")
                more.setFont(font)
                more.setPos(x, top + shown * MAP_TILE * 1.1)
        self.canvas.fit()

    @staticmethod
    def _draw_links(scene, starts: list[QPointF], ends: list[QPointF], links: Links) -> None:
        if links.weights.size == 0:
            return
        largest = float(np.max(np.abs(links.weights))) or 1.0
        classes = np.minimum((np.abs(links.weights) / largest * WIDTH_CLASSES).astype(int), WIDTH_CLASSES - 1)
        for sign, colour in ((1, POSITIVE), (-1, NEGATIVE)):
            for width in range(WIDTH_CLASSES):
                picked = np.argwhere((classes == width) & (np.sign(links.weights) == sign))
                if not len(picked):
                    continue
                path = QPainterPath()
                for r, j in picked:
                    path.moveTo(starts[links.rows[r, j]])
                    path.lineTo(ends[j])
                pen_colour = QColor(colour)
                pen_colour.setAlphaF(0.25 + 0.75 * (width + 1) / WIDTH_CLASSES)
                pen = QPen(pen_colour, 0.5 + 1.2 * width)
                item = scene.addPath(path, pen)
                item.setZValue(-1)

    # ------------------------------------------------------------------ internals
    @Slot()
    def _on_digit_choice(self) -> None:
        self.test_spin.setEnabled(self.source_combo.currentData() == SOURCE_TEST)
        self.redraw()
        self.digit_changed.emit()

    @Slot(str, int, int)
    def _on_item_clicked(self, kind: str, layer: int, unit: int) -> None:
        if kind == MORE_ITEM:
            self._pages[layer] = self._pages.get(layer, 0) + 1
            self.redraw()
        else:
            self.unit_clicked.emit(layer, unit)
