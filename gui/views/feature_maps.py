"""Inside a convolutional network: the first convolution's kernels, and the feature maps of every
convolution, activation and pooling for one digit (``scratchnet.explain.feature_maps``, computed in
a worker thread; this module only draws).

Each map is a small image in the diverging colours of the weight tiles (blue < 0 < red, white at
zero), one scale per layer, enlarged pixel for pixel so that every layer's maps are about the
same size on screen whatever their resolution.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QDeadlineTimer, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from scratchnet.explain import FeatureMap, feature_maps

from .background import LatestJob

VALUES, DELTAS = "values", "gradient"
MAP_KINDS = [("feature maps", VALUES), ("δ = dL/d(map)", DELTAS)]
MAP_KIND_TIP = ("One row per layer, one map per channel. Feature maps: what each layer gives for the digit. "
                "δ: how the loss for the digit's label (a "
                "drawing: the predicted class) changes with each value of the map, as backpropagation "
                "computes it: red where raising the value would raise the loss, blue where it would lower it.")
MAP_SIDE = 40  # screen pixels a map is enlarged to, at least (a whole multiple of its side)
KERNEL_SIDE = 40
GAP_RGBA = (70, 70, 70, 255)


def enlarged_side(side: int, target: int = MAP_SIDE) -> int:
    """The zoom for a map of ``side`` pixels: a whole number, at least 1, near ``target`` pixels."""
    return max(1, round(target / side))


def map_mosaic(maps: np.ndarray, scale: float, columns: int, zoom: int) -> np.ndarray:
    """``maps`` (n, h, w) side by side, ``columns`` a row, each pixel ``zoom`` × ``zoom`` screen
    pixels, with 1-pixel grey gaps. Returns (H, W, 4) uint8 RGBA: blue negative, white zero, red
    positive, full colour at ±``scale``."""
    from .weights import diverging_lut  # the weight tiles' colour map

    n, h, w = maps.shape
    rows = math.ceil(n / max(1, min(columns, n)))
    columns = math.ceil(n / rows)  # as even rows as the width allows: 16 maps in 2 rows of 8, not 14 + 2
    th, tw = h * zoom, w * zoom
    codes = np.clip((maps / scale + 1.0) * 127.5, 0, 255).astype(np.uint8)
    codes = codes.repeat(zoom, axis=1).repeat(zoom, axis=2)
    gap = np.array(GAP_RGBA, np.uint8).view(np.uint32)[0]
    tiles = np.full((rows * columns, th + 1, tw + 1), gap, np.uint32)
    tiles[:n, 1:, 1:] = diverging_lut().view(np.uint32)[:, 0][codes]
    mosaic = np.full((rows * (th + 1) + 1, columns * (tw + 1) + 1), gap, np.uint32)
    mosaic[:-1, :-1] = tiles.reshape(rows, columns, th + 1, tw + 1).transpose(0, 2, 1, 3).reshape(
        rows * (th + 1), columns * (tw + 1))
    return mosaic.view(np.uint8).reshape(mosaic.shape[0], mosaic.shape[1], 4)


def map_scale(values: np.ndarray) -> float:
    """A layer's colour scale: its largest |value| (never 0)."""
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def mosaic_pixmap(mosaic: np.ndarray) -> QPixmap:
    height, width = mosaic.shape[:2]
    image = QImage(np.ascontiguousarray(mosaic).data, width, height, 4 * width, QImage.Format_RGBA8888).copy()
    return QPixmap.fromImage(image)


