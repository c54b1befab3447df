"""A compact horizontal bar chart of class probabilities, painted directly (cheap to update)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR_COLOUR = QColor("#8fb4d9")
TOP_COLOUR = QColor("#2f6db3")
ROW_HEIGHT = 22
MAX_ROWS = 10  # more classes (up to 100): the most probable ones, so the bars fit a small screen


class ProbabilityBars(QWidget):
    """One labelled bar per class, the most probable one highlighted; empty when no
    probabilities are set. Of more than ``MAX_ROWS`` classes, the ``MAX_ROWS`` most probable."""

    def __init__(self, labels: list[str], parent=None) -> None:
        super().__init__(parent)
        self._labels = list(labels)
        self._text_widths: tuple[int, int] | None = None  # label and percentage columns, measured once
        self._probabilities: np.ndarray | None = None
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMinimumWidth(220)
        self.setFixedHeight(ROW_HEIGHT * min(len(self._labels), MAX_ROWS) + 4)

    def set_labels(self, labels: list[str]) -> None:
        if list(labels) == self._labels:
            return
        self._labels = list(labels)
        self._text_widths = None
        self.setFixedHeight(ROW_HEIGHT * min(len(self._labels), MAX_ROWS) + 4)
        self.update()

    def label(self, index: int) -> str:
        return self._labels[index] if 0 <= index < len(self._labels) else str(index)

    def set_probabilities(self, probabilities: np.ndarray | None) -> None:
        """``probabilities``: (C,) summing to 1, or None to clear the bars."""
        self._probabilities = None if probabilities is None else np.asarray(probabilities, np.float64).copy()
        self.update()

    def probabilities(self) -> np.ndarray | None:
        return None if self._probabilities is None else self._probabilities.copy()

    def shown_rows(self) -> list[int]:
        """The classes drawn, top to bottom: all in order, or the ``MAX_ROWS`` most probable."""
        count = len(self._labels)
        if count <= MAX_ROWS:
            return list(range(count))
        if self._probabilities is None or len(self._probabilities) != count:
            return list(range(MAX_ROWS))
        return [int(i) for i in np.argsort(-self._probabilities, kind="stable")[:MAX_ROWS]]

    def sizeHint(self) -> QSize:
        return QSize(260, self.height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        if self._text_widths is None:
            metrics = painter.fontMetrics()
            self._text_widths = (
                max((metrics.horizontalAdvance(label) for label in self._labels), default=0) + 10,
                metrics.horizontalAdvance("100.0%") + 8,
            )
        label_width, percent_width = self._text_widths
        bar_space = max(self.width() - label_width - percent_width, 10)
        top = None if self._probabilities is None else int(np.argmax(self._probabilities))
        for row, index in enumerate(self.shown_rows()):
            label = self._labels[index]
            y = 2 + row * ROW_HEIGHT
            painter.setPen(self.palette().windowText().color())
            painter.drawText(QRectF(0, y, label_width - 6, ROW_HEIGHT), Qt.AlignRight | Qt.AlignVCenter, label)
            painter.fillRect(QRectF(label_width, y + 3, bar_space, ROW_HEIGHT - 6), QColor("#eeeeee"))
            if self._probabilities is None or index >= len(self._probabilities):
                continue
            p = float(self._probabilities[index])
            painter.fillRect(QRectF(label_width, y + 3, bar_space * p, ROW_HEIGHT - 6),
                             TOP_COLOUR if index == top else BAR_COLOUR)
            painter.drawText(QRectF(label_width + bar_space + 4, y, percent_width, ROW_HEIGHT),
                             Qt.AlignLeft | Qt.AlignVCenter, f"{100 * p:.1f}%")
        painter.end()
