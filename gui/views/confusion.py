"""The confusion matrix of the current model on the test set, with precision and recall.

Rows are true classes, columns predicted classes; the last row holds each class's precision and
the last column its recall. Clicking a count cell emits ``cell_chosen(true, predicted)``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from scratchnet.metrics import confusion_matrix, precision_recall

from .predictions import ModelContext, predictions_on_test_set
from .widgets import WrappingLabel

RIGHT = np.array([46, 125, 50])   # dark green for the diagonal
WRONG = np.array([198, 40, 40])   # dark red for the mistakes
METRIC_BACKGROUND = QColor("#f2f2f2")


def _tint(base: np.ndarray, strength: float) -> QColor:
    """White blended towards ``base`` by ``strength`` in [0, 1]."""
    rgb = 255 + (base - 255) * min(max(strength, 0.0), 1.0)
    return QColor(*np.rint(rgb).astype(int).tolist())


class ConfusionView(QWidget):
    cell_chosen = Signal(int, int)
    PREPARE = (predictions_on_test_set,)  # what set_context reads, computed off the GUI thread first

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("confusionView")
        self.matrix: np.ndarray | None = None
        self.summary_label = WrappingLabel()
        self.summary_label.setObjectName("confusionSummary")
        self.table = QTableWidget()
        self.table.setObjectName("confusionTable")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.setFocusPolicy(Qt.NoFocus)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.cellClicked.connect(self._on_cell_clicked)
        self.table.setToolTip("Rows: true class. Columns: predicted class. Click a cell to see those digits.")
        column = QVBoxLayout(self)
        column.addWidget(self.summary_label)
        column.addWidget(self.table, 1)
        self.set_context(ModelContext(None, None))

    def set_context(self, context: ModelContext) -> None:
        predictions = context.predictions
        if predictions is None:
            self.matrix = None
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.summary_label.setText("No model yet: train or open one." if context.model is None
                                       else "The model does not fit this data set.")
            return
        names = context.class_names
        self.matrix = confusion_matrix(predictions.true, predictions.predicted, len(names))
        precision, recall = precision_recall(self.matrix)
        self._fill(self.matrix, precision, recall, names)
        accuracy = np.trace(self.matrix) / max(self.matrix.sum(), 1)
        self.summary_label.setText(
            f"Test set: {self.matrix.sum():,} images, accuracy {100 * accuracy:.2f}%. Rows are true classes, "
            "columns predicted ones; click a cell to browse those digits."
        )

    def _fill(self, matrix: np.ndarray, precision: np.ndarray, recall: np.ndarray, names: list[str]) -> None:
        n = len(names)
        self.table.clear()
        self.table.setRowCount(n + 1)
        self.table.setColumnCount(n + 1)
        self.table.setHorizontalHeaderLabels([f"→ {name}" for name in names] + ["recall"])
        self.table.setVerticalHeaderLabels(list(names) + ["precision"])
        off_diagonal = matrix[~np.eye(n, dtype=bool)]
        worst = max(int(off_diagonal.max()) if off_diagonal.size else 1, 1)
        largest = max(int(np.diag(matrix).max()), 1)
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r in range(n):
            for c in range(n):
                count = int(matrix[r, c])
                item = QTableWidgetItem(f"{count:,}")
                item.setTextAlignment(Qt.AlignCenter)
                strength = count / largest if r == c else np.sqrt(count / worst)
                colour = _tint(RIGHT if r == c else WRONG, 0.85 * strength)
                item.setBackground(QBrush(colour))
                item.setForeground(QBrush(QColor("white" if colour.lightness() < 140 else "black")))
                item.setToolTip(f"{count:,} test images of class {names[r]} predicted as {names[c]}")
                self.table.setItem(r, c, item)
        for k in range(n):
            self.table.setItem(n, k, self._metric_item(precision[k], bold, f"precision of {names[k]}"))
            self.table.setItem(k, n, self._metric_item(recall[k], bold, f"recall of {names[k]}"))
        corner = QTableWidgetItem("")
        corner.setBackground(QBrush(METRIC_BACKGROUND))
        self.table.setItem(n, n, corner)

    @staticmethod
    def _metric_item(value: float, font: QFont, what: str) -> QTableWidgetItem:
        text = "—" if np.isnan(value) else f"{100 * value:.1f}%"
        item = QTableWidgetItem(text)
        item.setTextAlignment(Qt.AlignCenter)
        item.setFont(font)
        item.setBackground(QBrush(METRIC_BACKGROUND))
        item.setToolTip(f"{what}: {text}")
        return item

    @Slot(int, int)
    def _on_cell_clicked(self, row: int, column: int) -> None:
        if self.matrix is not None and row < len(self.matrix) and column < len(self.matrix):
            self.cell_chosen.emit(row, column)
