"""The "Step through" page of the Backprop tab: the network as a row of columns (the input, each
layer's output, the softmax and loss), walked forward layer by layer and then backward with
``backpropNextButton`` and Back. Each column shows its values on top and, once the backward pass
has reached it, its gradient below; the stage being computed is framed in orange. Under the
diagram, what the stage did with its numbers, and the equations of the unit last clicked.

It draws a ``scratchnet.explain.Trace``; the unit equations come from ``explain.unit_equations``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from scratchnet.explain import Trace, unit_equations

from .backprop_stages import BACKWARD, LOSS, Stage, build_stages
from .backprop_text import pixel_text, stage_text, unit_text
from .backprop_widgets import GREY, SIGNED, HeatMap, StageColumn
from .images import DIGIT_SIDE
from .probability_bars import ProbabilityBars
from .weights import TileGrid

COLUMN_WIDTH = 92


def _label(name: str, wrap: bool = True) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.RichText)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
    return label


def _scrolling(widget: QWidget, name: str) -> QScrollArea:
    area = QScrollArea()
    area.setObjectName(name)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # texts wrap, tiles reflow to the width
    area.setWidget(widget)
    return area


class StepThroughPage(QWidget):
    """Signal ``stage_changed(int)`` after Next or Back (the stage's index)."""

    stage_changed = Signal(int)

    def __init__(self, next_button, back_button, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("backpropStepPage")
        self.next_button = next_button
        self.back_button = back_button
        self.stages: list[Stage] = []
        self.stage = 0
        self.titles: list[str] = []
        self.kinds: list[str] = []
        self.names: list[str] = [str(k) for k in range(10)]
        self.trace: Trace | None = None
        self.selected: tuple[int, int] | None = None  # (column, unit) last clicked
        self.columns: list[StageColumn] = []

        self.stage_label = _label("backpropStageLabel", wrap=True)
        self.stage_label.setStyleSheet("font-weight: bold;")
        self.diagram = QWidget()
        self.diagram.setObjectName("backpropDiagram")
        self._diagram_row = QHBoxLayout(self.diagram)
        self._diagram_row.setContentsMargins(2, 2, 2, 2)
        self._diagram_row.setSpacing(4)
        self._diagram_row.addStretch(1)
        self.diagram_area = QScrollArea()
        self.diagram_area.setObjectName("backpropDiagramArea")
        self.diagram_area.setWidgetResizable(True)
        self.diagram_area.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.diagram_area.setWidget(self.diagram)
        self.diagram_area.setMinimumHeight(190)

        self.stage_text = _label("backpropStageText")
        self.probabilities = ProbabilityBars(self.names)
        self.probabilities.setObjectName("backpropProbabilities")
        self.gradient_tiles = TileGrid()
        self.gradient_tiles.setObjectName("gradientTiles")
        self.gradient_tiles.label.setObjectName("gradientTilesImage")
        self.gradient_tiles.setMinimumHeight(120)
        self.weight_gradient = HeatMap(160)
        self.weight_gradient.setObjectName("weightGradientMap")
        self.weight_gradient.setToolTip("dL/dW of this layer: one row per input, one column per unit "
                                        "(blue < 0 < red).")
        self.bias_gradient = HeatMap(120)
        self.bias_gradient.setObjectName("biasGradientMap")
        self.bias_gradient.setToolTip("dL/db = δ: one cell per unit (blue < 0 < red). Click a unit for its equations.")
        self.bias_gradient.unit_clicked.connect(self._on_bias_unit)
        self.bias_caption = QLabel("dL/db")
        self.weight_caption = QLabel("dL/dW")
        for caption in (self.bias_caption, self.weight_caption):
            caption.setWordWrap(True)  # else its length would be the page's minimum width
        self.unit_text = _label("unitEquations")
        self.unit_text.setText("Click any unit of the diagram to see its equations with the numbers plugged in.")
        self.unit_tile = HeatMap(112)
        self.unit_tile.setObjectName("unitGradientTile")
        self.unit_tile.setToolTip("dL/dW of the clicked unit's incoming weights, x_i·δ_j (blue < 0 < red).")
        self.unit_tile.setVisible(False)
        self._layout()

    def _layout(self) -> None:
        stage_box = QWidget()
        stage_column = QVBoxLayout(stage_box)
        stage_column.setContentsMargins(0, 0, 0, 0)
        stage_column.addWidget(self.stage_text)
        stage_column.addWidget(self.probabilities)
        gradients = QHBoxLayout()
        weights = QVBoxLayout()
        weights.addWidget(self.weight_caption)
        weights.addWidget(self.gradient_tiles, 1)
        weights.addWidget(self.weight_gradient, 1)
        bias = QVBoxLayout()
        bias.addWidget(self.bias_caption)
        bias.addWidget(self.bias_gradient, 1)
        gradients.addLayout(weights, 3)
        gradients.addLayout(bias, 1)
        self._gradients = QWidget()
        self._gradients.setLayout(gradients)
        stage_column.addWidget(self._gradients, 1)
        stage_column.addStretch(0)

        unit_box = QWidget()
        unit_column = QVBoxLayout(unit_box)
        unit_column.setContentsMargins(0, 0, 0, 0)
        unit_column.addWidget(self.unit_text)
        unit_column.addWidget(self.unit_tile, 0, Qt.AlignLeft)
        unit_column.addStretch(1)

        stage_group = QGroupBox("This stage")
        QVBoxLayout(stage_group).addWidget(_scrolling(stage_box, "stageDetailArea"))
        unit_group = QGroupBox("One unit")
        QVBoxLayout(unit_group).addWidget(_scrolling(unit_box, "unitDetailArea"))
        details = QSplitter(Qt.Horizontal)
        details.addWidget(stage_group)
        details.addWidget(unit_group)
        details.setStretchFactor(0, 1)
        details.setStretchFactor(1, 1)
        details.setSizes([500, 500])  # halves: the unit's sums need the width
        details.setChildrenCollapsible(False)

        stepper = QHBoxLayout()
        stepper.addWidget(self.back_button)
        stepper.addWidget(self.stage_label, 1)
        stepper.addWidget(self.next_button)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(self.diagram_area)
        splitter.addWidget(details)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([460, 540])
        splitter.setChildrenCollapsible(False)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addLayout(stepper)
        column.addWidget(splitter, 1)

    # ------------------------------------------------------------------ public
    def set_layers(self, kinds: list[str], titles: list[str], names: list[str]) -> None:
        """The model's layers (their type names and titles) and the class names; the diagram is
        rebuilt when they change, and the walk starts again from the input."""
        self.probabilities.set_labels(names)
        self.names = list(names)
        if kinds == self.kinds and titles == self.titles:
            return
        self.kinds, self.titles = list(kinds), list(titles)
        self.stages = build_stages(self.kinds, self.titles) if kinds else []
        self.stage = 0
        self.selected = None
        self.trace = None  # a trace of other layers would not fit the new diagram
        self._build_columns()
        self.show_stage()

    def set_trace(self, traced: Trace | None) -> None:
        """Draw ``traced`` (the stage is kept), or clear the numbers (None)."""
        self.trace = traced
        if traced is None:
            self.selected = None
        self.show_stage()

    def go(self, stage: int) -> None:
        self.stage = min(max(stage, 0), max(len(self.stages) - 1, 0))
        self.show_stage()
        self.stage_changed.emit(self.stage)

    @Slot()
    def next(self) -> None:
        self.go(self.stage + 1)

    @Slot()
    def back(self) -> None:
        self.go(self.stage - 1)

    def update_buttons(self) -> None:
        """Back and Next: enabled when there is a trace and a stage before or after this one."""
        traced, stages = self.trace, self.stages
        self.back_button.setEnabled(bool(stages) and self.stage > 0 and traced is not None)
        self.next_button.setEnabled(bool(stages) and self.stage < len(stages) - 1 and traced is not None)

    def show_stage(self) -> None:
        """Fill the diagram, the texts and the pictures for the current stage."""
        traced, stages = self.trace, self.stages
        self.update_buttons()
        if not stages:
            self.stage_label.setText("")
            self.stage_text.setText("")
            self._show_extras(None, None)
            return
        stage = stages[self.stage]
        self.stage_label.setText(f"Stage {self.stage + 1} of {len(stages)}: {stage.title}")
        for k, column in enumerate(self.columns):
            column.set_highlighted(k == stage.column)
        if traced is None:
            for column in self.columns:
                column.values.set_values(None)
                column.gradients.set_values(None)
            self.stage_text.setText("")
            self._show_extras(None, None)
            return
        for k, column in enumerate(self.columns):
            values, gradients = self._column_numbers(k, traced)
            mode = GREY if k == 0 else SIGNED
            labels = self.names if k >= len(self.columns) - 2 and values is not None and len(values) <= 32 else None
            column.values.set_values(values if k <= stage.values_upto else None, mode, labels)
            shown = stage.gradients_from is not None and k >= stage.gradients_from
            column.gradients.set_values(gradients if shown else None, SIGNED, labels)
        self.stage_text.setText(stage_text(stage, traced, self.titles, self.names))
        self._show_extras(stage, traced)
        self._show_selection()

    def select_unit(self, column: int, unit: int) -> None:
        """Show the equations of ``unit`` of diagram column ``column`` (what a click does)."""
        self.selected = (column, unit)
        self._show_selection()

    # ------------------------------------------------------------------ internals
    def _build_columns(self) -> None:
        for column in self.columns:
            self._diagram_row.removeWidget(column)
            column.deleteLater()
        self.columns = []
        if not self.kinds:
            return
        specs = [("input x", "The digit's 784 pixels, 0 black to 1 white; below, dL/dx.", "x", "dL/dx")]
        for kind, title in zip(self.kinds, self.titles, strict=True):
            z = kind == "Dense"
            specs.append((title, f"The output of {title}; below, the gradient of the loss with respect to it.",
                          "z" if z else "a", "δ = dL/dz" if z else "dL/da"))
        specs.append(("softmax\nand loss", "p = softmax(z), the class probabilities; the loss is −log p of the label.",
                      "p", ""))
        for k, (title, tip, values_caption, gradients_caption) in enumerate(specs):
            column = StageColumn(title, tip, f"backpropColumn{k}")
            column.values_caption.setText(values_caption)
            column.gradients_caption.setText(gradients_caption)
            column.setMinimumWidth(COLUMN_WIDTH - 20)
            column.setMaximumWidth(2 * COLUMN_WIDTH)
            column.unit_clicked.connect(lambda unit, k=k: self.select_unit(k, unit))
            self._diagram_row.insertWidget(self._diagram_row.count() - 1, column, 1)
            self.columns.append(column)

    def _column_numbers(self, k: int, traced: Trace) -> tuple[np.ndarray, np.ndarray | None]:
        """(values, gradients) of diagram column ``k``."""
        if k == 0:
            return traced.x, traced.steps[0].grad_input
        if k == len(self.columns) - 1:
            return traced.probs, None
        step = traced.steps[k - 1]
        return step.output, step.grad_output

    def _show_extras(self, stage: Stage | None, traced: Trace | None) -> None:
        loss = stage is not None and stage.direction == LOSS
        self.probabilities.setVisible(loss)
        if loss:
            self.probabilities.set_probabilities(traced.probs)
        dense = (stage is not None and stage.direction == BACKWARD and traced.steps[stage.layer].kind == "Dense")
        self._gradients.setVisible(dense)
        if not dense:
            return
        grads = traced.steps[stage.layer].grads
        w = grads["W"]
        tiles = stage.layer == 0 and w.shape[0] == DIGIT_SIDE * DIGIT_SIDE
        self.gradient_tiles.setVisible(tiles)
        self.weight_gradient.setVisible(not tiles)
        scale = float(np.max(np.abs(w))) or 1.0
        if tiles:
            self.gradient_tiles.show_tiles(w, 0, w.shape[1], scale)
            self.weight_caption.setText(f"dL/dW: one 28×28 tile per unit ({w.shape[1]}), scale ±{scale:.2g}")
        else:
            self.weight_gradient.set_values(w)
            self.weight_caption.setText(f"dL/dW ({w.shape[0]} inputs × {w.shape[1]} units), scale ±{scale:.2g}")
        self.bias_gradient.set_values(grads["b"], SIGNED, self.names if stage.layer == len(traced.steps) - 1 else None)
        self.bias_caption.setText(f"dL/db ({grads['b'].size})")

    @Slot(int)
    def _on_bias_unit(self, unit: int) -> None:
        stage = self.stages[self.stage]
        self.select_unit(stage.layer + 1, unit)

    def _dense_of_column(self, column: int) -> int | None:
        """The position in ``model.layers`` of the Dense layer whose units diagram column
        ``column`` shows (None for the input)."""
        if column == 0:
            return None
        last = min(column - 1, len(self.kinds) - 1)
        return next((i for i in range(last, -1, -1) if self.kinds[i] == "Dense"), None)

    def _show_selection(self) -> None:
        traced = self.trace
        if self.selected is None or traced is None:
            for column in self.columns:
                column.set_selected(None)
            self.unit_tile.setVisible(False)
            return
        column, unit = self.selected
        dense = self._dense_of_column(column)
        for k, widget in enumerate(self.columns):
            same = (k == 0) if dense is None else (k > 0 and self._dense_of_column(k) == dense)
            widget.set_selected(unit if same else None)
        if dense is None:
            self.unit_text.setText(pixel_text(traced, unit))
            self.unit_tile.setVisible(False)
            return
        equations = unit_equations(traced, dense, unit)
        self.unit_text.setText(unit_text(equations, self.titles[dense], traced.label))
        self.unit_tile.set_values(equations.grad_w)
        self.unit_tile.setVisible(True)
