"""The neuron lab: one unit up close (its incoming weights, bias, the test digits that excite it
most, its activation histogram, its forward sum for the chosen digit), and edits on a copy of the
model: switch the unit off, scale what it passes on (0-2x), shift its bias, prune the smallest
weights of every Dense layer. After each edit the test accuracy and the chosen digit's
probabilities follow (``scratchnet.explain.EditedAccuracy``, in a worker thread). "Keep" asks the
window to make the edited copy its current model (``keep_requested``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from scratchnet.explain import (
    EditedAccuracy,
    ExplainError,
    prune,
    top_rows,
    trace,
    unit_equations,
    unit_layers,
    with_biases_shifted,
    with_units_scaled,
)
from scratchnet.network import Sequential

from .background import LatestJob
from .images import grey_qimage, square_side
from .network_diagram import IMAGE_NETWORK_NOTE, unit_layers_of
from .predictions import ModelContext, Predictions, finite_softmax, layer_outputs, predictions_on_test_set
from .probability_bars import ProbabilityBars
from .weights import tile_mosaic, weight_scale
from .widgets import WrappingLabel, make_button, make_combo

TOP_DIGITS = 9
TOP_SIDE = 56  # each of the 9 digits, 2 screen pixels per pixel
MAP_SIDE = 112  # the 28x28 weight map, 4 screen pixels per pixel
HISTOGRAM_BINS = 50
PRUNE_CURVE = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
SCALE_STEPS = 100  # the scale slider's steps per 1x


def lab_cache(context: ModelContext) -> EditedAccuracy | None:
    """Every layer's outputs on the test set for the context's model, for fast edited accuracies.
    Its test-set predictions come with them (``predictions_on_test_set``: the same forward pass)."""
    if not context.usable or context.model.is_image_network:
        return None
    x, y = context.dataset.x_test, context.dataset.y_test
    model = context.model.copy()  # the layers keep per-call caches, and the GUI thread may run the model
    outputs = layer_outputs(model, x)
    context.provide(predictions_on_test_set, Predictions.from_probabilities(finite_softmax(outputs[-1]), y))
    return EditedAccuracy(model, x, y, outputs)


@dataclass
class UnitEdit:
    """What the lab does to one unit: ``off`` silences it, else its output is multiplied by
    ``scale``; ``shift`` is added to its bias."""

    off: bool = False
    scale: float = 1.0
    shift: float = 0.0

    @property
    def neutral(self) -> bool:
        return not self.off and self.scale == 1.0 and self.shift == 0.0


def edited_model(model: Sequential, edits: dict[tuple[int, int], UnitEdit], fraction: float) -> Sequential:
    """A copy of ``model`` with the unit ``edits`` made, then ``fraction`` of each Dense layer's
    smallest weights pruned."""
    scales = {key: 0.0 if e.off else e.scale for key, e in edits.items() if e.off or e.scale != 1.0}
    shifts = {key: e.shift for key, e in edits.items() if e.shift != 0.0}
    edited = with_biases_shifted(with_units_scaled(model, scales), shifts)
    return prune(edited, fraction) if fraction > 0 else edited


@dataclass(frozen=True)
class Evaluation:
    model: Sequential
    accuracy: float
    probabilities: np.ndarray | None  # the chosen digit's (C,)


@dataclass(frozen=True)
class UnitInfo:
    key: tuple[int, int]
    top: np.ndarray  # (9,) test indices
    edges: np.ndarray
    counts: np.ndarray  # over the test images whose activation is not exactly 0
    zeros: int  # test images on which the unit outputs exactly 0 (a ReLU that is off)


def equation_text(model: Sequential, digit: np.ndarray, label: int, layer: int, unit: int) -> str:
    """The unit's forward sum with the chosen digit's numbers (rich text)."""
    dense, _ = unit_layers(model, layer)
    eq = unit_equations(trace(model, digit, label), dense, unit, top=4)
    terms = " + ".join(f"({x:.3g}×{w:.3g})" for x, w in zip(eq.weighted.left, eq.weighted.right, strict=True))
    rest = ""
    if eq.weighted.rest_count:
        rest = f" + {eq.weighted.rest:.3g} <i>(the other {eq.weighted.rest_count} terms)</i>"
    a = "p" if eq.activation == "softmax" else "a"
    return (f"z = Σ x<sub>i</sub> W<sub>i,{unit}</sub> + b = {terms}{rest} + {eq.bias:.3g} = <b>{eq.z:.4g}</b><br>"
            f"{a} = {eq.activation}(z) = <b>{eq.a:.4g}</b>")


class NeuronLab(QWidget):
    """The lab tab. ``keep_requested(model)``: the user asked to keep the edited copy."""

    PREPARE = (lab_cache,)
    keep_requested = Signal(object)
    evaluated = Signal()  # the readouts show the newest edits

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("neuronLab")
        self._context = ModelContext(None, None)
        self._digit: np.ndarray | None = None
        self._label: int | None = None
        self._digit_dirty = False
        self.unit: tuple[int, int] | None = None
        self.edits: dict[tuple[int, int], UnitEdit] = {}
        self.evaluation: Evaluation | None = None
        self.base_accuracy: float | None = None
        self.unit_info: UnitInfo | None = None
        self.prune_points: list[tuple[float, float]] = []
        self._evaluator = LatestJob(self)
        self._unit_job = LatestJob(self)
        self._curve_job = LatestJob(self)
        self.jobs = (self._evaluator, self._unit_job, self._curve_job)

        self.layer_combo = make_combo("labLayerCombo", "The layer of the unit to look at.", [], self._on_pick)
        self.unit_spin = QSpinBox()
        self.unit_spin.setObjectName("labUnitSpin")
        self.unit_spin.setToolTip("The unit's number in its layer (or click a unit in the Network diagram).")
        self.unit_spin.valueChanged.connect(self._on_pick)
        self.unit_label = QLabel("Click a unit in the Network diagram, or choose one here.")
        self.unit_label.setObjectName("labUnitLabel")
        self.weights_image = QLabel()
        self.weights_image.setObjectName("labWeightsImage")
        self.weights_image.setFixedSize(MAP_SIDE, MAP_SIDE)
        self.weights_bars = self._plot("labWeightsBars", "incoming weight", "from unit")
        self.weights_bars.setFixedSize(MAP_SIDE, MAP_SIDE)
        self.bias_label = QLabel()
        self.bias_label.setObjectName("labBiasLabel")
        self.top_label = QLabel()
        self.top_label.setObjectName("labTopDigits")
        self.top_label.setFixedSize(3 * TOP_SIDE + 4, 3 * TOP_SIDE + 4)
        self.top_label.setToolTip("The 9 test digits that excite this unit most, most first (row by row).")
        self.histogram = self._plot("labHistogram", "test images", "activation")
        self.histogram.setMinimumHeight(110)
        self.histogram_label = WrappingLabel("Its activation over the test set")
        self.histogram_label.setObjectName("labHistogramLabel")
        self.equation = WrappingLabel()
        self.equation.setObjectName("labEquation")
        self.equation.setTextFormat(Qt.RichText)

        self.off_check = QCheckBox("Switch off")
        self.off_check.setObjectName("unitOffCheck")
        self.off_check.setToolTip("Silence the unit: nothing of it reaches the next layers.")
        self.off_check.toggled.connect(self._on_edit)
        self.scale_slider = QSlider(Qt.Horizontal)
        self.scale_slider.setObjectName("unitScaleSlider")
        self.scale_slider.setRange(0, 2 * SCALE_STEPS)
        self.scale_slider.setValue(SCALE_STEPS)
        self.scale_slider.setToolTip("Multiply what the unit passes on to the next layers (0-2x).")
        self.scale_slider.valueChanged.connect(self._on_edit)
        self.scale_label = QLabel("1.00×")
        self.scale_label.setObjectName("unitScaleLabel")
        self.bias_spin = QDoubleSpinBox()
        self.bias_spin.setObjectName("biasShiftSpin")
        self.bias_spin.setRange(-10.0, 10.0)
        self.bias_spin.setSingleStep(0.1)
        self.bias_spin.setDecimals(2)
        self.bias_spin.setToolTip("Add this to the unit's bias b.")
        self.bias_spin.valueChanged.connect(self._on_edit)
        self.reset_unit_button = make_button("Reset unit", "resetUnitButton", "Undo this unit's edits.",
                                             self.reset_unit)
        self.reset_all_button = make_button("Reset all", "resetAllButton", "Undo every edit and the pruning.",
                                            self.reset_all)
        self.keep_button = make_button("Keep", "keepEditsButton",
                                       "Make the edited network the current model (saveable, trainable further).",
                                       self._on_keep)
        self.accuracy_label = WrappingLabel()
        self.accuracy_label.setObjectName("labAccuracyLabel")
        self.probabilities = ProbabilityBars([str(i) for i in range(10)])
        self.probabilities.setObjectName("labProbabilities")
        self.note = WrappingLabel()
        self.note.setObjectName("labNote")

        self.prune_slider = QSlider(Qt.Horizontal)
        self.prune_slider.setObjectName("pruneSlider")
        self.prune_slider.setRange(0, 99)
        self.prune_slider.setToolTip("Zero this share of the smallest weights in each Dense layer.")
        self.prune_slider.valueChanged.connect(self._on_edit)
        self.prune_label = QLabel("0% pruned")
        self.prune_label.setObjectName("pruneLabel")
        self.curve_button = make_button("Plot accuracy vs pruned fraction", "pruneCurveButton",
                                        "Test accuracy after pruning 0, 10, …, 90, 95 and 99% of each layer's weights.",
                                        self.plot_prune_curve)
        self.prune_curve = self._plot("pruneCurve", "test accuracy (%)", "pruned fraction (%)")
        self.prune_curve.setMinimumHeight(130)
        self._layout()
        self._show_unit()

    @staticmethod
    def _plot(name: str, left: str, bottom: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setObjectName(name)
        plot.setLabel("left", left)
        plot.setLabel("bottom", bottom)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        return plot

    def _layout(self) -> None:
        pick = QHBoxLayout()
        pick.addWidget(QLabel("Unit:"))
        pick.addWidget(self.layer_combo)
        pick.addWidget(self.unit_spin)
        pick.addWidget(self.unit_label, 1)

        pictures = QGridLayout()
        pictures.addWidget(QLabel("Incoming weights\n(blue < 0 < red)"), 0, 0)
        pictures.addWidget(self.weights_image, 1, 0, Qt.AlignTop)
        pictures.addWidget(QLabel("Test digits that\nexcite it most"), 0, 1)
        pictures.addWidget(self.top_label, 1, 1, Qt.AlignTop)
        pictures.addWidget(self.bias_label, 2, 0, 1, 2)

        edit = QGroupBox("Edit a copy of the network")
        column = QVBoxLayout(edit)
        column.addWidget(self.off_check)
        scale = QHBoxLayout()
        scale.addWidget(QLabel("Scale output"))
        scale.addWidget(self.scale_slider, 1)
        scale.addWidget(self.scale_label)
        column.addLayout(scale)
        bias = QHBoxLayout()
        bias.addWidget(QLabel("Shift bias by"))
        bias.addWidget(self.bias_spin)
        bias.addStretch(1)
        column.addLayout(bias)
        buttons = QHBoxLayout()
        for button in (self.reset_unit_button, self.reset_all_button, self.keep_button):
            buttons.addWidget(button)
        column.addLayout(buttons)
        column.addWidget(self.accuracy_label)
        column.addWidget(self.note)
        column.addStretch(1)

        top = QHBoxLayout()
        top.addLayout(pictures)
        top.addWidget(edit, 1)
        middle = QHBoxLayout()
        histogram = QVBoxLayout()
        histogram.addWidget(self.histogram_label)
        histogram.addWidget(self.histogram, 1)
        middle.addLayout(histogram, 1)
        probabilities = QVBoxLayout()
        probabilities.addWidget(QLabel("The chosen digit's probabilities"))
        probabilities.addWidget(self.probabilities)
        probabilities.addStretch(1)
        middle.addLayout(probabilities)
        self.probabilities.setFixedWidth(230)

        pruning = QGroupBox("Pruning: zero the smallest weights of every Dense layer")
        prune_column = QVBoxLayout(pruning)
        prune_row = QHBoxLayout()
        prune_row.addWidget(self.prune_slider, 1)
        prune_row.addWidget(self.prune_label)
        prune_row.addWidget(self.curve_button)
        prune_column.addLayout(prune_row)
        prune_column.addWidget(self.prune_curve, 1)

        body = QWidget()
        rows = QVBoxLayout(body)
        rows.addLayout(top)
        rows.addLayout(middle)
        rows.addWidget(self.equation)
        rows.addWidget(pruning)
        self.weights_bars.setVisible(False)
        pictures.addWidget(self.weights_bars, 1, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.addLayout(pick)
        outer.addWidget(scroll, 1)
        body.setMinimumSize(600, 820)
        edit.setMinimumWidth(270)

    # ------------------------------------------------------------------ public
    @property
    def lab(self) -> EditedAccuracy | None:
        return self._context.computed(lab_cache) if self._context.has(lab_cache) else None

    def set_context(self, context: ModelContext) -> None:
        image_network = context.model is not None and context.model.is_image_network
        if image_network:  # shown as no model, with the reason below
            context = ModelContext(None, context.dataset)
        old = self._context.model
        self._context = context
        model = context.model
        if model is None or (old is not None and old.get_config() != model.get_config()):
            self.edits, self.unit = {}, None  # other layers: the edits and the unit mean nothing now
        if self._digit is None and context.dataset is not None:
            self._digit, self._label = context.dataset.x_test[0], int(context.dataset.y_test[0])  # as the diagram
        self.prune_points = []
        self.prune_curve.clear()
        lab = context.computed(lab_cache)
        self.base_accuracy = None if lab is None else lab.accuracy(lab.model)
        names = [] if model is None else unit_layers_of(model)
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for k, layer in enumerate(names):
            last = k == len(names) - 1
            self.layer_combo.addItem("output layer (logits)" if last else f"hidden {k + 1}", layer)
        self.layer_combo.blockSignals(False)
        if self.unit is not None and self.unit[0] not in names:
            self.unit = None
        if self.unit is None and names:
            self.unit = (names[0], 0)
        self._show_unit()
        self.evaluate()
        if image_network:
            self.unit_label.setText(IMAGE_NETWORK_NOTE)
            self.accuracy_label.setText(IMAGE_NETWORK_NOTE)

    def set_digit(self, digit: np.ndarray | None, label: int | None) -> None:
        """The chosen digit (inputs,) and its true class (None when drawn)."""
        self._digit, self._label = digit, label
        if not self.isVisible():  # the diagram follows every digit: the lab catches up when shown
            self._digit_dirty = True
            return
        self._show_equation()
        self.evaluate()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._digit_dirty:
            self._digit_dirty = False
            self._show_equation()
            self.evaluate()

    @Slot(int, int)
    def set_unit(self, layer: int, unit: int) -> None:
        """Look at unit ``unit`` of ``model.layers[layer]``."""
        self.unit = (layer, unit)
        self._show_unit()

    def edited(self) -> Sequential | None:
        if self._context.model is None:
            return None
        return edited_model(self._context.model, self.edits, self.prune_slider.value() / 100)

    @Slot()
    def reset_unit(self) -> None:
        if self.unit is not None:
            self.edits.pop(self.unit, None)
        self._show_controls()
        self.evaluate()

    @Slot()
    def reset_all(self) -> None:
        self.edits = {}
        self.prune_slider.blockSignals(True)
        self.prune_slider.setValue(0)
        self.prune_slider.blockSignals(False)
        self._show_controls()
        self.evaluate()

    def show_note(self, text: str) -> None:
        self.note.setText(text)

    @Slot()
    def evaluate(self) -> None:
        """Recompute the accuracy and the digit's probabilities of the edited copy, off the GUI thread."""
        lab, model = self.lab, self._context.model
        self.prune_label.setText(f"{self.prune_slider.value()}% pruned")
        if lab is None or model is None:
            self.accuracy_label.setText("No model yet: train or open one." if model is None else
                                        "The model does not fit this data set.")
            self.probabilities.set_probabilities(None)
            return
        edits, fraction, digit = dict(self.edits), self.prune_slider.value() / 100, self._digit
        if digit is not None and len(digit) != model.input_size:
            digit = None

        def work() -> Evaluation:
            edited = edited_model(model, edits, fraction)
            probabilities = None if digit is None else edited.predict_proba(digit[None, :])[0]
            return Evaluation(edited, lab.accuracy(edited), probabilities)

        self.accuracy_label.setText(self.accuracy_label.text().split(" (computing")[0] + " (computing…)")
        self._evaluator.submit(work, self._on_evaluated)

    @Slot()
    def plot_prune_curve(self) -> None:
        lab, model = self.lab, self._context.model
        if lab is None:
            self.note.setText("Train or open a model that fits the data set first.")
            return
        edits = dict(self.edits)

        def work() -> list[tuple[float, float]]:
            edited = edited_model(model, edits, 0.0)
            return [(f, lab.accuracy(prune(edited, f))) for f in PRUNE_CURVE]

        self.curve_button.setEnabled(False)
        self._curve_job.submit(work, self._on_curve)

    # ------------------------------------------------------------------ internals
    def _on_evaluated(self, result: Evaluation | None, error: Exception | None) -> None:
        if error is not None:
            self.accuracy_label.setText(f"Could not evaluate the edited network: {error}")
            return
        self.evaluation = result
        edited = sum(not e.neutral for e in self.edits.values())
        text = f"Test accuracy {100 * result.accuracy:.2f}%"
        if self.base_accuracy is not None:
            change = 100 * (result.accuracy - self.base_accuracy)
            text += f" (unedited {100 * self.base_accuracy:.2f}%, {change:+.2f} points)"
        text += f" · {edited} unit{'s' * (edited != 1)} edited, {self.prune_slider.value()}% pruned"
        self.accuracy_label.setText(text)
        self.probabilities.set_labels(self._context.class_names)
        self.probabilities.set_probabilities(result.probabilities)
        self.evaluated.emit()

    def _on_curve(self, result, error) -> None:
        self.curve_button.setEnabled(True)
        if error is not None:
            self.note.setText(f"Could not prune: {error}")
            return
        self.prune_points = result
        x = np.array([100 * f for f, _ in result])
        y = np.array([100 * a for _, a in result])
        self.prune_curve.clear()
        self.prune_curve.plot(x, y, pen=pg.mkPen("#2f6db3", width=2), symbol="o", symbolSize=6,
                              symbolBrush="#2f6db3")
        self.prune_curve.setYRange(0, 100)

    @Slot()
    def _on_pick(self) -> None:
        layer = self.layer_combo.currentData()
        if layer is None:
            return
        self.unit = (layer, self.unit_spin.value())
        self._show_unit()

    @Slot()
    def _on_edit(self) -> None:
        if self.unit is not None and self.sender() is not self.prune_slider:
            edit = UnitEdit(self.off_check.isChecked(), self.scale_slider.value() / SCALE_STEPS, self.bias_spin.value())
            if edit.neutral:
                self.edits.pop(self.unit, None)
            else:
                self.edits[self.unit] = edit
        self.scale_label.setText(f"{self.scale_slider.value() / SCALE_STEPS:.2f}×")
        self.evaluate()

    @Slot()
    def _on_keep(self) -> None:
        if self._evaluator.busy:
            self.note.setText("The edited network is still being measured: click Keep again in a moment.")
            return
        if self.evaluation is None or (not self.edits and self.prune_slider.value() == 0):
            self.note.setText("Nothing to keep: edit a unit or prune first.")
            return
        self.keep_requested.emit(self.evaluation.model)

    def _show_controls(self) -> None:
        edit = self.edits.get(self.unit, UnitEdit())
        for widget, value in ((self.off_check, edit.off), (self.scale_slider, round(edit.scale * SCALE_STEPS)),
                              (self.bias_spin, edit.shift)):
            widget.blockSignals(True)
            if widget is self.off_check:
                widget.setChecked(value)
            else:
                widget.setValue(value)
            widget.blockSignals(False)
        self.scale_label.setText(f"{edit.scale:.2f}×")

    def _show_unit(self) -> None:
        model = self._context.model
        enabled = model is not None and self.unit is not None
        for widget in (self.off_check, self.scale_slider, self.bias_spin, self.reset_unit_button):
            widget.setEnabled(enabled)
        self._show_controls()
        if not enabled:
            self.unit_label.setText("No model yet: train or open one." if model is None else
                                    "Click a unit in the Network diagram, or choose one here.")
            return
        layer, unit = self.unit
        dense, _ = unit_layers(model, layer)
        width = model.layers[dense].out_features
        if unit >= width:
            self.unit = (layer, unit := width - 1)
        for widget, value in ((self.layer_combo, self.layer_combo.findData(layer)), (self.unit_spin, unit)):
            widget.blockSignals(True)
            if widget is self.unit_spin:
                widget.setRange(0, width - 1)
                widget.setValue(value)
            else:
                widget.setCurrentIndex(value)
            widget.blockSignals(False)
        w = model.layers[dense].params["W"][:, unit]
        b = float(model.layers[dense].params["b"][unit])
        self.unit_label.setText(f"{self.layer_combo.currentText()}, unit {unit} of {width}")
        self.bias_label.setText(f"bias b = {b:.4g}")
        self.weights_bars.clear()
        image_side = square_side(len(w))
        if image_side is not None and image_side <= MAP_SIDE:
            mosaic = tile_mosaic(w[:, None], 0, 1, weight_scale(w))[1:-1, 1:-1]
            factor = MAP_SIDE // image_side
            big = np.ascontiguousarray(np.repeat(np.repeat(mosaic, factor, 0), factor, 1))
            shown = image_side * factor
            image = QImage(big.data, shown, shown, 4 * shown, QImage.Format_RGBA8888).copy()
            self.weights_image.setPixmap(QPixmap.fromImage(image))
            self.weights_image.setVisible(True)
            self.weights_bars.setVisible(False)
        else:
            self.weights_image.setVisible(False)
            self.weights_bars.setVisible(True)
            brushes = ["#c0392b" if v >= 0 else "#2166ac" for v in w]
            self.weights_bars.addItem(pg.BarGraphItem(x=np.arange(len(w)), height=w, width=0.8, brushes=brushes,
                                                      pen=None))
        self._show_equation()
        self._request_unit_info()

    def _show_equation(self) -> None:
        model, digit = self._context.model, self._digit
        if model is None or self.unit is None or digit is None or len(digit) != model.input_size:
            self.equation.setText("Choose a digit in the Network diagram to see this unit's sum.")
            return
        label = self._label if self._label is not None else int(np.argmax(model.predict_proba(digit[None, :])[0]))
        try:
            self.equation.setText(equation_text(model, digit, label, *self.unit))
        except ExplainError as error:
            self.equation.setText(str(error))

    def _request_unit_info(self) -> None:
        lab, key = self.lab, self.unit
        if lab is None or key is None:
            return

        def work() -> UnitInfo:  # from the outputs the lab keeps (the same as top_activating and layer_output)
            values = lab.output(key[0])[:, key[1]].astype(np.float64)
            top = top_rows(values, TOP_DIGITS)
            values = values[np.isfinite(values)]
            zeros = int(np.count_nonzero(values == 0))
            counts, edges = np.histogram(values[values != 0], bins=HISTOGRAM_BINS)
            return UnitInfo(key, top, edges, counts, zeros)

        self._unit_job.submit(work, self._on_unit_info)

    def _on_unit_info(self, info: UnitInfo | None, error: Exception | None) -> None:
        if error is not None or info.key != self.unit:
            self.note.setText("" if error is None else f"Could not look at the unit: {error}")
            return
        self.unit_info = info
        x = self._context.dataset.x_test
        side = TOP_SIDE
        mosaic = np.full((3 * side + 4, 3 * side + 4), 0.35, np.float32)
        image_side = square_side(x.shape[1])
        square = image_side is not None and image_side <= side
        shown = list(info.top) if square else []  # square images only
        factor = side // image_side if square else 1
        for k, index in enumerate(shown):
            r, c = divmod(k, 3)
            digit = np.asarray(x[index], np.float32).reshape(image_side, image_side)
            tile = np.repeat(np.repeat(digit, factor, 0), factor, 1)
            top, left = 1 + r * (side + 1), 1 + c * (side + 1)
            mosaic[top:top + tile.shape[0], left:left + tile.shape[1]] = tile
        self.top_label.setPixmap(QPixmap.fromImage(grey_qimage(mosaic)))
        self.top_label.setToolTip("Test images " + ", ".join(f"#{i}" for i in info.top) + ", most excited first.")
        self.histogram_label.setText(f"Its activation over the {len(x):,} test images"
                                     + (f" ({info.zeros:,} give exactly 0, not drawn)" if info.zeros else ""))
        self.histogram.clear()
        self.histogram.plot(info.edges, info.counts, stepMode="center", fillLevel=0, brush="#8fb4d9",
                            pen=pg.mkPen("#2f6db3"))

