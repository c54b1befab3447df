"""The speed control's widgets: the slider (``speedSlider``) and slow motion's strip of digits."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from .pacing import PREVIEW_DIGITS, SPEED_TIP, SPEEDS, speed_text
from .views.images import digit_pixmap
from .views.widgets import WrappingLabel

PREVIEW_SIDE = 28  # digit_pixmap enlarges by whole factors of 28


class SpeedControl(QWidget):
    """"Speed" with its slider (``speedSlider``) and the speed in words; ``speed_changed`` carries
    updates per second (float) or None for full speed."""

    speed_changed = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("speedSlider")
        self.slider.setRange(0, len(SPEEDS) - 1)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setToolTip(SPEED_TIP)
        self.slider.setValue(len(SPEEDS) - 1)
        self.label = QLabel(speed_text(None))
        self.label.setObjectName("speedLabel")
        self.label.setMinimumWidth(90)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Speed")
        title.setToolTip(SPEED_TIP)
        layout.addWidget(title)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(self._on_value)

    def speed(self) -> float | None:
        return SPEEDS[self.slider.value()]

    def set_speed(self, speed: float | None) -> None:
        """Move the slider to ``speed`` (one of ``SPEEDS``, else the nearest slower one)."""
        if speed is None:
            index = len(SPEEDS) - 1
        else:
            index = max([i for i, s in enumerate(SPEEDS) if s is not None and s <= speed], default=0)
        self.slider.setValue(index)

    @Slot(int)
    def _on_value(self, index: int) -> None:
        self.label.setText(speed_text(SPEEDS[index]))
        self.speed_changed.emit(SPEEDS[index])


class BatchStrip(QWidget):
    """Slow motion's view of the last update (``batchStrip``): its loss and its mini-batch's digits,
    each captioned with the network's prediction after the update (green right, red wrong)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("batchStrip")
        self.caption = WrappingLabel()
        self.caption.setObjectName("batchCaption")
        self._cells: list[tuple[QLabel, QLabel]] = []
        grid = QGridLayout()
        grid.setSpacing(2)
        for i in range(PREVIEW_DIGITS):
            image, text = QLabel(), QLabel()
            image.setFixedSize(PREVIEW_SIDE, PREVIEW_SIDE)
            text.setAlignment(Qt.AlignCenter)
            grid.addWidget(image, 0, i)
            grid.addWidget(text, 1, i)
            self._cells.append((image, text))
        grid.setColumnStretch(PREVIEW_DIGITS, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.caption)
        layout.addLayout(grid)
        self.hide()

    def show_update(self, update: int, preview: dict, class_names) -> None:
        right = int(np.count_nonzero(preview["predictions"] == preview["labels"]))
        shown = len(preview["labels"])
        self.caption.setText(
            f"Update {update:,}: loss {preview['loss']:.4f} on this mini-batch. After the update the "
            f"network gets {right} of these {shown} images right (label under each: its prediction)."
        )
        for i, (image, text) in enumerate(self._cells):
            if i >= shown:
                image.clear()
                text.clear()
                continue
            image.setPixmap(digit_pixmap(preview["images"][i], PREVIEW_SIDE))
            predicted, label = int(preview["predictions"][i]), int(preview["labels"][i])
            text.setText(str(class_names[predicted])[:6] if class_names else str(predicted))
            text.setToolTip(f"true: {class_names[label] if class_names else label}")
            text.setStyleSheet(f"color: {'#1a7f37' if predicted == label else '#c62828'};")
        self.show()
