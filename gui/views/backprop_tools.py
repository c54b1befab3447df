"""The other pages of the Backprop tab, each drawing one result of ``scratchnet.explain``:

- ``GradCheckPage`` (``gradCheckTable``): sampled weights' dL/dW against central differences.
- ``OneStepPage`` (``oneStepButton``): one plain SGD step on the digit, predicted against actual
  loss change, the probabilities before and after, and Keep.
- ``SaliencyPage`` (``saliencyView``): integrated gradients over the digit for a class.
- ``NoisePage`` (``gradientNoisePlot``): the cosine of mini-batch gradients to the full gradient.

The pages only draw and emit requests; the tab computes off the GUI thread.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from scratchnet.explain import OneStep, Spread, WeightCheck

from .backprop_text import num
from .backprop_widgets import GREY, SIGNED, HeatMap
from .probability_bars import ProbabilityBars
from .widgets import make_button, make_combo

CHECK_TOLERANCE = 1e-6  # the relative error a float64 check must stay under (as scratchnet.gradcheck's tests)
ROUNDING_ZONE = 1000  # a gradient below this many resolutions of the difference gets a note on rounding
NOISE_BATCH_SIZES = (1, 4, 16, 64, 256, 1024)
NOISE_IMAGES = 10_000
PREDICTED_CLASS = -1  # the saliency class combo's first entry
DEFAULT_STEP_LR = 0.1


def _note(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.RichText)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


class GradCheckPage(QWidget):
    """Signal ``recheck_requested()``: draw new weights and check them."""

    recheck_requested = Signal()
    HEADERS = ("weight", "dL/dw from backward", "central difference", "relative error")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("backpropCheckPage")
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setObjectName("gradCheckTable")
        self.table.setHorizontalHeaderLabels(list(self.HEADERS))
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setToolTip("Each row nudges one weight by ±ε (ε = 1e-6) and recomputes the loss: "
                              "(L(w + ε) − L(w − ε)) / 2ε must match what backward computed.")
        self.recheck_button = make_button("Recheck", "recheckButton", "Draw 8 other weights from every layer "
                                          "and check them.", self.recheck_requested)
        self.summary = _note("gradCheckSummary")
        self.checks: list[WeightCheck] = []
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.recheck_button, 0, Qt.AlignTop)
        column = QVBoxLayout(self)
        column.addWidget(_note_text(
            "Is the hand-written backward right? For weights drawn from every layer (in the first layer, "
            "only from inked pixels: the others' gradient is exactly 0), the gradient from backward is "
            "compared with the loss's central difference, in float64."))
        column.addLayout(row)
        column.addWidget(self.table, 1)

    def show_checks(self, checks: list[WeightCheck], titles: list[str]) -> None:
        """One row per check; ``titles`` names each layer of the model."""
        self.checks = list(checks)
        self.table.setRowCount(len(checks))
        for r, check in enumerate(checks):
            cells = (f"{titles[check.layer]} W[{check.row}, {check.column}]", f"{check.analytic:.6e}",
                     f"{check.numeric:.6e}", f"{check.relative_error:.1e}")
            rounding = _rounding_limited(check)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignVCenter | (Qt.AlignLeft if c == 0 else Qt.AlignRight))
                if c == 3 and check.relative_error >= CHECK_TOLERANCE:
                    item.setForeground(Qt.darkGray if rounding else Qt.red)
                    if rounding:
                        item.setToolTip(f"dL/dw is within {ROUNDING_ZONE} times the smallest gradient a central "
                                        f"difference resolves here ({check.resolution:.0e}): rounding of the loss, "
                                        "not backprop, makes this error.")
                self.table.setItem(r, c, item)
        worst = max(checks, key=lambda c: c.relative_error, default=None)
        error = 0.0 if worst is None else worst.relative_error
        if error < CHECK_TOLERANCE:
            verdict = "backward is right"
        elif _rounding_limited(worst):
            verdict = (f"that gradient is near the smallest a central difference resolves here, about "
                       f"{worst.resolution:.0e}: rounding of the loss, not backprop, makes that error")
        else:
            verdict = "above 1e-6: look at the red rows (a weight at a ReLU kink can do this)"
        zeros = sum(c.analytic == 0 and c.numeric == 0 for c in checks)
        silent = (f" {zeros} of them get no gradient on either side: their unit is switched off (ReLU) for this "
                  "digit, or their input is 0." if zeros else "")
        self.summary.setText(f"{len(checks)} weights checked; worst relative error <b>{error:.1e}</b>: {verdict}."
                             + silent)

    def clear(self, message: str) -> None:
        self.checks = []
        self.table.setRowCount(0)
        self.summary.setText(message)


def _rounding_limited(check: WeightCheck) -> bool:
    return abs(check.analytic) < ROUNDING_ZONE * check.resolution


class OneStepPage(QWidget):
    """Signals ``step_requested(float)`` (the learning rate) and ``keep_requested()``."""

    step_requested = Signal(float)
    keep_requested = Signal()

    def __init__(self, names: list[str], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("backpropOneStepPage")
        self.result: OneStep | None = None
        self.rate_spin = QDoubleSpinBox()
        self.rate_spin.setObjectName("oneStepRate")
        self.rate_spin.setDecimals(4)
        self.rate_spin.setRange(0.0001, 10.0)
        self.rate_spin.setSingleStep(0.01)
        self.rate_spin.setValue(DEFAULT_STEP_LR)
        self.rate_spin.setToolTip("η, the learning rate of this one step: w ← w − η·dL/dw.")
        self.step_button = make_button("One step", "oneStepButton",
                                       "Apply one plain SGD step on this digit, to a copy of the model.",
                                       lambda: self.step_requested.emit(self.rate_spin.value()))
        self.keep_button = make_button("Keep", "keepStepButton",
                                       "Make the stepped copy the window's model.", self.keep_requested)
        self.keep_button.setEnabled(False)
        self.summary = _note("oneStepResult")
        self.before = ProbabilityBars(names)
        self.before.setObjectName("oneStepBefore")
        self.after = ProbabilityBars(names)
        self.after.setObjectName("oneStepAfter")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Learning rate η"))
        controls.addWidget(self.rate_spin)
        controls.addWidget(self.step_button)
        controls.addStretch(1)
        controls.addWidget(self.keep_button)
        bars = QGridLayout()
        bars.addWidget(QLabel("Before the step"), 0, 0)
        bars.addWidget(QLabel("After the step"), 0, 1)
        bars.addWidget(self.before, 1, 0)
        bars.addWidget(self.after, 1, 1)
        column = QVBoxLayout(self)
        column.addWidget(_note_text(
            "One step of gradient descent on this one digit: w ← w − η·g. To first order the loss changes "
            "by −η‖g‖²; the actual change shows where that estimate holds (small η) and where it fails. The "
            "step is taken on a copy: the window's model changes only if you click Keep."))
        column.addLayout(controls)
        column.addWidget(self.summary)
        column.addLayout(bars)
        column.addStretch(1)

    def set_names(self, names: list[str]) -> None:
        self.before.set_labels(names)
        self.after.set_labels(names)

    def show_step(self, result: OneStep, lr: float) -> None:
        self.result = result
        self.before.set_probabilities(result.probs_before)
        self.after.set_probabilities(result.probs_after)
        self.summary.setText(
            f"Loss before: {num(result.loss_before, 4)}, after: {num(result.loss_after, 4)}.<br>"
            f"Predicted change −η‖g‖² = −{num(lr, 4)} × {num(result.gradient_norm, 4)}² = "
            f"<b>{num(result.predicted_change, 4)}</b>; actual change <b>{num(result.actual_change, 4)}</b>."
            + _agreement(result))

    def clear(self, message: str = "") -> None:
        self.result = None
        self.before.set_probabilities(None)
        self.after.set_probabilities(None)
        self.summary.setText(message)


class SaliencyPage(QWidget):
    """Signal ``class_changed()`` when another class is chosen. ``target()``: the chosen class,
    or ``PREDICTED_CLASS``."""

    class_changed = Signal()

    def __init__(self, names: list[str], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("backpropSaliencyPage")
        self.digit = HeatMap(168)
        self.digit.setObjectName("saliencyDigit")
        self.map = HeatMap(168)
        self.map.setObjectName("saliencyView")
        self.map.setToolTip("Integrated gradients: red pixels raise the class's logit, blue ones lower it.")
        for picture in (self.digit, self.map):
            picture.setMinimumSize(112, 112)
            picture.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.class_combo = make_combo("saliencyClassCombo", "Which class's logit to explain.",
                                      [("the predicted class", PREDICTED_CLASS)], self.class_changed)
        self.set_names(names)
        self.summary = _note("saliencySummary")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Explain"))
        controls.addWidget(self.class_combo)
        controls.addStretch(1)
        pictures = QHBoxLayout()
        pictures.addWidget(self.digit, 1)
        pictures.addWidget(self.map, 1)
        column = QVBoxLayout(self)
        column.addWidget(_note_text(
            "Why this digit? Integrated gradients: the gradient of the class's logit, averaged along the "
            "straight path from a black image to this digit (64 steps), times the pixel. Red pixels push "
            "the class up, blue ones push it down; together they add up to the logit's change from the "
            "black image."))
        column.addLayout(controls)
        column.addLayout(pictures, 1)
        column.addWidget(self.summary)

    def set_names(self, names: list[str]) -> None:
        if [self.class_combo.itemText(k) for k in range(1, self.class_combo.count())] == list(names):
            return
        chosen = self.class_combo.currentData()
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("the predicted class", PREDICTED_CLASS)
        for k, name in enumerate(names):
            self.class_combo.addItem(name, k)
        self.class_combo.setCurrentIndex(max(self.class_combo.findData(chosen), 0))
        self.class_combo.blockSignals(False)

    def target(self) -> int:
        return int(self.class_combo.currentData())

    def show_map(self, pixels: np.ndarray, attributions: np.ndarray, target: int, name: str,
                 logit_change: float) -> None:
        """``attributions`` (784,) for class ``target``; ``logit_change`` = logit(x) − logit(black)."""
        self.digit.set_values(pixels, GREY)
        self.map.set_values(attributions, SIGNED)
        total = float(np.sum(attributions))
        self.summary.setText(
            f"Class <b>{name}</b>: the attributions add up to {num(total, 4)}; its logit rose by "
            f"{num(logit_change, 4)} from the black image (completeness). Largest push up: "
            f"{num(float(attributions.max()))}, down: {num(float(attributions.min()))}.")

    def clear(self, message: str) -> None:
        self.digit.set_values(None)
        self.map.set_values(None)
        self.summary.setText(message)


class NoisePage(QWidget):
    """Signal ``recompute_requested()``."""

    recompute_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("backpropNoisePage")
        self.spreads: dict[int, Spread] | None = None
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("gradientNoisePlot")
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "mini-batch size B")
        self.plot.setLabel("left", "cosine to the full gradient")
        self.plot.setYRange(-0.1, 1.05)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setMinimumHeight(160)
        self.plot.setToolTip("Each point: the mean cosine between the gradient on B random training images and "
                             "the gradient on all of them; the bar spans ± one standard deviation over 8 draws.")
        self.plot.addItem(pg.InfiniteLine(1.0, angle=0, pen=pg.mkPen("#999999", style=Qt.DashLine)))
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#2f6db3", width=2), symbol="o", symbolSize=7,
                                    symbolBrush="#2f6db3")
        self.bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0), beam=0.08,
                                    pen=pg.mkPen("#2f6db3"))
        self.plot.addItem(self.bars)
        self.recompute_button = make_button(
            "Recompute", "noiseRecomputeButton",
            f"Measure again at the current weights, on {NOISE_IMAGES:,} training images.", self.recompute_requested)
        self.status = _note("noiseStatus")
        self.sentence = _note("noiseSentence")
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.recompute_button, 0, Qt.AlignTop)
        column = QVBoxLayout(self)
        column.addLayout(row)
        column.addWidget(self.plot, 1)
        column.addWidget(self.sentence)

    def show_spreads(self, spreads: dict[int, Spread], images: int, seconds: float, when: str) -> None:
        self.spreads = dict(spreads)
        sizes = np.array(sorted(spreads), dtype=float)
        means = np.array([spreads[b].mean for b in sorted(spreads)])
        stds = np.array([spreads[b].std for b in sorted(spreads)])
        self.curve.setData(sizes, means)
        # the error bars and the ticks live in the plot's (log10 x) coordinates
        self.bars.setData(x=np.log10(sizes), y=means, height=2 * stds)
        self.plot.getAxis("bottom").setTicks([[(float(np.log10(b)), f"{int(b):,}") for b in sizes]])
        self.plot.setYRange(min(0.0, float(np.min(means - stds))) - 0.05, 1.05, padding=0)
        self.status.setText(f"Measured {when}, on {images:,} training images, 8 draws per size, in {seconds:.1f} s.")
        self.sentence.setText(noise_sentence(spreads))

    def clear(self, message: str) -> None:
        self.spreads = None
        self.curve.setData([], [])
        self.bars.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
        self.status.setText(message)
        self.sentence.setText("")


def _agreement(result: OneStep) -> str:
    """How far the first-order estimate holds: actual / predicted change."""
    if result.predicted_change == 0:
        return "<br>The gradient is zero here: the step changes nothing."
    ratio = result.actual_change / result.predicted_change
    if abs(ratio - 1) <= 0.1:
        verdict = "the first-order estimate holds: the step is small enough"
    elif ratio > 0:
        verdict = "the loss fell, but not as the straight-line estimate says: at this η the curvature matters"
    else:
        verdict = "the loss rose: the step overshot; try a smaller η"
    return f"<br>Actual / predicted = {num(ratio)}: {verdict}."


def noise_sentence(spreads: dict[int, Spread]) -> str:
    """What the measured cosines mean for full batch, mini-batch and SGD (HTML)."""
    one = spreads.get(1)
    mid = spreads.get(64)
    parts = []
    if one is not None:
        parts.append(f"One image's gradient (SGD) points along the full gradient only by a cosine of "
                     f"{num(one.mean, 2)} ± {num(one.std, 2)}: each step is mostly noise, which averages out "
                     "over many cheap steps.")
    if mid is not None:
        parts.append(f"A mini-batch of 64 reaches {num(mid.mean, 2)} ± {num(mid.std, 2)}: much of the direction "
                     "for a small cost, which is why mini-batches are the usual choice.")
    parts.append("Full batch is exactly the full gradient (cosine 1), but one step costs a pass over every image. "
                 "Averaging B gradients cuts the noise roughly as 1/√B, so the cosine climbs towards 1 as B grows.")
    return " ".join(parts)


def _note_text(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #444;")
    return label
