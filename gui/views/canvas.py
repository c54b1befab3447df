"""The drawing canvas: white ink on black, smooth round-capped strokes, undo and clear.

Strokes are rendered straight into a 280×280 Grayscale8 QImage, piece by piece as the mouse
moves, so ``ink()`` is always current and costs one NumPy copy. A stroke is smoothed by drawing
quadratic curves between the midpoints of its samples, with each sample as the control point;
undo re-renders the remaining strokes with exactly the same pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from .images import grey_array

CANVAS_SIDE = 280
DEFAULT_BRUSH = 18


@dataclass
class Stroke:
    width: float
    points: list[QPointF] = field(default_factory=list)


def _mid(a: QPointF, b: QPointF) -> QPointF:
    return (a + b) / 2.0


def piece_to(points: list[QPointF], i: int) -> QPainterPath:
    """The piece of a stroke that sample ``i`` (≥ 1) adds: a line from the first sample to the
    first midpoint, then quadratic curves from midpoint to midpoint through each sample."""
    if i == 1:
        path = QPainterPath(points[0])
        path.lineTo(_mid(points[0], points[1]))
        return path
    path = QPainterPath(_mid(points[i - 2], points[i - 1]))
    path.quadTo(points[i - 1], _mid(points[i - 1], points[i]))
    return path


def stroke_end(points: list[QPointF]) -> QPainterPath:
    """The closing piece: from the last midpoint to the last sample (a dot for a single tap)."""
    if len(points) == 1:
        path = QPainterPath(points[0])
        path.lineTo(points[0] + QPointF(0.01, 0.0))  # a zero-length path draws nothing; round caps make this a dot
        return path
    path = QPainterPath(_mid(points[-2], points[-1]))
    path.lineTo(points[-1])
    return path


def stroke_pieces(points: list[QPointF]) -> list[QPainterPath]:
    """Every piece of a finished stroke, in the order they were drawn live: the first dot, the
    pieces, the end. Antialiased edges add up where pieces overlap, so the order and the pieces
    must match for an undo to reproduce the image exactly."""
    return [stroke_end(points[:1])] + [piece_to(points, i) for i in range(1, len(points))] + [stroke_end(points)]


class DrawingCanvas(QWidget):
    """Signals: ``changed()`` after every change of the image (while drawing too);
    ``stroke_finished()`` when the mouse is released after a stroke (the image is then final)."""

    changed = Signal()
    stroke_finished = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("drawingCanvas")
        self.setFixedSize(CANVAS_SIDE, CANVAS_SIDE)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setCursor(Qt.CrossCursor)
        self.setToolTip("Draw a digit with the mouse or a pen. Esc clears, Ctrl+Z undoes the last stroke.")
        self.brush_width: float = DEFAULT_BRUSH
        self._strokes: list[Stroke] = []
        self._drawing = False
        self._image = QImage(CANVAS_SIDE, CANVAS_SIDE, QImage.Format_Grayscale8)
        self._image.fill(0)

    # ------------------------------------------------------------------ state
    @property
    def stroke_count(self) -> int:
        return len(self._strokes)

    def image(self) -> QImage:
        """A copy of the canvas image (Grayscale8, 280×280)."""
        return self._image.copy()

    def ink(self) -> np.ndarray:
        """(280, 280) float32 ink in [0, 1], 0 = paper."""
        return grey_array(self._image)

    def clear(self) -> None:
        self._strokes.clear()
        self._drawing = False
        self._image.fill(0)
        self.update()
        self.changed.emit()

    def undo(self) -> None:
        """Remove the last stroke and re-render the others."""
        if not self._strokes:
            return
        self._strokes.pop()
        self._drawing = False
        self._image.fill(0)
        painter = self._painter()
        for stroke in self._strokes:
            painter.setPen(_pen(stroke.width))
            for piece in stroke_pieces(stroke.points):
                painter.drawPath(piece)
        painter.end()
        self.update()
        self.changed.emit()

    def save_png(self, path: str) -> None:
        if not self._image.save(path, "PNG"):
            raise OSError(f"could not write {path}")

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.LeftButton:
            return super().mousePressEvent(event)
        self._strokes.append(Stroke(self.brush_width, [event.position()]))
        self._drawing = True
        self._draw(stroke_end(self._strokes[-1].points), self.brush_width)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not (self._drawing and event.buttons() & Qt.LeftButton):
            return super().mouseMoveEvent(event)
        points = self._strokes[-1].points
        if event.position() == points[-1]:
            return
        points.append(event.position())
        self._draw(piece_to(points, len(points) - 1), self.brush_width)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.LeftButton or not self._drawing:
            return super().mouseReleaseEvent(event)
        self._drawing = False
        points = self._strokes[-1].points
        if event.position() != points[-1]:
            points.append(event.position())
            self._draw(piece_to(points, len(points) - 1), self.brush_width, notify=False)
        self._draw(stroke_end(points), self.brush_width, notify=False)
        self.stroke_finished.emit()

    # ------------------------------------------------------------------ painting
    def _painter(self) -> QPainter:
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.Antialiasing)
        return painter

    def _draw(self, path: QPainterPath, width: float, notify: bool = True) -> None:
        painter = self._painter()
        painter.setPen(_pen(width))
        painter.drawPath(path)
        painter.end()
        margin = width / 2 + 2  # only the piece's area needs repainting
        self.update(path.controlPointRect().adjusted(-margin, -margin, margin, margin).toAlignedRect())
        if notify:
            self.changed.emit()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawImage(event.rect(), self._image, event.rect())
        painter.end()

    def sizeHint(self) -> QSize:
        return QSize(CANVAS_SIDE, CANVAS_SIDE)


def _pen(width: float) -> QPen:
    return QPen(Qt.white, width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)
