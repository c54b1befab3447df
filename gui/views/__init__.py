"""Inspection views: misclassified digits, confusion matrix, inside the network, drawing pad.

``install_views(window)`` adds them as tabs of the main window and keeps them on the window's
current model: the visible tab refreshes at once (at most about once a second while training),
the others are marked stale and refresh when they are shown. The drawing pad always follows the
model at once, since it predicts only one image.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Slot

from .confusion import ConfusionView
from .drawing_pad import DrawingPad
from .misclassified import MisclassifiedView
from .predictions import ModelContext
from .weights import WeightsView

TRAINING_REFRESH_S = 1.0


class ViewRefresher(QObject):
    """Gives each view a fresh ``ModelContext`` when the window's model or data set changes."""

    def __init__(self, window, views: list, pad: DrawingPad) -> None:
        super().__init__(window)
        self.setObjectName("viewRefresher")
        self._window = window
        self._views = views
        self._pad = pad
        self._stale: set = set()
        self._context = ModelContext(None, None)
        self._last_refresh = -float("inf")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)
        window.model_changed.connect(self._on_change)
        window.dataset_changed.connect(self._on_change)
        window.views.currentChanged.connect(self._refresh_current)

    @property
    def context(self) -> ModelContext:
        return self._context

    @Slot()
    def _on_change(self) -> None:
        dataset = self._window.dataset
        self._pad.set_model(self._window.current_model, dataset.class_names if dataset is not None else None)
        waited = time.perf_counter() - self._last_refresh
        if self._window.is_running and waited < TRAINING_REFRESH_S:
            if not self._timer.isActive():
                self._timer.start(int(1000 * (TRAINING_REFRESH_S - waited)) + 1)
            return
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """New context for every view; the visible one is redrawn now."""
        self._timer.stop()
        self._last_refresh = time.perf_counter()
        self._context = ModelContext(self._window.current_model, self._window.dataset)
        self._stale = set(self._views)
        self._refresh_current()

    @Slot()
    def _refresh_current(self) -> None:
        current = self._window.views.currentWidget()
        if current in self._stale:
            self._stale.discard(current)
            # a diverged run's last finite weights can be huge: its activations overflow, which the
            # views show as they are rather than as warnings on stderr
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                current.set_context(self._context)


def install_views(window) -> None:
    """Create the four views, add them as tabs of ``window`` and wire them together."""
    misclassified = MisclassifiedView()
    confusion = ConfusionView()
    weights = WeightsView()
    pad = DrawingPad()
    window.add_view(misclassified, "Misclassified")
    window.add_view(confusion, "Confusion matrix")
    window.add_view(weights, "Inside the network")
    window.add_view(pad, "Drawing pad")
    ViewRefresher(window, [misclassified, confusion, weights], pad)

    @Slot(int, int)
    def browse_cell(true_class: int, predicted_class: int) -> None:
        # a diagonal cell holds no mistakes: show every mistake of that true class instead
        misclassified.set_filters(true_class, None if true_class == predicted_class else predicted_class)
        window.views.setCurrentWidget(misclassified)

    confusion.cell_chosen.connect(browse_cell)
    misclassified.digit_selected.connect(weights.select_test_digit)
    pad.digit_changed.connect(weights.set_drawn_digit)


__all__ = ["ConfusionView", "DrawingPad", "MisclassifiedView", "ViewRefresher", "WeightsView", "install_views"]
