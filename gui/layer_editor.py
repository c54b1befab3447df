"""The network panel: convolution and pooling layers (optional), then hidden Dense layers, between
the fixed input and the softmax output.

With no image layer the editor describes a plain network (``RunConfig.hidden`` and ``dropout``);
with image layers it writes the whole stack as ``RunConfig.layers`` tokens (``scratchnet.stacks``):
the image layers, ``flatten``, then each Dense layer with its activation (and dropout). Every shape
is checked as the user edits (``stacks.stack_shapes``, cached), and a stack that does not fit the
images is refused here, with the layer and its shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
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
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from scratchnet.layers import ACTIVATIONS
from scratchnet.limits import LAYERS_REASON, MAX_HIDDEN_LAYERS, MAX_WIDTH, architecture_problem
from scratchnet.run_config import HiddenLayer, RunConfig
from scratchnet.stacks import MAX_CHANNELS, MAX_KERNEL, stack_shapes, token_fields

from . import tooltips
from .defaults import NEW_LAYER
from .settings import WINDOW_BOUNDS, param_count

ADD_TIP = "Add a hidden layer after the selected one."
MAX_IMAGE_LAYERS = 8
IMAGE_LAYERS_REASON = (f"at most {MAX_IMAGE_LAYERS} convolution and pooling layers: a 28×28 digit is down to a few "
                       "pixels after two or three of each")
# the output shape second, so that it shows even when the panel is too narrow for every column
IMAGE_COLUMNS = ("Layer", "Output", "Kernel", "Channels", "Stride", "Padding", "Activation")
IMAGE_HEADERS = ("Layer", "Output", "Kern.", "Chan.", "Str.", "Pad", "Activ.")  # full names as tooltips
ADD_CONV_TIP = ("Add a convolution layer (5×5 kernels, 8 channels, ReLU) after the selected image layer, before "
                "the Dense layers.")
ADD_POOL_TIP = ("Add a 2×2 max pooling layer after the selected image layer: it halves the height and width of "
                "every feature map.")
NO_ACTIVATION = "none"
IMAGE_ACTIVATIONS = {**tooltips.ACTIVATIONS,
                     NO_ACTIVATION: ("None", "No activation: the convolution's sums as they are.")}
KIND_NAMES = {"conv": "Conv", "pool": "Pool"}
KIND_TIPS = {"conv": "Convolution: kernels slid over the image, one feature map per channel.",
             "pool": "Max pooling: the largest value of each window, channel by channel."}
IMAGE_TIP = ("Convolution and pooling layers, input side first, before the Dense layers. A convolution slides "
             "each of its kernels over the image (kernel × kernel pixels, moving by the stride, after adding "
             "the padding around it) and gives one feature map per channel; max pooling keeps the largest value "
             "of each window. Output: channels × height × width of one image after the layer.")


@dataclass(frozen=True)
class ImageLayer:
    """A convolution (``kind`` "conv": kernel, channels, stride, padding, then ``activation``, or
    "none") or a max pooling (``kind`` "pool": kernel and stride) in the layer editor."""

    kind: str
    kernel: int
    channels: int = 0
    stride: int = 1
    padding: int = 0
    activation: str = NO_ACTIVATION

    def tokens(self) -> list[str]:
        """This layer as ``scratchnet.stacks`` tokens."""
        if self.kind == "pool":
            return [f"pool{self.kernel}" + (f"s{self.stride}" if self.stride != self.kernel else "")]
        k = self.kernel
        conv = f"conv{k}x{k}x{self.channels}" + (f"s{self.stride}" if self.stride != 1 else "") + (
            f"p{self.padding}" if self.padding else "")
        return [conv] if self.activation == NO_ACTIVATION else [conv, self.activation]


NEW_CONV = ImageLayer("conv", 5, 8, 1, 0, "relu")
NEW_POOL = ImageLayer("pool", 2, stride=2)


@dataclass(frozen=True)
class EditedStack:
    """A stack of tokens as the editor's rows: image layers, then Dense layers and one dropout rate."""

    image: tuple[ImageLayer, ...]
    hidden: tuple[HiddenLayer, ...]
    dropout: float


