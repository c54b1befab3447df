"""The network panel: hidden Dense layers between the fixed input and the softmax output."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from scratchnet.limits import LAYERS_REASON, MAX_HIDDEN_LAYERS, MAX_WIDTH, architecture_problem
from scratchnet.run_config import HiddenLayer, RunConfig

from . import tooltips
from .defaults import NEW_LAYER
from .settings import WINDOW_BOUNDS, param_count

ADD_TIP = "Add a hidden layer after the selected one."


def choice_combo(choices: dict[str, tuple[str, str]], object_name: str, tooltip: str = "") -> QComboBox:
    """A combo box of ``{key: (label, tooltip)}``; item data is the key."""
    combo = QComboBox()
    combo.setObjectName(object_name)
    for index, (key, (label, tip)) in enumerate(choices.items()):
        combo.addItem(label, key)
        combo.setItemData(index, tip, 3)  # Qt.ToolTipRole
    combo.setToolTip(tooltip or "\n".join(f"{label}: {tip}" for label, tip in choices.values()))
    return combo


def select_data(combo: QComboBox, key: str) -> None:
    index = combo.findData(key)
    if index < 0:
        raise ValueError(f"{combo.objectName()}: no choice {key!r}")
    combo.setCurrentIndex(index)


class LayerEditor(QWidget):
    """Edits the network fields of a ``RunConfig`` (``NETWORK_FIELDS``); ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self, config: RunConfig, parent=None) -> None:
        super().__init__(parent)
        self._input_size, self._output_size = 784, 10
        self.input_label = QLabel()
        self.output_label = QLabel()

        self.table = QTableWidget(0, 2)
        self.table.setObjectName("layerTable")
        self.table.setHorizontalHeaderLabels(["Units", "Activation"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setToolTip("Hidden Dense layers, input side first: x → f(x·W + b) → next layer.")

        self._editable = True
        self.add_button = self._button("Add", "addLayerButton", ADD_TIP)
        self.remove_button = self._button("Remove", "removeLayerButton", "Remove the selected hidden layer.")
        self.up_button = self._button("Up", "moveLayerUpButton", "Move the selected layer towards the input.")
        self.down_button = self._button("Down", "moveLayerDownButton", "Move the selected layer towards the output.")
        self.add_button.clicked.connect(self.add_layer)
        self.remove_button.clicked.connect(self.remove_layer)
        self.up_button.clicked.connect(lambda: self.move_layer(-1))
        self.down_button.clicked.connect(lambda: self.move_layer(+1))

        self.init_combo = choice_combo(tooltips.INITIALIZERS, "initCombo")
        self.dropout_spin = QDoubleSpinBox()
        self.dropout_spin.setObjectName("dropoutSpin")
        self.dropout_spin.setRange(*WINDOW_BOUNDS["dropout"])
        self.dropout_spin.setSingleStep(0.05)
        self.dropout_spin.setToolTip(tooltips.DROPOUT)
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(*WINDOW_BOUNDS["seed"])
        self.seed_spin.setToolTip(tooltips.SEED)
        self.param_label = QLabel()
        self.param_label.setObjectName("paramCountLabel")
        self.param_label.setToolTip(tooltips.PARAMS)
        for widget in (self.init_combo, self.dropout_spin, self.seed_spin):
            signal = widget.currentIndexChanged if isinstance(widget, QComboBox) else widget.valueChanged
            signal.connect(self._emit_changed)

        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        form = QFormLayout()
        form.addRow("Initialisation", self.init_combo)
        form.addRow("Dropout", self.dropout_spin)
        form.addRow("Seed", self.seed_spin)
        layout = QVBoxLayout(self)
        layout.addWidget(self.input_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.output_label)
        layout.addLayout(form)
        layout.addWidget(self.param_label)
        self.set_config(config)

    @staticmethod
    def _button(text: str, name: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        return button

    # ---- reading and writing the settings
    def values(self) -> dict:
        """The fields this editor shows, by ``RunConfig`` name."""
        return {
            "hidden": tuple(self._layers()),
            "init": self.init_combo.currentData(),
            "dropout": round(self.dropout_spin.value(), 4),
            "seed": self.seed_spin.value(),
        }

    def set_config(self, config: RunConfig) -> None:
        """Show ``config``'s network fields."""
        self._populate(list(config.hidden), selected=0)
        select_data(self.init_combo, config.init)
        self.dropout_spin.setValue(config.dropout)
        self.seed_spin.setValue(config.seed)
        self._emit_changed()

    def set_io_sizes(self, input_size: int, output_size: int) -> None:
        self._input_size, self._output_size = input_size, output_size
        self._emit_changed()

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        for child in (self.table, self.add_button, self.remove_button, self.up_button, self.down_button,
                      self.init_combo, self.dropout_spin, self.seed_spin):
            child.setEnabled(editable)
        self.add_button.setEnabled(editable and self.table.rowCount() < MAX_HIDDEN_LAYERS)

    def width_spin(self, row: int) -> QSpinBox:
        return self.table.cellWidget(row, 0)

    def activation_combo(self, row: int) -> QComboBox:
        return self.table.cellWidget(row, 1)

    # ---- editing
    @Slot()
    def add_layer(self) -> None:
        layers = self._layers()
        if len(layers) >= MAX_HIDDEN_LAYERS:
            return
        row = self._selected_row()
        at = len(layers) if row is None else row + 1
        layers.insert(at, layers[row] if row is not None else NEW_LAYER)
        self._populate(layers, selected=at)
        self._emit_changed()

    @Slot()
    def remove_layer(self) -> None:
        layers = self._layers()
        row = self._selected_row()
        if row is None:
            return
        del layers[row]
        self._populate(layers, selected=min(row, len(layers) - 1))
        self._emit_changed()

    def move_layer(self, offset: int) -> None:
        layers = self._layers()
        row = self._selected_row()
        if row is None or not 0 <= row + offset < len(layers):
            return
        layers[row], layers[row + offset] = layers[row + offset], layers[row]
        self._populate(layers, selected=row + offset)
        self._emit_changed()

    def _layers(self) -> list[HiddenLayer]:
        return [
            HiddenLayer(self.width_spin(row).value(), self.activation_combo(row).currentData())
            for row in range(self.table.rowCount())
        ]

    def _selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            return rows[0].row()
        return self.table.rowCount() - 1 if self.table.rowCount() else None

    def _populate(self, layers: list[HiddenLayer], selected: int) -> None:
        self.table.setRowCount(len(layers))
        for row, layer in enumerate(layers):
            spin = QSpinBox()
            spin.setRange(1, MAX_WIDTH)
            spin.setValue(layer.width)
            spin.setToolTip(tooltips.WIDTH)
            spin.valueChanged.connect(self._emit_changed)
            combo = choice_combo(tooltips.ACTIVATIONS, f"activationCombo{row}")
            select_data(combo, layer.activation)
            combo.currentIndexChanged.connect(self._emit_changed)
            self.table.setCellWidget(row, 0, spin)
            self.table.setCellWidget(row, 1, combo)
        if layers:
            self.table.selectRow(max(selected, 0))
        self.remove_button.setEnabled(bool(layers))

    def _widths(self) -> list[int]:
        return [self._input_size, *(layer.width for layer in self._layers()), self._output_size]

    def problem(self) -> str | None:
        """Why this network cannot be trained (too many layers or parameters), or None."""
        return architecture_problem(self._widths())

    @Slot()
    def _emit_changed(self) -> None:
        widths = self._widths()
        self.input_label.setText(f"Input: {self._input_size} pixels")
        self.output_label.setText(f"Output: {self._output_size} classes, softmax")
        text = f"Parameters: {param_count(widths):,}   ({'-'.join(map(str, widths))})"
        problem = self.problem()
        full = self.table.rowCount() >= MAX_HIDDEN_LAYERS
        if problem is not None:
            text += f"\nCannot train: {problem}."
        elif full:
            text += f"\nNo more layers can be added: {LAYERS_REASON}."
        self.param_label.setText(text)
        self.param_label.setStyleSheet("" if problem is None else "color: #8a1010;")
        self.param_label.setWordWrap(True)
        self.add_button.setEnabled(self._editable and not full)
        self.add_button.setToolTip(f"No more layers: {LAYERS_REASON}." if full else ADD_TIP)
        self.changed.emit()
