"""The drawing pieces of the Backprop tab: heat maps of one vector of numbers, and the column of
the network diagram that shows a layer's values and, going backward, their gradients.

Colours: pixels in grey (0 black, 1 white); every other number on a diverging map centred on
zero, blue negative, white zero, red positive, each map scaled to its own largest magnitude.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from .images import DIGIT_SIDE
from .weights import diverging_lut

SIGNED = "signed"
GREY = "grey"
STRIP_MAX = 32  # at most this many values are drawn as one column (the classes); more as a square
EMPTY_RGBA = (235, 235, 235, 255)
HIGHLIGHT = "#ff8c00"
SELECTED_PEN = QColor("#111111")


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of the cells of ``count`` values: 28×28 for an image's pixels, one column
    for up to ``STRIP_MAX`` values, else a near-square grid filled row by row."""
    if count == DIGIT_SIDE * DIGIT_SIDE:
        return DIGIT_SIDE, DIGIT_SIDE
    if count <= STRIP_MAX:
        return count, 1
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def heat_rgba(values: np.ndarray, mode: str, scale: float | None = None,
              shape: tuple[int, int] | None = None) -> np.ndarray:
    """(rows, columns, 4) uint8 RGBA of ``values`` (n,) laid out by ``grid_shape`` (or ``shape``,
    row by row). ``GREY``: 0 black to 1 white; ``SIGNED``: diverging, full colour at ±``scale``
    (default: the largest magnitude). Non-finite values are drawn black; unused cells light grey."""
    values = np.asarray(values, np.float64).ravel()
    rows, columns = shape if shape is not None else grid_shape(values.size)
    rgba = np.empty((rows * columns, 4), np.uint8)
    rgba[:] = EMPTY_RGBA
    finite = np.isfinite(values)
    if mode == GREY:
        grey = (np.clip(np.where(finite, values, 0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        rgba[:values.size, :3] = grey[:, None]
        rgba[:values.size, 3] = 255
    else:
        if scale is None:
            scale = float(np.max(np.abs(values[finite]))) if finite.any() else 0.0
        scale = scale if scale > 0 else 1.0
        codes = np.clip((np.where(finite, values, 0.0) / scale + 1.0) * 127.5, 0, 255).astype(np.uint8)
        rgba[:values.size] = diverging_lut()[codes]
        rgba[:values.size][~finite] = (0, 0, 0, 255)
    return rgba.reshape(rows, columns, 4)


class HeatMap(QWidget):
    """One vector of numbers as square cells. Click a cell: ``unit_clicked(index)``. ``values``
    and ``image`` (the RGBA array drawn) are None while empty."""

    unit_clicked = Signal(int)

    def __init__(self, side: int = 84, parent=None) -> None:
        super().__init__(parent)
        self.values: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.selected: int | None = None
        self._qimage: QImage | None = None
        self._side = side
        self._labels: list[str] | None = None
        self.setMinimumSize(24, 24)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)
        self.setCursor(Qt.PointingHandCursor)

    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side)

    def set_values(self, values: np.ndarray | None, mode: str = SIGNED, labels: list[str] | None = None) -> None:
        """Show ``values`` (n,) (a matrix (rows, columns) as it is), or nothing (None).
        ``labels``: a name per value, drawn beside a strip."""
        if values is None:
            self.values = self.image = self._qimage = None
        else:
            values = np.asarray(values, np.float64)
            self.values = values.ravel().copy()
            self.image = heat_rgba(self.values, mode, shape=values.shape if values.ndim == 2 else None)
            height, width = self.image.shape[:2]
            self._qimage = QImage(self.image.data, width, height, 4 * width, QImage.Format_RGBA8888).copy()
        self._labels = labels if values is not None and labels and len(labels) == len(self.values) else None
        if self.selected is not None and (self.values is None or self.selected >= len(self.values)):
            self.selected = None
        self.update()

    def set_selected(self, unit: int | None) -> None:
        self.selected = unit
        self.update()

    def cells_rect(self) -> QRectF:
        """Where the cells are drawn: square cells, as large as fit, centred (room for labels)."""
        if self.image is None:
            return QRectF(self.rect())
        rows, columns = self.image.shape[:2]
        label_room = 14 if self._labels else 0
        cell = min((self.width() - label_room) / columns, self.height() / rows)
        cell = max(cell, 0.5)
        width, height = cell * columns, cell * rows
        left = label_room + (self.width() - label_room - width) / 2
        return QRectF(left, (self.height() - height) / 2, width, height)

    def unit_at(self, x: float, y: float) -> int | None:
        """The index of the value drawn at widget coordinates (x, y), or None."""
        if self.image is None:
            return None
        rect = self.cells_rect()
        if not rect.contains(x, y):
            return None
        rows, columns = self.image.shape[:2]
        row = min(int((y - rect.top()) / rect.height() * rows), rows - 1)
        column = min(int((x - rect.left()) / rect.width() * columns), columns - 1)
        index = row * columns + column
        return index if index < len(self.values) else None

    def unit_center(self, index: int) -> tuple[float, float]:
        """Widget coordinates of the middle of value ``index``'s cell (for tests and tours)."""
        rect = self.cells_rect()
        rows, columns = self.image.shape[:2]
        row, column = divmod(index, columns)
        return (rect.left() + (column + 0.5) * rect.width() / columns,
                rect.top() + (row + 0.5) * rect.height() / rows)

    def mousePressEvent(self, event) -> None:
        unit = self.unit_at(event.position().x(), event.position().y())
        if unit is not None and event.button() == Qt.LeftButton:
            self.unit_clicked.emit(unit)
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        if self._qimage is None:
            painter.fillRect(self.rect(), QColor(*EMPTY_RGBA))
            painter.end()
            return
        rect = self.cells_rect()
        painter.drawImage(rect, self._qimage)  # no smoothing: every value a crisp cell
        rows, columns = self.image.shape[:2]
        step = rect.height() / rows
        if self._labels and step >= 8:  # names only where they can be read
            painter.setPen(self.palette().windowText().color())
            font = painter.font()
            font.setPixelSize(int(min(step, 12)))
            painter.setFont(font)
            for k, label in enumerate(self._labels):
                painter.drawText(QRectF(rect.left() - 14, rect.top() + k * step, 12, step),
                                 Qt.AlignRight | Qt.AlignVCenter, label[:2])
        if self.selected is not None:
            row, column = divmod(self.selected, columns)
            w, h = rect.width() / columns, rect.height() / rows
            painter.setPen(QPen(SELECTED_PEN, 2))
            painter.drawRect(QRectF(rect.left() + column * w - 1, rect.top() + row * h - 1, w + 2, h + 2))
        painter.end()


class StageColumn(QFrame):
    """One column of the network diagram: a title, the values going forward, their gradients
    coming back. Highlighted (an orange frame) while its stage is the one shown.
    ``unit_clicked(unit)`` when a cell of either map is clicked."""

    unit_clicked = Signal(int)

    def __init__(self, title: str, tip: str, name: str, side: int = 84, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setFrameShape(QFrame.StyledPanel)
        # no word wrap: a wrapping label makes the diagram's height depend on its width, and the
        # scroll area then gives it more height than it shows
        self.title = QLabel(title.replace(" (", "\n("))
        self.title.setAlignment(Qt.AlignCenter)
        self.title.setToolTip(tip)
        self.values = HeatMap(side)
        self.values.setObjectName(f"{name}Values")
        self.gradients = HeatMap(side)
        self.gradients.setObjectName(f"{name}Gradients")
        self.values_caption = QLabel("")
        self.gradients_caption = QLabel("")
        for caption in (self.values_caption, self.gradients_caption):
            caption.setAlignment(Qt.AlignCenter)
            caption.setStyleSheet("color: #555; font-size: 10px;")
        for heat_map in (self.values, self.gradients):
            heat_map.unit_clicked.connect(self.unit_clicked)
        column = QVBoxLayout(self)
        column.setContentsMargins(3, 3, 3, 3)
        column.setSpacing(2)
        column.addWidget(self.title)
        column.addWidget(self.values, 1)
        column.addWidget(self.values_caption)
        column.addWidget(self.gradients, 1)
        column.addWidget(self.gradients_caption)
        self.highlighted = False
        self.set_highlighted(False)

    def set_highlighted(self, on: bool) -> None:
        if on == self.highlighted and self.styleSheet():
            return  # a style sheet costs ~0.4 ms to apply
        self.highlighted = on
        name = self.objectName()
        border = f"2px solid {HIGHLIGHT}" if on else "1px solid #cccccc"
        background = "#fff4e5" if on else "transparent"
        self.setStyleSheet(f"QFrame#{name} {{ border: {border}; border-radius: 4px; background: {background}; }}")

    def set_selected(self, unit: int | None) -> None:
        self.values.set_selected(unit)
        self.gradients.set_selected(unit)
