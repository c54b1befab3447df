"""The drawing pad: draw a digit, see what the network sees and what it thinks.

The canvas's ink goes through ``scratchnet.preprocess.prepare_drawing`` (the 28×28 preview is
exactly that output) and then one forward pass of the current model. While a stroke is drawn the
prediction follows at most every ``PREDICT_INTERVAL_MS``; on release it is updated at once.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from scratchnet.network import Sequential
from scratchnet.preprocess import MNIST_SIDE, area_resample, prepare_drawing

from .canvas import CANVAS_SIDE, DEFAULT_BRUSH, DrawingCanvas
from .images import digit_pixmap
from .predictions import finite_probabilities
from .probability_bars import ProbabilityBars
from .widgets import WrappingLabel, make_button

PREDICT_INTERVAL_MS = 30
PREVIEW_SIDE = 112  # 4x the 28x28 input: whole pixels, and the view fits a 1024x600 screen
NO_PREDICTION = "—"


class DrawingPad(QWidget):
    """Signals ``digit_changed(object)``: the prepared (784,) input, or None for an empty canvas;
    ``backprop_requested()``: "Show its backprop" was clicked; ``add_requested(object, int)``:
    "Add to my digits" (or Enter) with the prepared input and its label (keys 0-9 set it)."""

    digit_changed = Signal(object)
    backprop_requested = Signal()
    add_requested = Signal(object, int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("drawingPad")
        self._model: Sequential | None = None
        self._side = MNIST_SIDE  # the data's square image side: drawings are prepared to it
        self._digit: np.ndarray | None = None
        self._last_predict = 0.0
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.timeout.connect(self.update_prediction)

        self.canvas = DrawingCanvas()
        self.canvas.changed.connect(self._on_canvas_changed)
        self.canvas.stroke_finished.connect(self.update_prediction)

        self.brush_slider = QSlider(Qt.Horizontal)
        self.brush_slider.setObjectName("brushSlider")
        self.brush_slider.setRange(4, 40)
        self.brush_slider.setValue(DEFAULT_BRUSH)
        self.brush_slider.setToolTip("Brush width in canvas pixels (the canvas is 10× the network's 28×28).")
        self.brush_slider.valueChanged.connect(self._on_brush)
        self.brush_label = QLabel()
        self._on_brush(DEFAULT_BRUSH)

        self.clear_button = make_button("Clear", "clearButton", "Erase the canvas (Esc).", self.clear)
        self.undo_button = make_button("Undo", "undoButton", "Remove the last stroke (Ctrl+Z).", self.undo)
        self.save_button = make_button("Save as PNG…", "savePngButton", "Save the canvas as a 280×280 PNG.",
                                        self.save_png_dialog)
        self.backprop_button = make_button("Show its backprop", "padBackpropButton",
                                           "Follow this digit forward and backward through the network, in the "
                                           "Backprop tab.", self.backprop_requested)

        self.label_spin = QSpinBox()
        self.label_spin.setObjectName("myDigitLabelSpin")
        self.label_spin.setRange(0, 9)
        self.label_spin.setPrefix("Label ")
        self.label_spin.setToolTip("What this digit is (keys 0-9 on the canvas set it).")
        self.add_button = make_button("Add to my digits", "addToMyDigitsButton",
                                      "Keep the 28×28 image the network sees, with its label, in My digits "
                                      "(Enter on the canvas).", self.add_to_my_digits)

        self.preview = QLabel()
        self.preview.setObjectName("drawingPreview")
        self.preview.setFixedSize(PREVIEW_SIDE, PREVIEW_SIDE)
        self.preview.setToolTip("The 28×28 image the network actually sees: the drawing boxed to 20×20 "
                                "and centred by its centre of mass, like MNIST (for data of another "
                                "size, that image resized to the data's).")
        self.prediction_label = QLabel(NO_PREDICTION)
        self.prediction_label.setObjectName("predictionLabel")
        font = QFont(self.prediction_label.font())
        font.setPointSize(40)
        font.setBold(True)
        self.prediction_label.setFont(font)
        self.prediction_label.setAlignment(Qt.AlignCenter)
        self.prediction_label.setFixedSize(PREVIEW_SIDE, PREVIEW_SIDE)
        self.note_label = WrappingLabel()
        self.note_label.setObjectName("drawingNote")
        self.bars = ProbabilityBars([str(i) for i in range(10)])
        self.bars.setObjectName("probabilityBars")
        self.bars.setMaximumWidth(460)
        self._layout()
        self._show(None, None)

    def _layout(self) -> None:
        tools = QHBoxLayout()
        for widget in (self.clear_button, self.undo_button, self.save_button):
            tools.addWidget(widget)
        tools.addStretch(1)
        brush = QHBoxLayout()
        brush.addWidget(QLabel("Brush"))
        brush.addWidget(self.brush_slider, 1)
        brush.addWidget(self.brush_label)
        left = QVBoxLayout()
        left.addWidget(self.canvas)
        left.addLayout(brush)
        left.addLayout(tools)
        mine = QHBoxLayout()
        mine.addWidget(self.label_spin)
        mine.addWidget(self.add_button)
        mine.addStretch(1)
        left.addLayout(mine)
        left.addWidget(self.backprop_button, 0, Qt.AlignLeft)  # the left column is the shorter one
        left.addStretch(1)

        seen = QGridLayout()
        seen.addWidget(_caption("The network sees"), 0, 0)
        seen.addWidget(_caption("Prediction"), 0, 1)
        seen.addWidget(self.preview, 1, 0)
        seen.addWidget(self.prediction_label, 1, 1)
        seen.setColumnStretch(2, 1)
        right = QVBoxLayout()
        right.addLayout(seen)
        right.addWidget(_caption("Class probabilities"))
        right.addWidget(self.bars)
        right.addWidget(self.note_label)
        right.addStretch(1)

        row = QHBoxLayout(self)
        row.setContentsMargins(8, 8, 8, 8)
        row.setSpacing(16)
        row.addLayout(left)
        row.addLayout(right, 1)

    # ------------------------------------------------------------------ public
    def set_model(self, model: Sequential | None, class_names: list[str] | None = None,
                  image_side: int = MNIST_SIDE) -> None:
        """Predict with ``model`` from now on (None: no prediction), drawings prepared as
        ``image_side``-square images like the data's (28 for MNIST), and re-predict at once."""
        self._model = model
        self._side = image_side
        if class_names:
            self.bars.set_labels(list(class_names))
        self.update_prediction()

    @property
    def digit(self) -> np.ndarray | None:
        """The last prepared input (784,), or None for an empty canvas."""
        return None if self._digit is None else self._digit.copy()

    @Slot()
    def clear(self) -> None:
        self.canvas.clear()
        self.update_prediction()

    @Slot()
    def undo(self) -> None:
        self.canvas.undo()
        self.update_prediction()

    def save_png(self, path: str) -> None:
        self.canvas.save_png(path)

    @Slot()
    def add_to_my_digits(self) -> None:
        """Ask for the prepared digit to be kept with the chosen label (nothing on an empty canvas)."""
        if self._digit is None:
            self.note_label.setText("Draw a digit first: an empty canvas is not added to My digits.")
            return
        if self._side != MNIST_SIDE:
            self.note_label.setText("My digits are 28×28 like MNIST: choose MNIST in the Training tab to add one.")
            return
        self.add_requested.emit(self._digit.copy(), self.label_spin.value())

    def show_note(self, text: str) -> None:
        self.note_label.setText(text)

    @Slot()
    def save_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save drawing", "digit.png", "PNG images (*.png)")
        if not path:
            return
        try:
            self.save_png(path)
        except OSError as exc:
            QMessageBox.warning(self, "Save as PNG", str(exc))

    @Slot()
    def update_prediction(self) -> None:
        """Prepare the canvas and run the model now; shows and emits the result."""
        self._throttle.stop()
        self._last_predict = time.perf_counter()
        digit = prepare_drawing(self.canvas.ink())
        if digit is not None and self._side != MNIST_SIDE:  # MNIST's form, then the data's size
            digit = area_resample(digit.reshape(MNIST_SIDE, MNIST_SIDE), self._side, self._side).reshape(-1)
        probabilities = None
        if digit is not None and self._model is not None and self._model.input_size == digit.size:
            probabilities = finite_probabilities(self._model, digit[None, :])[0]
        self._show(digit, probabilities)
        self._digit = digit
        self.digit_changed.emit(digit)

    # ------------------------------------------------------------------ internals
    def _show(self, digit: np.ndarray | None, probabilities: np.ndarray | None) -> None:
        self.preview.setPixmap(digit_pixmap(np.zeros(self._side * self._side) if digit is None else digit,
                                            PREVIEW_SIDE))
        self.bars.set_probabilities(probabilities)
        self.backprop_button.setEnabled(probabilities is not None)
        self.add_button.setEnabled(digit is not None and self._side == MNIST_SIDE)  # My digits are 28×28
        if probabilities is None:
            self.prediction_label.setText(NO_PREDICTION)
        else:
            self.prediction_label.setText(self.bars.label(int(np.argmax(probabilities))))
        if self._model is None:
            self.note_label.setText("Train or open a model to see its prediction.")
        elif self._model.input_size != self._side * self._side:
            self.note_label.setText(f"This model expects {self._model.input_size} inputs, not a "
                                    f"{self._side}×{self._side} drawing.")
        elif digit is None:
            self.note_label.setText("Draw a digit on the black canvas.")
        else:
            self.note_label.setText("")

    @Slot()
    def _on_canvas_changed(self) -> None:
        waited_ms = (time.perf_counter() - self._last_predict) * 1000.0
        if waited_ms >= PREDICT_INTERVAL_MS:
            self.update_prediction()
        elif not self._throttle.isActive():
            self._throttle.start(max(1, int(PREDICT_INTERVAL_MS - waited_ms)))

    @Slot(int)
    def _on_brush(self, width: int) -> None:
        self.canvas.brush_width = float(width)
        self.brush_label.setText(f"{width} px")

    # Esc, Ctrl+Z, Enter and 0-9 belong to the pad while it has focus, even though the window binds Esc to Stop.
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.ShortcutOverride and (_pad_action(event) or _digit_key(event)) is not None:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = _pad_action(event)
        if action is None and _digit_key(event) is not None:
            self.label_spin.setValue(_digit_key(event))
        elif action is None:
            super().keyPressEvent(event)
        else:
            getattr(self, action)()


def _digit_key(event: QKeyEvent) -> int | None:
    """0-9 for a digit key without Ctrl or Alt (the keypad's too), else None."""
    if event.modifiers() & ~Qt.KeypadModifier & ~Qt.ShiftModifier or not Qt.Key_0 <= event.key() <= Qt.Key_9:
        return None
    return event.key() - Qt.Key_0


def _pad_action(event: QKeyEvent) -> str | None:
    """"clear" for Esc, "undo" for the platform's undo key (Ctrl+Z), "add_to_my_digits" for Enter,
    else None."""
    if event.key() == Qt.Key_Escape and event.modifiers() == Qt.NoModifier:
        return "clear"
    if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & ~Qt.KeypadModifier:
        return "add_to_my_digits"
    if event.matches(QKeySequence.Undo):
        return "undo"
    return None


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: #555; font-weight: bold;")
    return label


__all__ = ["CANVAS_SIDE", "PREDICT_INTERVAL_MS", "DrawingPad"]
