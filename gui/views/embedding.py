"""The hidden-layer map: a 2-D PCA of a chosen layer's outputs for ``MAP_DIGITS`` test digits,
one dot per digit coloured by its true class, with the 5-nearest-neighbour accuracy in the map
(how separable the layer has made the classes). The maths is ``scratchnet.explain``'s
(``pca_embedding``, ``knn_accuracy``), computed in a worker thread. Hovering shows the digit;
clicking opens its detail and emits ``digit_selected(index)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from scratchnet.explain import knn_accuracy, pca_embedding
from scratchnet.layers import Dense

from .background import LatestJob
from .digit_detail import DigitDetail
from .images import digit_pixmap
from .network_diagram import unit_layers_of
from .predictions import ModelContext, finite_probabilities
from .widgets import WrappingLabel, make_combo

MAP_DIGITS = 2000
NEIGHBOURS = 5
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
HISTORY = 8  # k-NN readings kept while a run trains
# a new model's map waits so that mapping takes at most this share of the time (it competes with
# training for the cores), and at least MIN_INTERVAL_S between two maps
WORK_SHARE = 0.05
MIN_INTERVAL_S = 1.0
KNN_WAIT_MS = 250


@dataclass(frozen=True)
class LayerMap:
    layer: int
    points: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,)
    knn: float | None  # None while it is being computed (the points are drawn first)


def layer_map(model, x: np.ndarray, y: np.ndarray, layer: int) -> LayerMap:
    points = pca_embedding(model, x, layer)
    return LayerMap(layer, points, y, knn_accuracy(points, y, NEIGHBOURS))


def mappable_layers(model) -> list[int]:
    """The layers the map offers: each hidden layer's output and the logits (``unit_layers_of``),
    from the first Dense layer on (a convolutional network's flattened maps, thousands of numbers
    an image, are left out)."""
    first = next(i for i, layer in enumerate(model.layers) if isinstance(layer, Dense))
    return [position for position in unit_layers_of(model) if position >= first]


class EmbeddingView(QWidget):
    """The map tab. ``digit_selected(index)``: a dot was clicked. ``points_drawn``: a map's points
    are drawn (its k-NN accuracy follows: ``mapped``)."""

    # nothing prepared: the map runs in the view's own jobs, and a clicked digit's probabilities
    # are one row's forward (not the whole test set's predictions, which would delay the map)
    PREPARE = ()
    digit_selected = Signal(int)
    mapped = Signal()
    points_drawn = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("embeddingView")
        self._context = ModelContext(None, None)
        self.map: LayerMap | None = None
        self.history: list[float] = []
        self._history_key = None
        self.job = LatestJob(self)
        self._last_start = -float("inf")
        self._seconds = 0.0  # how long the last map took
        # () -> True when a new model's map should wait (see WORK_SHARE): while a run trains, not
        # while the time slider moves (install_views sets it)
        self.throttled = lambda: True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)
        # the k-NN accuracy in its own job, so that a new map's points need not wait for it, and
        # only once the maps pause for KNN_WAIT_MS (while the slider moves, it would compete with them)
        self.knn_job = LatestJob(self)
        self._knn_timer = QTimer(self)
        self._knn_timer.setSingleShot(True)
        self._knn_timer.setInterval(KNN_WAIT_MS)
        self._knn_timer.timeout.connect(self._start_knn)
        self.jobs = (self.job, self.knn_job)
        self.detail = DigitDetail(self)
        self.layer_combo = make_combo("embeddingLayerCombo", "Whose outputs to map.", [], self.refresh)
        self.knn_label = WrappingLabel()
        self.knn_label.setObjectName("knnLabel")
        self.hover_image = QLabel()
        self.hover_image.setObjectName("embeddingHoverImage")
        self.hover_image.setFixedSize(84, 84)
        self.hover_label = WrappingLabel("Hover over a dot to see its digit; click it for its detail.")
        self.hover_label.setObjectName("embeddingHoverLabel")
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("embeddingPlot")
        self.plot.setLabel("bottom", "principal component 1")
        self.plot.setLabel("left", "principal component 2")
        self.plot.hideButtons()
        self.legend = self.plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        self.scatter = pg.ScatterPlotItem(size=5, pen=None, hoverable=True, hoverSize=9, hoverPen=pg.mkPen("k"))
        self.scatter.sigHovered.connect(self._on_hover)
        self.scatter.sigClicked.connect(self._on_click)
        self.plot.addItem(self.scatter)

        top = QHBoxLayout()
        top.addWidget(QLabel(f"Map of {MAP_DIGITS:,} test digits, layer:"))
        top.addWidget(self.layer_combo)
        top.addWidget(self.knn_label, 1)
        side = QVBoxLayout()
        side.addWidget(self.hover_image)
        side.addWidget(self.hover_label)
        side.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.plot, 1)
        body.addLayout(side)
        column = QVBoxLayout(self)
        column.addLayout(top)
        column.addLayout(body, 1)
        self.hover_label.setFixedWidth(150)

    def set_context(self, context: ModelContext) -> None:
        self._context = context
        model = context.model
        wanted = [] if model is None else mappable_layers(model)
        shown = [self.layer_combo.itemData(i) for i in range(self.layer_combo.count())]
        if wanted != shown:
            previous = self.layer_combo.currentIndex()
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            for k, layer in enumerate(wanted):
                self.layer_combo.addItem("output (logits)" if k == len(wanted) - 1 else f"hidden {k + 1}", layer)
            # the last hidden layer first: what the output layer separates
            default = max(0, len(wanted) - 2)
            self.layer_combo.setCurrentIndex(previous if 0 <= previous < len(wanted) and shown else default)
            self.layer_combo.blockSignals(False)
        waited, interval = time.perf_counter() - self._last_start, max(MIN_INTERVAL_S, self._seconds / WORK_SHARE)
        if waited < interval and self.throttled():  # while a run trains: a map at most every ``interval`` s
            self._timer.start(int(1000 * (interval - waited)) + 1)
            return
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        context, layer = self._context, self.layer_combo.currentData()
        if not context.usable or layer is None:
            self.scatter.clear()
            self.map = None
            self.knn_label.setText("No model yet: train or open one." if context.model is None else
                                   "The model does not fit this data set.")
            return
        count = min(MAP_DIGITS, len(context.dataset.y_test))
        x, y, model = context.dataset.x_test[:count], np.asarray(context.dataset.y_test[:count]), context.model
        key = (str(model.get_config()), layer)
        if key != self._history_key:
            self.history, self._history_key = [], key
        self._timer.stop()
        self._last_start = time.perf_counter()
        self.knn_label.setText("Computing the map…")
        # the points first (tens of ms), then their k-NN accuracy (hundreds): the map is drawn at once
        self.job.submit(lambda: LayerMap(layer, pca_embedding(model, x, layer), y, None), self._on_points)

    def _on_points(self, result: LayerMap | None, error: Exception | None) -> None:
        if error is not None:
            self.knn_label.setText(f"Could not map this layer: {error}")
            return
        self._draw(result)
        self.knn_label.setText(f"Computing the {NEIGHBOURS}-nearest-neighbour accuracy…")
        self.points_drawn.emit()
        self._knn_timer.start()

    @Slot()
    def _start_knn(self) -> None:
        result = self.map
        if result is not None and result.knn is None:
            self.knn_job.submit(lambda: replace(result, knn=knn_accuracy(result.points, result.labels, NEIGHBOURS)),
                                self._on_mapped)

    def _draw(self, result: LayerMap) -> None:
        self.map = result
        names = self._context.class_names
        brushes = [pg.mkBrush(CLASS_COLOURS[c % len(CLASS_COLOURS)]) for c in range(len(names))]
        self.scatter.setData(pos=result.points, brush=[brushes[c] for c in result.labels],
                             data=np.arange(len(result.labels)))
        self.legend.clear()
        for c, name in enumerate(names[:len(CLASS_COLOURS)]):
            self.legend.addItem(pg.ScatterPlotItem(size=8, pen=None, brush=brushes[c]), name)

    def _on_mapped(self, result: LayerMap | None, error: Exception | None) -> None:
        if self.map is None or result is not None and result.points is not self.map.points:
            return  # the accuracy of a map already replaced
        if error is not None:
            self.knn_label.setText(f"Could not map this layer: {error}")
            return
        self.map = result  # the same points, now with their k-NN accuracy
        self._seconds = time.perf_counter() - self._last_start
        self.history = (self.history + [result.knn])[-HISTORY:]
        trend = " → ".join(f"{100 * v:.1f}%" for v in self.history)
        so_far = f" (while training: {trend})" if len(self.history) > 1 else ""
        self.knn_label.setText(f"{NEIGHBOURS}-nearest-neighbour accuracy in this 2-D map: "
                               f"<b>{100 * result.knn:.1f}%</b>{so_far}")
        self.mapped.emit()

    def _on_hover(self, _item, points, _event) -> None:
        if len(points) and self._context.dataset is not None:
            index = int(points[0].data())
            names = self._context.class_names
            self.hover_image.setPixmap(digit_pixmap(self._context.dataset.x_test[index], 84))
            self.hover_label.setText(f"Test image #{index}, a {names[int(self.map.labels[index])]}")

    def _on_click(self, _item, points, _event) -> None:
        if len(points):
            self.open_digit(int(points[0].data()))

    def open_digit(self, index: int) -> None:
        """Open test digit ``index``'s detail and tell the other views (backprop, diagram)."""
        context, dataset = self._context, self._context.dataset
        if not context.usable:
            return
        probabilities = finite_probabilities(context.model.copy(), dataset.x_test[index:index + 1])[0]
        self.detail.show_digit(index, dataset.x_test[index], int(dataset.y_test[index]),
                               probabilities, context.class_names)
        self.digit_selected.emit(index)
