"""My digits: the learner's own digits, what the current model makes of them, and fine-tuning.

The gallery shows every digit of the store (``scratchnet.my_digits.MyDigits``) in one section per
label, each headed by its count and the model's accuracy on it, each digit with the model's
prediction (a wrong one on red); a digit can be deleted or relabelled, which is saved at once. The
digits are drawn at once and the predictions when a worker thread has made them (``predicted``);
a result for a model or store that has changed meanwhile is dropped. "Fine-tune on my digits"
asks the window (``fine_tune_requested``) to go on training the current model on MNIST mixed with
my digits; the before/after figures come back through ``show_fine_tune``.
"""

from __future__ import annotations

import copy

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from scratchnet.my_digits import DEFAULT_HELD_OUT, DEFAULT_SHARE, SIDE, MyDigits
from scratchnet.network import Sequential

from .background import LatestJob
from .images import digit_pixmap
from .predictions import finite_probabilities
from .widgets import WrappingLabel, make_button

ICON_SIDE = 56
SHOW_WRONG = "wrong"
SHOW_ITEMS = (("All, by label", None), ("Wrong ones", SHOW_WRONG),
              *((f"Label {label}", label) for label in range(10)))
WRONG = QColor("#f6c6c6")
HEADER = QColor("#e4e8ee")
HEADER_ROLE = Qt.UserRole + 1  # a section header's label (digits hold their store index in Qt.UserRole)
HEADER_HEIGHT = 24
SPACING = 4


def predict_digits(model: Sequential, inputs: np.ndarray) -> np.ndarray:
    """(N,) the model's predicted class of each row of ``inputs`` (run in a worker thread)."""
    return np.argmax(finite_probabilities(model, inputs), axis=1)