class MapRow(QWidget):
    """One layer: its title and its maps, wrapped to the width given."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.mosaic: np.ndarray | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.image)

    def show_map(self, feature: FeatureMap, width: int, kind: str = VALUES) -> None:
        values = feature.gradient if kind == DELTAS else feature.values
        channels, height, side = values.shape
        zoom = enlarged_side(max(height, side))
        columns = max(1, (width - 1) // (side * zoom + 1))
        scale = map_scale(values)
        what = f"δ of {feature.name} for class {feature.label}" if kind == DELTAS else feature.name
        self.title.setText(f"{what}: {channels} × {height}×{side}   (colour scale ±{scale:.3g})")
        self.mosaic = map_mosaic(values, scale, columns, zoom)
        self.image.setPixmap(mosaic_pixmap(self.mosaic))
        self.image.setFixedSize(self.mosaic.shape[1], self.mosaic.shape[0])


class FeatureMapsView(QScrollArea):
    """The feature maps of one digit, layer under layer; ``drawn`` after each new set is shown.

    ``compute(model, image, label)`` runs ``feature_maps`` in a worker thread (the newest request
    wins); ``set_kind`` shows the maps or their δ; ``show_note(text)`` shows a sentence instead."""

    drawn = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("featureMapsView")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setToolTip("What each convolution, activation and pooling layer gives for this digit (or its δ): "
                        "one small image per channel (blue < 0 < red, white at zero; one colour scale per layer). "
                        "Early maps look like the digit seen through each kernel: edges, strokes, corners; later "
                        "ones are coarser and more abstract.")
        self.job = LatestJob(self)
        self.note = QLabel()
        self.note.setObjectName("featureMapsNote")
        self.note.setWordWrap(True)
        inner = QWidget()
        self._column = QVBoxLayout(inner)
        self._column.addWidget(self.note)
        self._column.addStretch(1)
        self.setWidget(inner)
        self.rows: list[MapRow] = []
        self._maps: list[FeatureMap] = []
        self._drawn_width = 0
        self.kind = VALUES

    def maps(self) -> list[FeatureMap]:
        """The feature maps shown (empty while a note shows)."""
        return list(self._maps)

    def compute(self, model, image: np.ndarray, label: int | None = None) -> None:
        self.job.submit(lambda: feature_maps(model, image, label), self._on_done)

    def set_kind(self, kind: str) -> None:
        """``VALUES`` (the maps) or ``DELTAS`` (dL/d each map)."""
        self.kind = kind
        if self._maps:
            self._draw()

    def show_note(self, text: str) -> None:
        self._maps = []
        self._draw()
        self.note.setText(text)
        self.note.show()

    def close_job(self, deadline: QDeadlineTimer) -> None:
        self.job.close(deadline)

    def _on_done(self, maps, error) -> None:
        if error is not None:
            self.show_note(f"Could not compute the feature maps: {error}")
        else:
            self._maps = maps
            self.note.hide()
            self._draw()
        self.drawn.emit()

    def _draw(self) -> None:
        width = max(self.viewport().width() - 12, MAP_SIDE + 2)
        self._drawn_width = width
        while len(self.rows) > len(self._maps):
            self.rows.pop().deleteLater()
        while len(self.rows) < len(self._maps):
            row = MapRow()
            self._column.insertWidget(self._column.count() - 1, row)
            self.rows.append(row)
        for row, feature in zip(self.rows, self._maps, strict=True):
            row.show_map(feature, width, self.kind)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._maps and abs(self.viewport().width() - 12 - self._drawn_width) > 8:
            self._draw()


class KernelView(QLabel):
    """The first convolution's kernels, one enlarged tile each (``kernels`` (out, in, k, k); the
    channels of a kernel that reads several side by side)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("convKernels")
        self.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
        self.setToolTip("Each tile is one kernel of the first convolution, enlarged: it is slid over the image, "
                        "and its feature map is bright where the image looks like it (red weights where the "
                        "stroke should be, blue where it should not).")
        self.mosaic: np.ndarray | None = None

    def show_kernels(self, kernels: np.ndarray, columns: int) -> float:
        """Draw ``kernels``; returns the colour scale."""
        out, channels, k, _ = kernels.shape
        tiles = kernels.transpose(0, 2, 1, 3).reshape(out, k, channels * k)
        scale = map_scale(kernels)
        self.mosaic = map_mosaic(tiles, scale, columns, enlarged_side(k, KERNEL_SIDE))
        self.setPixmap(mosaic_pixmap(self.mosaic))
        return scale

    def clear(self) -> None:
        self.mosaic = None
        super().clear()
