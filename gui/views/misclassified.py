"""The misclassified test digits: a paged grid with class filters, sorting and a count.

Each cell shows a digit with its true and predicted class and the confidence; a click opens
``DigitDetail`` and emits ``digit_selected(index)``. A page holds as many cells as the view has
room for (at most ``MAX_COLUMNS`` x ``MAX_ROWS``), so that a small screen pages instead of scrolling.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .digit_detail import DigitDetail
from .images import digit_pixmap
from .predictions import SORT_BY_CONFIDENCE, SORT_BY_INDEX, ModelContext, predictions_on_test_set
from .widgets import make_button, make_combo

MAX_COLUMNS = 10
MAX_ROWS = 7
CELL_IMAGE = 56
CELL_SPACING = 4


class CellGrid(QWidget):
    """Where the cells go: as many columns and rows of ``cell_size`` as fit (at least 2 x 1, at
    most ``MAX_COLUMNS`` x ``MAX_ROWS``); ``shape_changed`` when that number changes."""

    shape_changed = Signal()

    def __init__(self, cell_size: QSize, parent=None) -> None:
        super().__init__(parent)
        self.cell_size = cell_size
        self.layout_ = QGridLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(CELL_SPACING)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.shape = (MAX_COLUMNS, MAX_ROWS)

    def fitting_shape(self) -> tuple[int, int]:
        """(columns, rows) of cells that fit the current size."""
        pitch_x, pitch_y = self.cell_size.width() + CELL_SPACING, self.cell_size.height() + CELL_SPACING
        columns = (self.width() + CELL_SPACING) // pitch_x
        rows = (self.height() + CELL_SPACING) // pitch_y
        return min(max(columns, 2), MAX_COLUMNS), min(max(rows, 1), MAX_ROWS)

    def minimumSizeHint(self) -> QSize:
        return QSize(2 * self.cell_size.width() + CELL_SPACING, self.cell_size.height())

    def sizeHint(self) -> QSize:
        return QSize(MAX_COLUMNS * (self.cell_size.width() + CELL_SPACING),
                     MAX_ROWS * (self.cell_size.height() + CELL_SPACING))

    def set_cell_size(self, size: QSize) -> None:
        self.cell_size = size
        self.updateGeometry()
        self._check_shape()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._check_shape()

    def _check_shape(self) -> None:
        shape = self.fitting_shape()
        if shape != self.shape:
            self.shape = shape
            self.shape_changed.emit()


class MisclassifiedView(QWidget):
    digit_selected = Signal(int)
    PREPARE = (predictions_on_test_set,)  # what set_context reads, computed off the GUI thread first

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("misclassifiedView")
        self._context = ModelContext(None, None)
        self._indices = np.zeros(0, np.int64)
        self._page = 0
        self._shown_page_size = MAX_COLUMNS * MAX_ROWS
        self.detail = DigitDetail(self)

        self.true_combo = self._class_combo("trueFilter", "Show only digits of this true class.")
        self.predicted_combo = self._class_combo("predictedFilter", "Show only digits predicted as this class.")
        self.sort_combo = make_combo(
            "sortCombo", "Most confidently wrong first, or in the order of the test set.",
            [("most confident first", SORT_BY_CONFIDENCE), ("test-set order", SORT_BY_INDEX)], self._on_filters)
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        self.prev_button = make_button("◀ Previous", "prevPageButton", "The previous page of mistakes.",
                                       lambda: self.set_page(self._page - 1))
        self.next_button = make_button("Next ▶", "nextPageButton", "The next page of mistakes.",
                                       lambda: self.set_page(self._page + 1))
        self.page_label = QLabel()
        self.page_label.setObjectName("pageLabel")
        self.cells = [self._cell(i) for i in range(MAX_COLUMNS * MAX_ROWS)]
        self.grid = CellGrid(QSize(0, 0))
        self.grid.setObjectName("mistakesGrid")
        self.grid.shape_changed.connect(self._on_grid_shape)
        self._set_class_names(self._context.class_names)
        self._layout()
        self._show()

    def _layout(self) -> None:
        filters = QHBoxLayout()
        for text, widget in (("True class", self.true_combo), ("Predicted", self.predicted_combo),
                             ("Sort", self.sort_combo)):
            filters.addWidget(QLabel(text))
            filters.addWidget(widget)
            filters.addSpacing(8)
        filters.addStretch(1)
        self._place_cells()
        pages = QHBoxLayout()
        pages.addWidget(self.count_label, 1)  # under the grid: the filters row stays narrow
        pages.addWidget(self.prev_button)
        pages.addWidget(self.page_label)
        pages.addWidget(self.next_button)
        pages.addStretch(1)
        column = QVBoxLayout(self)
        column.addLayout(filters)
        column.addWidget(self.grid, 1)
        column.addLayout(pages)

    def _place_cells(self) -> None:
        """The page's cells in the grid's current shape, row by row."""
        columns, rows = self.grid.shape
        layout = self.grid.layout_
        for cell in self.cells:
            layout.removeWidget(cell)
        for i, cell in enumerate(self.cells[: self.page_size]):
            layout.addWidget(cell, i // columns, i % columns)
        for r in range(MAX_ROWS + 1):
            layout.setRowStretch(r, 0)
        layout.setRowStretch(rows, 1)  # the rows stay at the top

    def _class_combo(self, name: str, tip: str) -> QComboBox:
        return make_combo(name, tip, [("any", None)], self._on_filters)

    def _cell(self, position: int) -> QToolButton:
        cell = QToolButton()
        cell.setObjectName(f"digitCell{position}")
        cell.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)
        cell.setIconSize(QSize(CELL_IMAGE, CELL_IMAGE))
        cell.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        cell.setAutoRaise(True)
        cell.setToolTip("A misclassified test digit: true → predicted class and confidence. Click for details.")
        cell.clicked.connect(lambda: self.open_detail(int(self.page_indices()[position])))
        return cell

    # ------------------------------------------------------------------ public
    def set_context(self, context: ModelContext) -> None:
        """Show the mistakes of ``context``'s model; filters are kept, the page too when possible."""
        self._set_class_names(context.class_names)
        self._context = context
        self._select(keep_page=True)

    def _set_class_names(self, names: list[str]) -> None:
        """Fill both filter combos with ``names``, keeping the chosen classes where they still exist,
        and size the cells for the longest caption they can have."""
        if [self.true_combo.itemText(i) for i in range(1, self.true_combo.count())] == names:
            return
        longest = max((_short(name) for name in names), key=self.fontMetrics().horizontalAdvance)
        probe = QToolButton()
        probe.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)
        probe.setIconSize(QSize(CELL_IMAGE, CELL_IMAGE))
        probe.setIcon(QIcon(QPixmap(CELL_IMAGE, CELL_IMAGE)))
        probe.setText(f"{longest}→{longest} 100%")
        self.grid.set_cell_size(probe.sizeHint())
        for combo in (self.true_combo, self.predicted_combo):
            chosen = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("any", None)
            for k, name in enumerate(names):
                combo.addItem(name, k)
            combo.setCurrentIndex(max(combo.findData(chosen), 0) if chosen is not None else 0)
            combo.blockSignals(False)

    def set_filters(self, true_class: int | None, predicted_class: int | None) -> None:
        for combo, value in ((self.true_combo, true_class), (self.predicted_combo, predicted_class)):
            combo.blockSignals(True)
            combo.setCurrentIndex(max(combo.findData(value), 0))
            combo.blockSignals(False)
        self._select(keep_page=False)

    def filters(self) -> tuple[int | None, int | None]:
        return self.true_combo.currentData(), self.predicted_combo.currentData()

    def shown_indices(self) -> np.ndarray:
        """Test-set indices of every mistake that passes the filters, in display order."""
        return self._indices.copy()

    @property
    def page_size(self) -> int:
        """How many mistakes a page shows: as many as the view has room for."""
        columns, rows = self.grid.shape
        return columns * rows

    def page_indices(self) -> np.ndarray:
        return self._indices[self._page * self.page_size:(self._page + 1) * self.page_size]

    @property
    def page(self) -> int:
        return self._page

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(len(self._indices) / self.page_size))

    def set_page(self, page: int) -> None:
        self._page = min(max(page, 0), self.page_count - 1)
        self._show()

    @Slot(int)
    def open_detail(self, index: int) -> None:
        predictions, dataset = self._context.predictions, self._context.dataset
        self.detail.show_digit(index, dataset.x_test[index], int(predictions.true[index]),
                               predictions.probabilities[index], self._context.class_names)
        self.digit_selected.emit(index)

    # ------------------------------------------------------------------ internals
    @Slot()
    def _on_grid_shape(self) -> None:
        """A new page size: the page that holds the first mistake shown so far."""
        first = self._page * self._shown_page_size
        self._place_cells()
        self.set_page(first // self.page_size)

    @Slot()
    def _on_filters(self) -> None:
        self._select(keep_page=False)

    def _select(self, keep_page: bool) -> None:
        predictions = self._context.predictions
        if predictions is None:
            self._indices = np.zeros(0, np.int64)
        else:
            true_class, predicted_class = self.filters()
            self._indices = predictions.wrong(true_class, predicted_class, self.sort_combo.currentData())
        self.set_page(self._page if keep_page else 0)

    def _show(self) -> None:
        predictions, names = self._context.predictions, self._context.class_names
        self._shown_page_size = self.page_size
        page = self.page_indices()
        for position, cell in enumerate(self.cells):
            if position >= len(page):
                cell.setVisible(False)
                continue
            index = int(page[position])
            true_class, predicted = int(predictions.true[index]), int(predictions.predicted[index])
            confidence = float(predictions.confidence[index])
            cell.setIcon(QIcon(digit_pixmap(self._context.dataset.x_test[index], CELL_IMAGE)))
            cell.setText(f"{_short(names[true_class])}→{_short(names[predicted])} {percent_floor(confidence)}")
            cell.setToolTip(f"Test image #{index}: true {names[true_class]}, predicted {names[predicted]} "
                            f"with {100 * confidence:.1f}% confidence. Click for details.")
            cell.setVisible(True)
        self.prev_button.setEnabled(self._page > 0)
        self.next_button.setEnabled(self._page < self.page_count - 1)
        self.page_label.setText(f"page {self._page + 1} of {self.page_count}")
        self.count_label.setText(self._count_text())

    def _count_text(self) -> str:
        predictions = self._context.predictions
        if predictions is None:
            return "No model yet: train or open one." if self._context.model is None else \
                "The model does not fit this data set."
        wrong = int(np.count_nonzero(predictions.true != predictions.predicted))
        text = f"{wrong:,} of {predictions.count:,} wrong"
        if self.filters() != (None, None):
            text = f"{len(self._indices):,} shown · " + text
        return text


def percent_floor(probability: float) -> str:
    """Whole percent, rounded down: a 99.8% sure mistake must not read as 100%."""
    return f"{math.floor(100 * probability)}%"


def _short(name: str) -> str:
    """A class name short enough for a cell caption."""
    return name if len(name) <= 6 else name[:5] + "…"