class Gallery(QListWidget):
    """Digits in a wrapping grid, with section headers (items with ``HEADER_ROLE``) as wide as the view,
    so that each starts a row of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListView.IconMode)
        self.setIconSize(QSize(ICON_SIDE, ICON_SIDE))
        self.setSpacing(SPACING)
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)

    def header_size(self) -> QSize:
        return QSize(max(ICON_SIDE, self.viewport().width() - 2 * SPACING - 1), HEADER_HEIGHT)

    def headers(self) -> list[QListWidgetItem]:
        return [item for item in map(self.item, range(self.count())) if item.data(HEADER_ROLE) is not None]

    def digit_items(self) -> list[QListWidgetItem]:
        return [item for item in map(self.item, range(self.count())) if item.data(Qt.UserRole) is not None]

    def resizeEvent(self, event) -> None:
        size = self.header_size()
        for item in self.headers():
            item.setSizeHint(size)
        super().resizeEvent(event)


class MyDigitsView(QWidget):
    """Signals ``changed()``: the store changed (added, deleted, relabelled);
    ``fine_tune_requested(float, int, float)``: share of my digits per batch, epochs, held-out share."""

    changed = Signal()
    predicted = Signal()  # the predictions are drawn (or could not be made)
    fine_tune_requested = Signal(float, int, float)

    def __init__(self, store: MyDigits | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("myDigitsView")
        self.store = store if store is not None else MyDigits()
        self._model: Sequential | None = None
        self._predicted: np.ndarray | None = None  # per digit of the store, for ``_predicted_for``
        self._predicted_for: tuple | None = None  # (model, store version) the predictions are of
        self._problem: str | None = None  # why the predictions could not be made
        self._stale = False  # the model changed while the view was hidden
        self._icons: dict[bytes, QIcon] = {}  # each digit's icon, by its pixels
        self._drawn_for: tuple | None = None  # (store version, Show choice) the gallery's items are of
        self.job = LatestJob(self)
        self.jobs = (self.job,)  # closed with the window (views.JobCloser)

        self.summary_label = WrappingLabel()
        self.summary_label.setObjectName("myDigitsSummary")
        self.gallery = Gallery()
        self.gallery.setObjectName("myDigitsGallery")
        self.gallery.setToolTip("Your digits, one section per label: its header says how many there are and how "
                                "many the model gets right. Under each digit: its label → the model's "
                                "prediction (red when wrong). Select some to delete or relabel them.")
        self.gallery.itemSelectionChanged.connect(self._update_buttons)

        self.show_combo = QComboBox()
        self.show_combo.setObjectName("myDigitsShowCombo")
        self.show_combo.setToolTip("Which of my digits the gallery shows: all of them by label, one label, or "
                                   "only those the model gets wrong.")
        for text, data in SHOW_ITEMS:
            self.show_combo.addItem(text, data)
        self.show_combo.currentIndexChanged.connect(lambda _index: self.refresh())

        self.relabel_spin = QSpinBox()
        self.relabel_spin.setObjectName("relabelSpin")
        self.relabel_spin.setRange(0, 9)
        self.relabel_spin.setPrefix("as ")
        self.relabel_spin.setToolTip("The label Relabel gives the selected digits.")
        self.relabel_button = make_button("Relabel", "relabelButton", "Give the selected digits this label.",
                                          self.relabel_selected)
        self.delete_button = make_button("Delete", "deleteDigitButton", "Delete the selected digits from My "
                                         "digits (saved at once).", self.delete_selected)

        self.share_spin = _spin("fineTuneShareSpin", 1, 90, round(DEFAULT_SHARE * 100), " %",
                                "The share of my digits in every batch (repeated as needed); the rest is MNIST.")
        self.epochs_spin = _spin("fineTuneEpochsSpin", 1, 50, 1, " epoch(s)", "How long to go on training.")
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
        show = QHBoxLayout()
        show.addWidget(QLabel("Show"))
        show.addWidget(self.show_combo)
        show.addStretch(1)
        left.addLayout(show)
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
        self._refresh_soon()

    def _refresh_soon(self) -> None:
        """Redraw now if shown, else when shown (a gallery of 1,000 digits takes about 0.2 s)."""
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
        self._refresh_soon()
        self.changed.emit()
        return f"Added as a {label} to My digits ({self.store.counts()[label]} of {label}, {len(self.store)} in all)."

    @property
    def accuracy(self) -> float | None:
        """The share of my digits the model predicts right, or None without (current) predictions."""
        if not self._predictions_current() or not len(self.store):
            return None
        return float(np.mean(self._predicted == self.store.labels))

    @property
    def predicting(self) -> bool:
        """True while the worker thread predicts."""
        return self.job.busy

    def _key(self) -> tuple:
        return self._model, self.store.version

    def _predictions_current(self) -> bool:
        key = self._predicted_for
        return (self._predicted is not None and key is not None and key[0] is self._model
                and key[1] == self.store.version)

    def _usable(self) -> bool:
        model = self._model
        return (model is not None and len(self.store) > 0
                and (model.input_size, model.output_size) == (SIDE * SIDE, 10))

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
        """Draw the digits now, with the predictions if they are current; else ask the worker for them."""
        self._stale = False
        if not self._predictions_current():
            self._predicted = self._predicted_for = self._problem = None
            if self._usable():
                # copies: the layers keep per-call caches and the GUI thread may run the model meanwhile;
                # the store replaces its arrays on a change, never edits them, so a shallow copy is a snapshot
                model, store = self._model.copy(), copy.copy(self.store)
                key = self._key()
                self.job.submit(lambda: predict_digits(model, store.inputs()),
                                lambda result, error: self._on_predicted(key, result, error))
        if self._drawn_for == (self.store.version, self.show_combo.currentData()) != (self.store.version, SHOW_WRONG):
            self._decorate()  # the same digits (a new model): only their captions and the headers change
            self._show_summary()
        else:
            self._draw()

    def _on_predicted(self, key: tuple, result, error: Exception | None) -> None:
        if key[0] is not self._model or key[1] != self.store.version:
            return  # the model or the store changed meanwhile: a newer request follows (or a refresh on show)
        self._predicted_for = key
        if error is not None:
            self._problem = f"The model could not predict my digits: {error}"
        else:
            self._predicted = result
        if self.show_combo.currentData() == SHOW_WRONG:
            self._draw()  # which digits are shown depends on the predictions
        else:  # the same digits: only their captions and the headers change
            self._decorate()
            self._show_summary()
        self.predicted.emit()

    def _draw(self) -> None:
        """Rebuild the gallery: a header per label shown, then its digits (their icons kept from the last
        draw: a redraw after a change of the store or the model draws only the new digits)."""
        labels, images = self.store.labels, self.store.images
        predicted = self._predicted if self._predictions_current() else None
        keys = [image.tobytes() for image in images]
        icons = {key: self._icons.get(key) for key in keys}
        gallery = self.gallery
        gallery.setUpdatesEnabled(False)
        gallery.clear()
        header_size, digit_size = gallery.header_size(), QSize(ICON_SIDE + 20, ICON_SIDE + 26)
        bold = QFont(gallery.font())
        bold.setBold(True)
        section = None
        for index in self._shown(labels, predicted):
            label = int(labels[index])
            if label != section:
                section = label
                gallery.addItem(_header(label, header_size, bold))
            icon = icons[keys[index]]
            if icon is None:
                icon = icons[keys[index]] = QIcon(digit_pixmap(images[index] / np.float32(255), SIDE * 2))
            item = QListWidgetItem(icon, "")
            item.setData(Qt.UserRole, int(index))
            item.setSizeHint(digit_size)
            gallery.addItem(item)
        self._icons = {key: icon for key, icon in icons.items() if icon is not None}
        self._drawn_for = (self.store.version, self.show_combo.currentData())
        self._decorate()
        gallery.setUpdatesEnabled(True)
        self._show_summary()
        self._update_buttons()

    def _decorate(self) -> None:
        """Each digit's caption (label → prediction, red when wrong) and each header's figures."""
        labels = self.store.labels
        predicted = self._predicted if self._predictions_current() else None
        counts = np.bincount(labels, minlength=10)
        right = np.bincount(labels[predicted == labels], minlength=10) if predicted is not None else None
        for item in map(self.gallery.item, range(self.gallery.count())):
            index = item.data(Qt.UserRole)
            if index is None:
                label = item.data(HEADER_ROLE)
                _caption_header(item, label, int(counts[label]), None if right is None else int(right[label]))
                continue
            label = int(labels[index])
            item.setBackground(QBrush())
            if predicted is None:
                item.setText(f"{label}")
                item.setToolTip(f"Labelled {label}")
            else:
                guess = int(predicted[index])
                item.setText(f"{label} → {guess}" + ("" if guess == label else " ✗"))
                item.setToolTip(f"Labelled {label}, predicted {guess}")
                if guess != label:
                    item.setBackground(QBrush(WRONG))

    def _shown(self, labels: np.ndarray, predicted: np.ndarray | None) -> np.ndarray:
        """Indices of the digits the gallery shows (``show_combo``), grouped by label."""
        order = np.argsort(labels, kind="stable")
        choice = self.show_combo.currentData()
        if choice == SHOW_WRONG:
            return order[predicted[order] != labels[order]] if predicted is not None else order[:0]
        if choice is not None:
            return order[labels[order] == choice]
        return order

    def _show_summary(self) -> None:
        count = len(self.store)
        if count == 0:
            self.summary_label.setText("No digits yet: draw one on the drawing pad, set its label (keys 0-9) and "
                                       "click “Add to my digits” (or press Enter).")
            return
        per_label = ", ".join(f"{label}: {n}" for label, n in enumerate(self.store.counts()) if n)
        text = f"{count} digits ({per_label})."
        accuracy = self.accuracy
        if self._problem is not None:
            text += " " + self._problem
        elif accuracy is not None:
            right = int(round(accuracy * count))
            text += f" The current model gets {right} of {count} right: {100 * accuracy:.1f}%."
        elif self._usable():
            text += " The current model is predicting them…"
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


def _header(label: int, size: QSize, font: QFont) -> QListWidgetItem:
    """A section's header (captioned by ``_caption_header``), as wide as the gallery."""
    item = QListWidgetItem()
    item.setData(HEADER_ROLE, label)
    item.setFlags(Qt.ItemIsEnabled)  # not selectable
    item.setSizeHint(size)
    item.setFont(font)
    item.setBackground(QBrush(HEADER))
    item.setTextAlignment(Qt.AlignLeft | Qt.AlignVCenter)
    return item


def _caption_header(item: QListWidgetItem, label: int, count: int, right: int | None) -> None:
    """The label, how many digits it has, and how many of them the model gets right (None: not known yet)."""
    text = f"{label}: {count} digit{'s' if count != 1 else ''}"
    if right is not None and count:
        text += f", {right} right ({100 * right / count:.1f}%)"
    item.setText(text)
    item.setToolTip(f"Label {label}: {count} of my digits" + ("" if right is None else
                                                                 f"; the model gets {right} of them right"))


def _spin(name: str, low: int, high: int, value: int, suffix: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    spin.setToolTip(tip)
    return spin


__all__ = ["MyDigitsView"]