def stack_tokens(image, hidden, dropout: float) -> tuple[str, ...]:
    """The ``RunConfig.layers`` of these rows: image layers, flatten, each Dense layer with its
    activation and, when ``dropout`` > 0, a dropout after it (as ``mlp`` places it)."""
    tokens = [token for layer in image for token in layer.tokens()]
    if image:
        tokens.append("flatten")
    for layer in hidden:
        tokens += [f"dense{layer.width}", layer.activation] + ([f"dropout{dropout:g}"] if dropout > 0 else [])
    return tuple(tokens)


def edited_stack(tokens: tuple[str, ...]) -> EditedStack | None:
    """The rows that write ``tokens`` back exactly (``stack_tokens``), or None when the editor
    cannot show that stack (a dense layer with no activation, different dropout rates...)."""
    fields = [token_fields(token) for token in tokens]
    image: list[ImageLayer] = []
    hidden: list[HiddenLayer] = []
    rates = {f["rate"] for f in fields if f["kind"] == "dropout"}
    i, n = 0, len(fields)
    while i < n and fields[i]["kind"] in ("conv", "pool"):
        f = fields[i]
        if f["kind"] == "pool":
            image.append(ImageLayer("pool", f["kernel"], stride=f["stride"]))
            i += 1
            continue
        activation = tokens[i + 1] if i + 1 < n and tokens[i + 1] in ACTIVATIONS else NO_ACTIVATION
        image.append(ImageLayer("conv", f["kernel"], f["channels"], f["stride"], f["padding"], activation))
        i += 1 if activation == NO_ACTIVATION else 2
    if image:
        if i >= n or tokens[i] != "flatten":
            return None
        i += 1
    while i < n:
        if fields[i]["kind"] != "dense" or i + 1 >= n or tokens[i + 1] not in ACTIVATIONS:
            return None
        hidden.append(HiddenLayer(fields[i]["units"], tokens[i + 1]))
        i += 2 + (i + 2 < n and fields[i + 2]["kind"] == "dropout")
    if len(rates) > 1:
        return None
    stack = EditedStack(tuple(image), tuple(hidden), rates.pop() if rates else 0.0)
    return stack if stack_tokens(stack.image, stack.hidden, stack.dropout) == tuple(tokens) else None


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
        self._kept_tokens: tuple[str, ...] | None = None  # a stack the rows cannot show, kept until an edit
        self.input_label = QLabel()
        self.output_label = QLabel()

        self.image_table = QTableWidget(0, len(IMAGE_COLUMNS))
        self.image_table.setObjectName("imageLayerTable")
        self.image_table.setHorizontalHeaderLabels(IMAGE_HEADERS)
        for column, name in enumerate(IMAGE_COLUMNS):
            self.image_table.horizontalHeaderItem(column).setToolTip(name)
        self.image_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.image_table.verticalHeader().setVisible(False)
        self.image_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.image_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.image_table.setToolTip(IMAGE_TIP)
        self.add_conv_button = self._button("Add convolution", "addConvLayerButton", ADD_CONV_TIP)
        self.add_pool_button = self._button("Add pooling", "addPoolLayerButton", ADD_POOL_TIP)
        self.remove_image_button = self._button("Remove", "removeImageLayerButton",
                                                "Remove the selected convolution or pooling layer.")
        self.add_conv_button.clicked.connect(lambda: self.add_image_layer(NEW_CONV))
        self.add_pool_button.clicked.connect(lambda: self.add_image_layer(NEW_POOL))
        self.remove_image_button.clicked.connect(self.remove_image_layer)
        self.shape_problem = QLabel()
        self.shape_problem.setObjectName("shapeProblemLabel")
        self.shape_problem.setWordWrap(True)
        self.shape_problem.setStyleSheet("color: #8a1010;")
        self.shape_problem.hide()
        self.stack_note = QLabel()
        self.stack_note.setObjectName("stackNote")
        self.stack_note.setWordWrap(True)
        self.stack_note.hide()

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
        self.init_combo.currentIndexChanged.connect(self._emit_changed)
        self.seed_spin.valueChanged.connect(self._emit_changed)
        self.dropout_spin.valueChanged.connect(self._edited)

        image_buttons = QHBoxLayout()
        for button in (self.add_conv_button, self.add_pool_button, self.remove_image_button):
            image_buttons.addWidget(button)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        form = QFormLayout()
        form.addRow("Initialisation", self.init_combo)
        form.addRow("Dropout", self.dropout_spin)
        form.addRow("Seed", self.seed_spin)
        layout = QVBoxLayout(self)
        layout.addWidget(self.input_label)
        layout.addWidget(self.image_table, 1)
        layout.addLayout(image_buttons)
        layout.addWidget(self.shape_problem)
        layout.addWidget(self.stack_note)
        layout.addWidget(QLabel("Dense layers"))
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
            "layers": self.layer_tokens(),
            "init": self.init_combo.currentData(),
            "dropout": round(self.dropout_spin.value(), 4),
            "seed": self.seed_spin.value(),
        }

    def layer_tokens(self) -> tuple[str, ...]:
        """``RunConfig.layers``: () for a plain network of Dense layers, else the whole stack."""
        if self._kept_tokens is not None:
            return self._kept_tokens
        image = self.image_layers()
        return stack_tokens(image, self._layers(), round(self.dropout_spin.value(), 4)) if image else ()

    def set_config(self, config: RunConfig) -> None:
        """Show ``config``'s network fields."""
        stack = edited_stack(config.layers) if config.layers else EditedStack((), config.hidden, config.dropout)
        shown = stack or EditedStack((), config.hidden, config.dropout)
        self._populate(list(shown.hidden), selected=0)
        self._populate_image(list(shown.image), selected=0)
        select_data(self.init_combo, config.init)
        with QSignalBlocker(self.dropout_spin):
            self.dropout_spin.setValue(shown.dropout)
        self.seed_spin.setValue(config.seed)
        self._kept_tokens = None if stack is not None else config.layers
        self.stack_note.setVisible(stack is None)
        if stack is None:
            self.stack_note.setText(f"This network's stack “{','.join(config.layers)}” is not one these tables "
                                    "build: it is trained as it is. Any edit below replaces it.")
        self._emit_changed()

    def set_io_sizes(self, input_size: int, output_size: int) -> None:
        self._input_size, self._output_size = input_size, output_size
        self._emit_changed()

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        for child in (self.table, self.add_button, self.remove_button, self.up_button, self.down_button,
                      self.init_combo, self.dropout_spin, self.seed_spin, self.image_table, self.add_conv_button,
                      self.add_pool_button, self.remove_image_button):
            child.setEnabled(editable)
        self.add_button.setEnabled(editable and self.table.rowCount() < MAX_HIDDEN_LAYERS)
        self._enable_image_buttons()

    def width_spin(self, row: int) -> QSpinBox:
        return self.table.cellWidget(row, 0)

    def activation_combo(self, row: int) -> QComboBox:
        return self.table.cellWidget(row, 1)

    def image_cell(self, row: int, column: str) -> QWidget | None:
        """The editing widget of image layer ``row`` in ``column`` (one of ``IMAGE_COLUMNS``), or
        None where that layer has no such setting (a pooling layer's channels)."""
        return self.image_table.cellWidget(row, IMAGE_COLUMNS.index(column))

    def output_text(self, row: int) -> str:
        """The Output column of image layer ``row``: "8x24x24", or why it does not fit."""
        return self.image_table.item(row, IMAGE_COLUMNS.index("Output")).text()

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
        self._edited()

    @Slot()
    def remove_layer(self) -> None:
        layers = self._layers()
        row = self._selected_row()
        if row is None:
            return
        del layers[row]
        self._populate(layers, selected=min(row, len(layers) - 1))
        self._edited()

    def move_layer(self, offset: int) -> None:
        layers = self._layers()
        row = self._selected_row()
        if row is None or not 0 <= row + offset < len(layers):
            return
        layers[row], layers[row + offset] = layers[row + offset], layers[row]
        self._populate(layers, selected=row + offset)
        self._edited()

    def add_image_layer(self, layer: ImageLayer) -> None:
        """Insert ``layer`` after the selected image layer (or last)."""
        layers = self.image_layers()
        if len(layers) >= MAX_IMAGE_LAYERS:
            return
        row = self._selected_row(self.image_table)
        at = len(layers) if row is None else row + 1
        layers.insert(at, layer)
        self._populate_image(layers, selected=at)
        self._edited()

    @Slot()
    def remove_image_layer(self) -> None:
        layers = self.image_layers()
        row = self._selected_row(self.image_table)
        if row is None:
            return
        del layers[row]
        self._populate_image(layers, selected=min(row, len(layers) - 1))
        self._edited()

    def _layers(self) -> list[HiddenLayer]:
        return [
            HiddenLayer(self.width_spin(row).value(), self.activation_combo(row).currentData())
            for row in range(self.table.rowCount())
        ]

    def image_layers(self) -> list[ImageLayer]:
        """The convolution and pooling rows, input side first."""
        layers = []
        for row in range(self.image_table.rowCount()):
            kind = self.image_table.item(row, 0).data(Qt.UserRole)
            kernel, stride = self.image_cell(row, "Kernel").value(), self.image_cell(row, "Stride").value()
            if kind == "pool":
                layers.append(ImageLayer("pool", kernel, stride=stride))
            else:
                layers.append(ImageLayer("conv", kernel, self.image_cell(row, "Channels").value(), stride,
                                         self.image_cell(row, "Padding").value(),
                                         self.image_cell(row, "Activation").currentData()))
        return layers

    def _selected_row(self, table: QTableWidget | None = None) -> int | None:
        table = table or self.table
        rows = table.selectionModel().selectedRows()
        if rows:
            return rows[0].row()
        return table.rowCount() - 1 if table.rowCount() else None

    def _populate(self, layers: list[HiddenLayer], selected: int) -> None:
        self.table.setRowCount(len(layers))
        for row, layer in enumerate(layers):
            spin = QSpinBox()
            spin.setRange(1, MAX_WIDTH)
            spin.setValue(layer.width)
            spin.setToolTip(tooltips.WIDTH)
            spin.valueChanged.connect(self._edited)
            combo = choice_combo(tooltips.ACTIVATIONS, f"activationCombo{row}")
            select_data(combo, layer.activation)
            combo.currentIndexChanged.connect(self._edited)
            self.table.setCellWidget(row, 0, spin)
            self.table.setCellWidget(row, 1, combo)
        if layers:
            self.table.selectRow(max(selected, 0))
        self.remove_button.setEnabled(bool(layers))

    def _populate_image(self, layers: list[ImageLayer], selected: int) -> None:
        table = self.image_table
        table.setRowCount(len(layers))
        for row, layer in enumerate(layers):
            kind = QTableWidgetItem(KIND_NAMES[layer.kind])
            kind.setData(Qt.UserRole, layer.kind)
            kind.setToolTip(KIND_TIPS[layer.kind])
            kind.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            table.setItem(row, 0, kind)
            cells = {"Kernel": self._spin(layer.kernel, 1, MAX_KERNEL, f"kernelSpin{row}",
                                          "The kernel's side: each output value looks at kernel × kernel pixels."),
                     "Stride": self._spin(layer.stride, 1, MAX_KERNEL, f"strideSpin{row}",
                                          "How many pixels the kernel moves between two outputs.")}
            if layer.kind == "conv":
                cells["Channels"] = self._spin(layer.channels, 1, MAX_CHANNELS, f"channelsSpin{row}",
                                               "How many kernels, so how many feature maps this layer outputs.")
                cells["Padding"] = self._spin(layer.padding, 0, MAX_KERNEL, f"paddingSpin{row}",
                                              "Zeros added around the image on each side before sliding the kernel.")
                combo = choice_combo(IMAGE_ACTIVATIONS, f"convActivationCombo{row}")
                combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
                combo.setMinimumContentsLength(4)
                combo.setFrame(False)
                select_data(combo, layer.activation)
                combo.currentIndexChanged.connect(self._edited)
                cells["Activation"] = combo
            for column, widget in cells.items():
                table.setCellWidget(row, IMAGE_COLUMNS.index(column), widget)
            for column in IMAGE_COLUMNS[1:]:
                if column not in cells:
                    table.removeCellWidget(row, IMAGE_COLUMNS.index(column))
                    blank = QTableWidgetItem("" if column == "Output" else "—")
                    blank.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                    table.setItem(row, IMAGE_COLUMNS.index(column), blank)
        if layers:
            table.selectRow(max(selected, 0))
        self._enable_image_buttons()

    def _spin(self, value: int, low: int, high: int, name: str, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setToolTip(tip)
        spin.setButtonSymbols(QSpinBox.NoButtons)  # narrow: arrow keys and the wheel step
        spin.setFrame(False)
        spin.valueChanged.connect(self._edited)
        return spin

    def _enable_image_buttons(self) -> None:
        full = self.image_table.rowCount() >= MAX_IMAGE_LAYERS
        for button, tip in ((self.add_conv_button, ADD_CONV_TIP), (self.add_pool_button, ADD_POOL_TIP)):
            button.setEnabled(self._editable and not full)
            button.setToolTip(f"No more image layers: {IMAGE_LAYERS_REASON}." if full else tip)
        self.remove_image_button.setEnabled(self._editable and self.image_table.rowCount() > 0)

    def _widths(self) -> list[int]:
        return [self._input_size, *(layer.width for layer in self._layers()), self._output_size]

    def shapes(self):
        """``stacks.stack_shapes`` of the stack shown, or None for a plain network of Dense layers."""
        tokens = self.layer_tokens()
        return stack_shapes(tokens, self._input_size, self._output_size) if tokens else None

    def problem(self) -> str | None:
        """Why this network cannot be trained (too many layers or parameters, a layer that does not
        fit the images), or None."""
        shapes = self.shapes()
        if shapes is not None:
            return shapes.problem
        return architecture_problem(self._widths())

    @Slot()
    def _edited(self) -> None:
        """A row or the dropout changed: the rows now say what the stack is."""
        if self._kept_tokens is not None:
            self._kept_tokens = None
            self.stack_note.hide()
        self._emit_changed()

    @Slot()
    def _emit_changed(self) -> None:
        widths = self._widths()
        shapes = self.shapes()
        self.output_label.setText(f"Output: {self._output_size} classes, softmax")
        problem = self.problem()
        if shapes is None:
            self.input_label.setText(f"Input: {self._input_size} pixels")
            text = f"Parameters: {param_count(widths):,}   ({'-'.join(map(str, widths))})"
        else:
            self.input_label.setText(f"Input: {self._input_size} pixels, as one image {_text(shapes.input_shape)}")
            steps = " → ".join(_text(shape) for shape in (shapes.input_shape, *self._layer_shapes(shapes)))
            text = f"Parameters: {shapes.params:,}{'' if problem is None else ' so far'}   ({steps})"
        self._show_image_shapes(shapes)
        self.shape_problem.setVisible(shapes is not None and problem is not None)
        self.shape_problem.setText("" if problem is None else f"Cannot train: {problem}.")
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

    def _layer_shapes(self, shapes) -> list[tuple[int, ...]]:
        """The shapes after each layer (an activation or dropout keeps its layer's shape)."""
        tokens = self.layer_tokens()
        return [shape for token, shape in zip((*tokens, "output"), shapes.shapes, strict=False)
                if token not in ACTIVATIONS and not token.startswith("dropout")]

    def _show_image_shapes(self, shapes) -> None:
        """Each image row's Output: its shape, or in red why it does not fit."""
        column = IMAGE_COLUMNS.index("Output")
        outputs: list[tuple[int, ...]] = []
        if shapes is not None and self._kept_tokens is None:
            tokens = self.layer_tokens()
            outputs = [shape for token, shape in zip(tokens, shapes.shapes, strict=False)
                       if token.startswith(("conv", "pool"))]
        for row in range(self.image_table.rowCount()):
            fits = row < len(outputs)
            item = QTableWidgetItem(_text(outputs[row]) if fits else "does not fit")
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            if not fits:
                item.setForeground(Qt.darkRed)
                item.setToolTip(shapes.problem if shapes is not None and shapes.problem else "")
            self.image_table.setItem(row, column, item)


def _text(shape) -> str:
    return "×".join(map(str, shape))

