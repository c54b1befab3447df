"""The options under the training curves: what the plots draw, and one measurement runs can add.

- ``rawLossCheck``: among compared runs, each run's raw per-update loss instead of its trailing
  mean (the noise of one-sample steps is the lesson).
- ``accuracyZoomCheck``: the accuracy axis spans the data instead of 0-100%.
- ``trainEvalCheck``: runs started from now on also measure train accuracy at each epoch's end,
  in inference mode (no dropout, no augmentation, the epoch's final weights) on a fixed subset of
  ``TRAIN_EVAL_SIZE`` training images: the fair comparison with the test accuracy.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QWidget

TRAIN_EVAL_SIZE = 10_000

RAW_LOSS_TIP = (
    "When several runs are shown, draw each run's loss at every update instead of its smoothed "
    "(trailing mean) loss. One-image steps are noisy: that noise is what stochastic descent looks like."
)
ZOOM_TIP = "Zoom the accuracy axis to the range of the accuracies drawn, instead of 0-100%."
TRAIN_EVAL_TIP = (
    "The dashed train curves are measured during the epoch: the weights still move, and dropout and "
    "augmentation make the task harder, so they can sit below the test curve. With this option, the "
    f"next runs also measure train accuracy at each epoch's end, in inference mode, on {TRAIN_EVAL_SIZE:,} "
    "training images (dotted line): that one compares fairly with the test accuracy."
)


class CurveOptions(QWidget):
    """Three check boxes; ``raw_loss_toggled(bool)`` and ``zoom_accuracy_toggled(bool)`` redraw the
    plots, ``train_eval_size`` is read when a run starts."""

    raw_loss_toggled = Signal(bool)
    zoom_accuracy_toggled = Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.raw_loss_check = _check("Raw loss per run", "rawLossCheck", RAW_LOSS_TIP)
        self.raw_loss_check.toggled.connect(self.raw_loss_toggled)
        self.zoom_check = _check("Zoom accuracy", "accuracyZoomCheck", ZOOM_TIP)
        self.zoom_check.toggled.connect(self.zoom_accuracy_toggled)
        self.train_eval_check = _check(
            "Train accuracy at epoch end (inference)",
            "trainEvalCheck", TRAIN_EVAL_TIP,
        )
        # one row when the width holds it (a small screen's height is precious), else two, so that
        # a narrow window keeps the view tabs in view: the minimum size is always the two rows'
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setVerticalSpacing(2)
        self._grid.addWidget(self.raw_loss_check, 0, 0)
        self._grid.addWidget(self.zoom_check, 0, 1)
        self._grid.setColumnStretch(3, 1)
        self._one_row: bool | None = None
        self._arrange(one_row=False)

    @property
    def one_row(self) -> bool:
        return bool(self._one_row)

    def minimumSizeHint(self) -> QSize:
        """The two rows' width (the one row's would keep the window from narrowing), the height of
        the rows shown."""
        spacing = self._grid.horizontalSpacing()
        width = max(self.raw_loss_check.sizeHint().width() + spacing + self.zoom_check.sizeHint().width(),
                    self.train_eval_check.sizeHint().width())
        rows = 1 if self._one_row else 2
        return QSize(width, rows * self.zoom_check.sizeHint().height() + (rows - 1) * self._grid.verticalSpacing())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        spacing = self._grid.horizontalSpacing()
        needed = sum(box.sizeHint().width() + spacing for box in (self.raw_loss_check, self.zoom_check,
                                                                  self.train_eval_check))
        self._arrange(one_row=self.width() >= needed)

    def _arrange(self, one_row: bool) -> None:
        if one_row == self._one_row:
            return
        self._one_row = one_row
        self._grid.removeWidget(self.train_eval_check)
        if one_row:
            self._grid.addWidget(self.train_eval_check, 0, 2)
        else:
            self._grid.addWidget(self.train_eval_check, 1, 0, 1, 3)
        self.updateGeometry()

    @property
    def train_eval_size(self) -> int:
        """How many training images a run started now measures at each epoch's end (0: none)."""
        return TRAIN_EVAL_SIZE if self.train_eval_check.isChecked() else 0


def _check(text: str, name: str, tip: str) -> QCheckBox:
    check = QCheckBox(text)
    check.setObjectName(name)
    check.setToolTip(tip)
    return check
