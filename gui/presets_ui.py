"""Presets in the window: ``scratchnet.presets`` recipes as window runs, the runs of their
comparisons, and the combo box that applies them.

A preset sets the layer editor and the training panel; any later edit makes the combo say
"Custom" (and choosing the same values again shows the preset's name again). The comparisons
("Compare descents", "Compare initialisations") apply a preset's variants to the *current*
settings, so with the preset chosen they run exactly the preset's runs.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from scratchnet.presets import PRESETS, Preset
from scratchnet.run_config import RunConfig

from .settings import RunSpec

PRESET_ORDER = ("quick-start", "three-descents", "best-accuracy", "initialisation", "convolutional")
CUSTOM = "custom"
DESCENTS_PRESET = "three-descents"
INIT_PRESET = "initialisation"

HINTS = {
    DESCENTS_PRESET: "Click “Compare descents” to train all three and overlay them.",
    INIT_PRESET: "Click “Compare initialisations” to train both and overlay them.",
}
CUSTOM_TIP = "Your own settings: keep what the tabs show and change anything in them."
CUSTOM_TEXT = "Your own settings: choose a preset to start again from a tested recipe."
# what "Compare descents" takes from the three-descents preset besides each variant's own changes
_DESCENT_OPTIMISER_FIELDS = ("optimizer", "momentum")


def preset_spec(preset: Preset) -> RunSpec:
    """The run of ``preset``, on the data set it was tuned on, labelled with its title."""
    return RunSpec(preset.config, label=preset.title)


def matching_preset(config: RunConfig) -> str:
    """The name of the preset whose settings are exactly these (data set included), else ``CUSTOM``."""
    for name in PRESET_ORDER:
        if preset_spec(PRESETS[name]).config == config:
            return name
    return CUSTOM


def descent_comparison(config: RunConfig) -> list[RunSpec]:
    """Full batch, mini-batch and stochastic runs of the current network and data, each with the
    optimiser and learning rate the three-descents preset gives it (one rate does not suit all
    three: full batch needs a large step, one-image steps a small one)."""
    preset = PRESETS[DESCENTS_PRESET]
    shared = {key: getattr(preset.config, key) for key in _DESCENT_OPTIMISER_FIELDS}
    return [RunSpec(config.replace(**shared, **dict(v.changes))) for v in preset.variants]


def init_comparison(config: RunConfig) -> list[RunSpec]:
    """The current settings trained from each initialisation of the initialisation preset."""
    return [RunSpec(config.replace(**dict(v.changes)), label=f"init {v.label}") for v in PRESETS[INIT_PRESET].variants]


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
        self.combo.setItemData(self.combo.count() - 1, CUSTOM_TIP, Qt.ToolTipRole)
        self._shown = CUSTOM  # what the combo showed before the user's choice
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
        self._shown = name if name in PRESETS else CUSTOM
        index = self.combo.findData(self._shown)
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        if name in PRESETS:
            text = " ".join(filter(None, (PRESETS[name].description, HINTS.get(name))))
        else:
            text = CUSTOM_TEXT
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
        was = self._shown
        self.show_preset(name)
        if name != CUSTOM:
            self.preset_chosen.emit(name)
        elif was != CUSTOM:
            self.description.setText(
                f"Custom keeps the settings of “{PRESETS[was].title}” as they are, for you to change in the "
                "Network and Training tabs: nothing has changed yet. The box also turns to Custom by itself "
                "as soon as you edit a preset's setting. Choose a preset again to go back to its tested recipe.")
            self._fit_description()
