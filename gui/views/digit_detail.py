"""The detail of one test digit: the large image, all class probabilities and the top 3, and
"Show its backprop" (``backprop_requested(index)``) to follow it in the Backprop tab."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QVBoxLayout

from .images import digit_pixmap
from .probability_bars import ProbabilityBars
from .widgets import make_button

LARGE_SIDE = 224


class DigitDetail(QDialog):
    """A non-modal dialog, reused for every digit the user clicks."""

    backprop_requested = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.index: int | None = None
        self.setObjectName("digitDetail")
        self.setWindowTitle("Test digit")
        self.image_label = QLabel()
        self.image_label.setFixedSize(LARGE_SIDE, LARGE_SIDE)
        self.title_label = QLabel()
        self.title_label.setObjectName("detailTitle")
        self.title_label.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.top3_label = QLabel()
        self.top3_label.setObjectName("detailTop3")
        self.top3_label.setTextFormat(Qt.RichText)
        self.bars = ProbabilityBars([str(i) for i in range(10)])
        self.bars.setObjectName("detailBars")
        side = QVBoxLayout()
        side.addWidget(self.title_label)
        side.addWidget(self.bars)
        side.addWidget(self.top3_label)
        self.backprop_button = make_button(
            "Show its backprop", "detailBackpropButton",
            "Follow this digit forward and backward through the network, in the Backprop tab.", self._backprop)
        side.addWidget(self.backprop_button, 0, Qt.AlignLeft)
        side.addStretch(1)
        row = QHBoxLayout(self)
        row.addWidget(self.image_label, 0, Qt.AlignTop)
        row.addLayout(side, 1)

    def show_digit(self, index: int, pixels: np.ndarray, true_class: int, probabilities: np.ndarray,
                   class_names: list[str]) -> None:
        """``pixels`` (784,), ``probabilities`` (C,)."""
        self.index = index
        self.image_label.setPixmap(digit_pixmap(pixels, LARGE_SIDE))
        self.bars.set_labels(class_names)
        self.bars.set_probabilities(probabilities)
        predicted = int(np.argmax(probabilities))
        verdict = "right" if predicted == true_class else "wrong"
        self.title_label.setText(
            f"Test image #{index}: true {class_names[true_class]}, predicted {class_names[predicted]} ({verdict})"
        )
        top = np.argsort(-probabilities)[:3]
        rows = "".join(f"<li><b>{class_names[k]}</b> — {100 * probabilities[k]:.1f}%</li>" for k in top)
        self.top3_label.setText(f"<b>Top 3</b><ol>{rows}</ol>")
        self.setWindowTitle(f"Test digit #{index}")
        self.show()
        self.raise_()

    def _backprop(self) -> None:
        if self.index is not None:
            self.hide()
            self.backprop_requested.emit(self.index)
