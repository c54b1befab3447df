"""My digits: the learner's own digits, what the current model makes of them, and fine-tuning.

The gallery shows every digit of the store (``scratchnet.my_digits.MyDigits``) grouped by label,
each with the model's prediction (a wrong one on red); a digit can be deleted or relabelled,
which is saved at once. "Fine-tune on my digits" asks the window (``fine_tune_requested``) to go
on training the current model on MNIST mixed with my digits; the before/after figures come back
through ``show_fine_tune``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from scratchnet.my_digits import DEFAULT_HELD_OUT, DEFAULT_SHARE, SIDE, MyDigits
from scratchnet.network import Sequential

from .images import digit_pixmap
from .predictions import finite_probabilities
from .widgets import WrappingLabel, make_button

ICON_SIDE = 56
WRONG = QColor("#f6c6c6")


class MyDigitsView(QWidget):
    """Signals ``changed()``: the store changed (added, deleted, relabelled);
    ``fine_tune_requested(float, int, float)``: share of my digits per batch, epochs, held-out share."""

    changed = Signal()
    fine_tune_requested = Signal(float, int, float)

    def __init__(self, store: MyDigits | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("myDigitsView")
        self.store = store if store is not None else MyDigits()
        self._model: Sequential | None = None
        self._predicted: np.ndarray | None = None  # per digit of the store, for the model shown
        self._stale = False  # the model changed while the view was hidden

        self.summary_label = WrappingLabel()
        self.summary_label.setObjectName("myDigitsSummary")
        self.gallery = QListWidget()
        self.gallery.setObjectName("myDigitsGallery")
        self.gallery.setViewMode(QListView.IconMode)
        self.gallery.setIconSize(QSize(ICON_SIDE, ICON_SIDE))
        self.gallery.setGridSize(QSize(ICON_SIDE + 20, ICON_SIDE + 26))
        self.gallery.setResizeMode(QListView.Adjust)
        self.gallery.setMovement(QListView.Static)
        self.gallery.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.gallery.setToolTip("Your digits by label. Under each: its label → the model's prediction "
                                "(red when wrong). Select some to delete or relabel them.")
        self.gallery.itemSelectionChanged.connect(self._update_buttons)

        self.relabel_spin = QSpinBox()
        self.relabel_spin.setObjectName("relabelSpin")
        self.relabel_spin.setRange(0, 9)
        self.relabel_spin.setPrefix("as ")
        self.relabel_button = make_button("Relabel", "relabelButton", "Give the selected digits this label.",
                                          self.relabel_selected)
        self.delete_button = make_button("Delete", "deleteDigitButton", "Delete the selected digits from My "
                                         "digits (saved at once).", self.delete_selected)

        self.share_spin = _spin("fineTuneShareSpin", 1, 90, round(DEFAULT_SHARE * 100), " %",
                                "The share of my digits in every batch (repeated as needed); the rest is MNIST.")
        self.epochs_spin = _spin("fineTuneEpochsSpin", 1, 50, 1, " epochs", "How long to go on training.")
        self.held_out_spin = _spin("fineTuneHeldOutSpin", 0, 90, round(DEFAULT_HELD_OUT * 100), " %",
                                   "The share of each label of my digits kept out of training, to measure "
                                   "the model on digits it has not trained on.")
        self.fine_tune_button = make_button(
            "Fine-tune on my digits", "fineTuneButton",
            "Go on training the current model on MNIST mixed with my digits (with the Training tab's optimiser "
            "and batch size): an ordinary run, with its curves. Then compare before and after.",
            self._request_fine_tune)
        self.result_label = WrappingLabel()
        self.result_label.setObjectName("fineTuneResultLabel")
        self._layout()
        self.refresh()
        if self.store.problem:
            self.result_label.setText(self.store.problem)

    def _layout(self) -> None:
        edit = QHBoxLayout()
        edit.addWidget(self.delete_button)
        edit.addWidget(self.relabel_button)
        edit.addWidget(self.relabel_spin)
        edit.addStretch(1)
        tune = QGroupBox("Fine-tune")
        form = QFormLayout(tune)
        form.addRow("My digits per batch", self.share_spin)
        form.addRow("Train for", self.epochs_spin)
        form.addRow("Held out to measure", self.held_out_spin)
        form.addRow(self.fine_tune_button)
        form.addRow(self.result_label)
        tune.setMaximumWidth(300)
        left = QVBoxLayout()
        left.addWidget(self.summary_label)
        left.addWidget(self.gallery, 1)
        left.addLayout(edit)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 8, 8, 8)
        row.addLayout(left, 1)
        row.addWidget(tune, 0, Qt.AlignTop)

    # ------------------------------------------------------------------ public
    def set_model(self, model: Sequential | None) -> None:
        """Predict my digits with ``model`` (None, or a model not made for 28×28 digits: no predictions)."""
        self._model = model
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        if self._stale:
            self.refresh()
        super().showEvent(event)

    def add(self, digit: np.ndarray, label: int) -> str:
        """Keep ``digit`` as ``label`` (saved at once); returns what to tell the user."""
        try:
            self.store.add(digit, label)
        except (OSError, ValueError) as exc:
            return f"Not added to My digits: {exc}"
        self.refresh()
        self.changed.emit()
        return f"Added as a {label} to My digits ({self.store.counts()[label]} of {label}, {len(self.store)} in all)."

    @property
    def accuracy(self) -> float | None:
        """The share of my digits the model predicts right, or None without predictions."""
        if self._predicted is None or not len(self.store):
            return None
        return float(np.mean(self._predicted == self.store.labels))

    def selected_indices(self) -> list[int]:
        return sorted(item.data(Qt.UserRole) for item in self.gallery.selectedItems())

    @Slot()
    def delete_selected(self) -> None:
        self._change(lambda index: self.store.delete(index), reverse=True)

    @Slot()
    def relabel_selected(self) -> None:
        label = self.relabel_spin.value()
        self._change(lambda index: self.store.relabel(index, label), reverse=False)

    def show_fine_tune(self, text: str) -> None:
        self.result_label.setText(text)

    def set_busy(self, busy: bool) -> None:
        """While a run trains (or a fine-tune prepares), the store and the button wait."""
        self.fine_tune_button.setEnabled(not busy)

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        self._stale = False
        labels, images = self.store.labels, self.store.images
        self._predicted = self._predict()
        self.gallery.clear()
        for index in np.argsort(labels, kind="stable"):
            label = int(labels[index])
            item = QListWidgetItem(QIcon(digit_pixmap(images[index] / np.float32(255), SIDE * 2)), "")
            item.setData(Qt.UserRole, int(index))
            if self._predicted is None:
                item.setText(f"{label}")
                item.setToolTip(f"Labelled {label}")
            else:
                predicted = int(self._predicted[index])
                item.setText(f"{label} → {predicted}" + ("" if predicted == label else " ✗"))
                item.setToolTip(f"Labelled {label}, predicted {predicted}")
                if predicted != label:
                    item.setBackground(QBrush(WRONG))
            self.gallery.addItem(item)
        self._show_summary()
        self._update_buttons()

    def _predict(self) -> np.ndarray | None:
        model = self._model
        if model is None or not len(self.store) or (model.input_size, model.output_size) != (SIDE * SIDE, 10):
            return None
        return np.argmax(finite_probabilities(model, self.store.inputs()), axis=1)

    def _show_summary(self) -> None:
        count = len(self.store)
        if count == 0:
            self.summary_label.setText("No digits yet: draw one on the drawing pad, set its label (keys 0-9) and "
                                       "click “Add to my digits” (or press Enter).")
            return
        per_label = ", ".join(f"{label}: {n}" for label, n in enumerate(self.store.counts()) if n)
        text = f"{count} digits ({per_label})."
        accuracy = self.accuracy
        if accuracy is not None:
            right = int(round(accuracy * count))
            text += f" The current model gets {right} of {count} right: {100 * accuracy:.1f}%."
        elif self._model is not None:
            text += " The current model is not made for 28×28 digits, so it predicts none of them."
        else:
            text += " Train or open a model to see its predictions."
        self.summary_label.setText(text)

    def _change(self, action, reverse: bool) -> None:
        indices = self.selected_indices()
        try:
            for index in sorted(indices, reverse=reverse):  # deleting from the end keeps the other indices
                action(index)
        except OSError as exc:
            self.result_label.setText(f"My digits could not be saved: {exc}")
        self.refresh()
        self.changed.emit()

    @Slot()
    def _update_buttons(self) -> None:
        chosen = bool(self.gallery.selectedItems())
        self.delete_button.setEnabled(chosen)
        self.relabel_button.setEnabled(chosen)

    @Slot()
    def _request_fine_tune(self) -> None:
        self.fine_tune_requested.emit(self.share_spin.value() / 100, self.epochs_spin.value(),
                                      self.held_out_spin.value() / 100)


def _spin(name: str, low: int, high: int, value: int, suffix: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    spin.setToolTip(tip)
    return spin


__all__ = ["MyDigitsView"]
