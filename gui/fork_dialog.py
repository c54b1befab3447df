"""The Fork dialog: continue a run from one of its checkpoints as a new run, with changed settings.

The fork keeps the parent's network, seed and data, and the weights, optimiser state and random
generators of the checkpoint (``train(resume=...)``), so with nothing changed it repeats the
parent's epochs exactly. What it may change: the learning rate, the optimiser, the descent and
batch size, the number of epochs (in all, counted from the parent's start, so more than the
checkpoint's epoch) and augmentation.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

from scratchnet.run_config import RunConfig

from . import tooltips
from .settings import WINDOW_BOUNDS


class ForkDialog(QDialog):
    """``config()`` is the fork's RunConfig once accepted."""

    def __init__(self, parent_config: RunConfig, epoch: int, where: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("forkDialog")
        self.setWindowTitle("Fork a run")
        self._base = parent_config
        self._epoch = epoch
        intro = QLabel(f"Continue from {where} as a new run. Its weights, optimiser state and random "
                       "generators are the checkpoint's; change what the new run should do differently.")
        intro.setWordWrap(True)
        self.learning_rate_spin = QDoubleSpinBox()
        self.learning_rate_spin.setObjectName("forkLearningRateSpin")
        self.learning_rate_spin.setDecimals(5)
        self.learning_rate_spin.setSingleStep(0.005)
        self.learning_rate_spin.setRange(*WINDOW_BOUNDS["learning_rate"])
        self.learning_rate_spin.setValue(parent_config.learning_rate)
        self.learning_rate_spin.setToolTip("The fork's learning rate, from its first update on "
                                           "(the parent's to start with).")
        self.optimizer_combo = self._combo("forkOptimizerCombo", tooltips.OPTIMIZERS, parent_config.optimizer)
        self.descent_combo = self._combo("forkDescentCombo", tooltips.DESCENTS, parent_config.descent)
        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("forkBatchSpin")
        self.batch_spin.setRange(*WINDOW_BOUNDS["batch_size"])
        self.batch_spin.setValue(parent_config.batch_size)
        self.batch_spin.setToolTip("Images per update for mini-batch descent. From a checkpoint inside an epoch, "
                                   "the fork goes on from the same image of the same shuffled order.")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("forkEpochsSpin")
        low, high = WINDOW_BOUNDS["epochs"]
        self.epochs_spin.setRange(max(low, epoch + 1), max(high, epoch + 1))
        self.epochs_spin.setValue(max(parent_config.epochs, epoch + 1))
        self.epochs_spin.setToolTip("Epochs in all, counted from the parent run's start: the fork trains the "
                                    "epochs after the checkpoint's.")
        self.augment_check = QCheckBox("Augment (random shifts and rotations)")
        self.augment_check.setObjectName("forkAugmentCheck")
        self.augment_check.setChecked(parent_config.augment)
        self.augment_check.setToolTip(tooltips.AUGMENT)
        self.descent_combo.currentIndexChanged.connect(self._on_descent)
        self._on_descent()

        form = QFormLayout()
        form.addRow("Learning rate η", self.learning_rate_spin)
        form.addRow("Optimiser", self.optimizer_combo)
        form.addRow("Descent", self.descent_combo)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Epochs in all", self.epochs_spin)
        form.addRow(self.augment_check)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Start the fork")
        buttons.button(QDialogButtonBox.Ok).setObjectName("forkStartButton")
        buttons.button(QDialogButtonBox.Ok).setToolTip("Train the fork as a new run, linked to its parent.")
        buttons.button(QDialogButtonBox.Cancel).setToolTip("Close without forking.")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)

    @staticmethod
    def _combo(name: str, choices: dict, current: str) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.setToolTip("Another optimiser starts its own state afresh; the same one goes on with the "
                         "checkpoint's." if "Optimizer" in name else "How the fork forms its updates.")
        for key, (label, tip) in choices.items():
            combo.addItem(label, key)
            combo.setItemData(combo.count() - 1, tip, 3)  # Qt.ToolTipRole
        combo.setCurrentIndex(combo.findData(current))
        return combo

    def _on_descent(self) -> None:
        self.batch_spin.setEnabled(self.descent_combo.currentData() == "mini")

    def config(self) -> RunConfig:
        """The parent's configuration with this dialog's changes."""
        return self._base.replace(
            learning_rate=self.learning_rate_spin.value(), optimizer=self.optimizer_combo.currentData(),
            descent=self.descent_combo.currentData(), batch_size=self.batch_spin.value(),
            epochs=self.epochs_spin.value(), augment=self.augment_check.isChecked(),
        )
