"""Presets in the window: ``scratchnet.presets`` recipes turned into panel settings, the runs of
their comparisons, and the combo box that applies them.

A preset sets the layer editor and the training panel; any later edit makes the combo say
"Custom" (and choosing the same values again shows the preset's name again). The comparisons
("Compare descents", "Compare initialisations") apply a preset's variants to the *current*
settings, so with the preset chosen they run exactly the preset's runs.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from scratchnet.presets import PRESETS, Preset

from .settings import HiddenLayer, NetworkSettings, RunSpec, TrainingSettings

PRESET_ORDER = ("quick-start", "three-descents", "best-accuracy", "initialisation")
CUSTOM = "custom"
DESCENTS_PRESET = "three-descents"
INIT_PRESET = "initialisation"
FULL_TRAIN_SIZE = 60_000  # a preset without a train_size uses every MNIST training image

HINTS = {
    DESCENTS_PRESET: "Click “Compare descents” to train all three and overlay them.",
    INIT_PRESET: "Click “Compare initialisations” to train both and overlay them.",
}
# preset field -> its name in NetworkSettings / TrainingSettings
_NETWORK_FIELDS = {"init": "init", "dropout": "dropout", "seed": "seed"}
_TRAINING_FIELDS = {
    "descent": "descent", "batch_size": "batch_size", "optimizer": "optimizer", "lr": "learning_rate",
    "momentum": "momentum", "weight_decay": "weight_decay", "schedule": "schedule", "epochs": "epochs",
    "augment": "augment", "train_size": "train_size",
}
# what "Compare descents" takes from the three-descents preset besides each variant's own changes
_DESCENT_OPTIMISER_FIELDS = ("optimizer", "momentum")


def preset_spec(preset: Preset, dataset: str = "mnist") -> RunSpec:
    """The panel settings of ``preset`` (on ``dataset``: presets do not choose one)."""
    network = NetworkSettings(
        hidden=tuple(HiddenLayer(width, preset.activation) for width in preset.hidden),
        init=preset.init, dropout=preset.dropout, seed=preset.seed,
    )
    training = TrainingSettings(
        descent=preset.descent, batch_size=preset.batch_size, optimizer=preset.optimizer,
        learning_rate=preset.lr, momentum=preset.momentum, weight_decay=preset.weight_decay,
        schedule=preset.schedule, epochs=preset.epochs, train_size=preset.train_size or FULL_TRAIN_SIZE,
        dataset=dataset, augment=preset.augment,
    )
    return RunSpec(network, training, label=preset.title)


def matching_preset(network: NetworkSettings, training: TrainingSettings) -> str:
    """The name of the preset whose settings are exactly these, else ``CUSTOM``."""
    for name in PRESET_ORDER:
        spec = preset_spec(PRESETS[name], training.dataset)
        if spec.network == network and spec.training == training:
            return name
    return CUSTOM


def with_changes(spec: RunSpec, changes: dict, label: str = "") -> RunSpec:
    """``spec`` with preset fields (``lr``, ``init``, ...) changed."""
    network = replace(spec.network, **{_NETWORK_FIELDS[k]: v for k, v in changes.items() if k in _NETWORK_FIELDS})
    training = replace(spec.training, **{_TRAINING_FIELDS[k]: v for k, v in changes.items() if k in _TRAINING_FIELDS})
    return RunSpec(network, training, label=label)


def descent_comparison(network: NetworkSettings, training: TrainingSettings) -> list[RunSpec]:
    """Full batch, mini-batch and stochastic runs of the current network and data, each with the
    optimiser and learning rate the three-descents preset gives it (one rate does not suit all
    three: full batch needs a large step, one-image steps a small one)."""
    preset = PRESETS[DESCENTS_PRESET]
    shared = {key: getattr(preset, key) for key in _DESCENT_OPTIMISER_FIELDS}
    base = RunSpec(network, training)
    return [with_changes(base, {**shared, **dict(v.changes)}) for v in preset.variants]


def init_comparison(network: NetworkSettings, training: TrainingSettings) -> list[RunSpec]:
    """The current settings trained from each initialisation of the initialisation preset."""
    base = RunSpec(network, training)
    return [with_changes(base, dict(v.changes), label=f"init {v.label}") for v in PRESETS[INIT_PRESET].variants]


class PresetBar(QWidget):
    """A "Preset" combo (``presetCombo``) and the chosen preset's description.

    ``preset_chosen(str)`` fires when the user picks a preset (not for "Custom", and not when the
    window calls ``show_preset``)."""

    preset_chosen = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("presetCombo")
        self.combo.setToolTip(
            "Ready-made settings that each show one idea. Choosing one fills in the Network and Training "
            "tabs; editing any setting afterwards makes it \"Custom\"."
        )
        for name in PRESET_ORDER:
            preset = PRESETS[name]
            self.combo.addItem(preset.title, name)
            self.combo.setItemData(self.combo.count() - 1, preset.description, Qt.ToolTipRole)
        self.combo.addItem("Custom", CUSTOM)
        self.combo.setItemData(self.combo.count() - 1, "Your own settings.", Qt.ToolTipRole)
        self.combo.activated.connect(self._on_activated)
        self.description = QLabel()
        self.description.setObjectName("presetDescription")
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #505050;")
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Preset", self.combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.description)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)  # the tabs below take the rest

    def current(self) -> str:
        return self.combo.currentData()

    def show_preset(self, name: str) -> None:
        """Display ``name`` (a preset or ``CUSTOM``) without emitting ``preset_chosen``."""
        index = self.combo.findData(name if name in PRESETS else CUSTOM)
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        if name in PRESETS:
            text = " ".join(filter(None, (PRESETS[name].description, HINTS.get(name))))
        else:
            text = "Your own settings: choose a preset to start again from a tested recipe."
        self.description.setText(text)
        self._fit_description()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_description()

    def _fit_description(self) -> None:
        # the splitter and main window do not pass height-for-width down: reserve the wrapped height
        self.description.setMinimumHeight(0)  # QLabel's height-for-width never goes below its minimum
        self.description.setFixedHeight(self.description.heightForWidth(max(self.width(), 1)))

    @Slot(int)
    def _on_activated(self, _index: int) -> None:
        name = self.combo.currentData()
        self.show_preset(name)
        if name != CUSTOM:
            self.preset_chosen.emit(name)
