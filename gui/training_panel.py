"""The training panel: descent variant, optimiser, schedule, epochs and data."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from scratchnet.presets import DESCENT_REASONS, divergence_warning, tested_optimiser
from scratchnet.run_config import RunConfig

from . import tooltips
from .download_ui import downloadable
from .layer_editor import choice_combo, select_data
from .settings import WINDOW_BOUNDS

SLOW_SGD_SAMPLES = 10_000  # above this, warn that one-sample steps take a while
DATASETS = {"mnist": "MNIST (bundled)", "fashion-mnist": "Fashion-MNIST", "my-digits": "My digits",
            "mnist+my-digits": "MNIST + my digits"}


def explanation(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(mid); margin-left: 22px;")
    return label


class TrainingPanel(QWidget):
    """Edits the training fields of a ``RunConfig`` (``TRAINING_FIELDS``). ``learning_rate_changed``
    fires on every rate edit (the window forwards it to a running loop); ``dataset_selected`` when
    another data set is chosen."""

    changed = Signal()
    learning_rate_changed = Signal(float)
    dataset_selected = Signal(str)
    download_requested = Signal(str)
    download_cancelled = Signal()

    def __init__(self, config: RunConfig, parent=None) -> None:
        super().__init__(parent)
        self._running = False
        self.start_folder = ""  # where "Open IDX folder…" starts browsing
        self.descent_buttons = QButtonGroup(self)
        self.batch_size_spin = self._int_spin("batchSizeSpin", "batch_size", tooltips.BATCH_SIZE)
        descent_box = QGroupBox("Gradient descent")
        grid = QGridLayout(descent_box)
        self.descent_radios: dict[str, QRadioButton] = {}
        for row, (key, name) in enumerate((("full", "descentFull"), ("mini", "descentMini"), ("sgd", "descentSgd"))):
            label, tip = tooltips.DESCENTS[key]
            radio = QRadioButton(label)
            radio.setObjectName(name)
            radio.setToolTip(tip)
            self.descent_buttons.addButton(radio)
            self.descent_radios[key] = radio
            grid.addWidget(radio, 2 * row, 0)
            grid.addWidget(explanation(tip), 2 * row + 1, 0, 1, 2)
        grid.addWidget(self.batch_size_spin, 2, 1)
        grid.setColumnStretch(0, 1)
        # offered when the descent changes (its tested optimiser), and when settings are known to fail
        self.advice_label = QLabel()
        self.advice_label.setObjectName("descentAdviceLabel")
        self.advice_label.setWordWrap(True)
        self.warning_label = QLabel()
        self.warning_label.setObjectName("divergenceWarningLabel")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.tested_button = QPushButton("Use the tested settings")
        self.tested_button.setObjectName("useTestedSettingsButton")
        self.tested_button.setToolTip("Set the optimiser, learning rate and momentum this descent was tested with "
                                      "in “The three descents” preset.")
        self.tested_button.clicked.connect(self.use_tested_settings)
        grid.addWidget(self.advice_label, 6, 0, 1, 2)
        grid.addWidget(self.warning_label, 7, 0, 1, 2)
        grid.addWidget(self.tested_button, 8, 0, 1, 2)
        self._offer_for_descent = False  # the user switched descent: offer its tested settings
        self._showing_config = False

        self.optimizer_combo = choice_combo(tooltips.OPTIMIZERS, "optimizerCombo")
        self.learning_rate_spin = self._double_spin("learningRateSpin", "learning_rate", 5, 0.005,
                                                    tooltips.LEARNING_RATE)
        self.momentum_spin = self._double_spin("momentumSpin", "momentum", 3, 0.05, tooltips.MOMENTUM)
        self.weight_decay_spin = self._double_spin("weightDecaySpin", "weight_decay", 5, 0.0001, tooltips.WEIGHT_DECAY)
        self.schedule_combo = choice_combo(tooltips.SCHEDULES, "scheduleCombo")
        optimizer_box = QGroupBox("Optimiser")
        form = QFormLayout(optimizer_box)
        form.addRow("Method", self.optimizer_combo)
        form.addRow("Learning rate η", self.learning_rate_spin)
        form.addRow("Momentum μ", self.momentum_spin)
        form.addRow("Weight decay λ", self.weight_decay_spin)
        form.addRow("Schedule", self.schedule_combo)

        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("datasetCombo")
        self.dataset_combo.setToolTip(tooltips.DATASET)
        for key, label in DATASETS.items():
            self.dataset_combo.addItem(label, key)
        self.open_folder_button = QPushButton("Open IDX folder…")
        self.open_folder_button.setObjectName("openIdxFolderButton")
        self.open_folder_button.setToolTip(tooltips.OPEN_FOLDER)
        self.open_folder_button.clicked.connect(self.choose_folder)
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("downloadDatasetButton")
        self.download_button.setToolTip(
            "Download the chosen data set (Fashion-MNIST: about 30 MB) into your cache folder. Every file's "
            "checksum is verified, and nothing is kept of a download that fails or is cancelled.")
        self.download_button.clicked.connect(self._on_download_clicked)
        self.download_progress = QProgressBar()
        self.download_progress.setObjectName("downloadProgress")
        self.download_progress.setRange(0, 1000)
        self.download_progress.hide()
        self._downloading = False
        self._dataset_note = ""  # what went wrong with the chosen data set, kept among the notes
        self.epochs_spin = self._int_spin("epochsSpin", "epochs", tooltips.EPOCHS)
        self.train_size_spin = self._int_spin("trainSizeSpin", "train_size", tooltips.TRAIN_SIZE)
        self.train_size_spin.setSingleStep(1000)
        self.train_size_spin.setGroupSeparatorShown(True)
        self.augment_check = QCheckBox("Augment (random shifts and rotations)")
        self.augment_check.setObjectName("augmentCheck")
        self.augment_check.setToolTip(tooltips.AUGMENT)
        data_box = QGroupBox("Data")
        data_form = QFormLayout(data_box)
        data_form.addRow("Data set", self.dataset_combo)
        data_form.addRow("", self.download_button)
        data_form.addRow("", self.download_progress)
        data_form.addRow("", self.open_folder_button)
        data_form.addRow("Training images", self.train_size_spin)
        data_form.addRow("Epochs", self.epochs_spin)
        data_form.addRow(self.augment_check)

        self.note_label = QLabel()
        self.note_label.setObjectName("trainingNoteLabel")
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: #a05a00;")

        layout = QVBoxLayout(self)
        layout.addWidget(descent_box)
        layout.addWidget(optimizer_box)
        layout.addWidget(data_box)
        layout.addWidget(self.note_label)
        layout.addStretch(1)

        self.set_config(config)
        for spin in (self.batch_size_spin, self.momentum_spin, self.weight_decay_spin, self.epochs_spin,
                     self.train_size_spin):
            spin.valueChanged.connect(self._on_edit)
        for combo in (self.optimizer_combo, self.schedule_combo):
            combo.currentIndexChanged.connect(self._on_edit)
        self.descent_buttons.buttonToggled.connect(self._on_descent_toggled)
        self.descent_buttons.buttonToggled.connect(self._on_edit)
        self.augment_check.toggled.connect(self._on_edit)
        self.learning_rate_spin.valueChanged.connect(self._on_learning_rate)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset)
        self._update_download_button()

    @staticmethod
    def _int_spin(name: str, field: str, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(*WINDOW_BOUNDS[field])
        spin.setToolTip(tip)
        return spin

    @staticmethod
    def _double_spin(name: str, field: str, decimals: int, step: float, tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setObjectName(name)
        spin.setDecimals(decimals)
        spin.setRange(*WINDOW_BOUNDS[field])
        spin.setSingleStep(step)
        spin.setToolTip(tip)
        return spin

    # ---- settings
    def values(self) -> dict:
        """The fields this panel shows, by ``RunConfig`` name. "Training images" at its maximum
        (every image of the loaded data set) is ``train_size=None``: all of them."""
        train_size = self.train_size_spin.value()
        return {
            "descent": next(key for key, radio in self.descent_radios.items() if radio.isChecked()),
            "batch_size": self.batch_size_spin.value(),
            "optimizer": self.optimizer_combo.currentData(),
            "learning_rate": self.learning_rate_spin.value(),
            "momentum": self.momentum_spin.value(),
            "weight_decay": self.weight_decay_spin.value(),
            "schedule": self.schedule_combo.currentData(),
            "epochs": self.epochs_spin.value(),
            "augment": self.augment_check.isChecked(),
            "dataset": self.dataset_combo.currentData(),
            "train_size": None if train_size == self.train_size_spin.maximum() else train_size,
        }

    def set_config(self, config: RunConfig) -> None:
        """Show ``config``'s training fields."""
        self._showing_config = True
        self._offer_for_descent = False
        self.descent_radios[config.descent].setChecked(True)
        self._showing_config = False
        self.train_size_spin.setValue(config.n_train(self.train_size_spin.maximum()))
        self.batch_size_spin.setValue(config.batch_size)
        select_data(self.optimizer_combo, config.optimizer)
        self.learning_rate_spin.setValue(config.learning_rate)
        self.momentum_spin.setValue(config.momentum)
        self.weight_decay_spin.setValue(config.weight_decay)
        select_data(self.schedule_combo, config.schedule)
        self.epochs_spin.setValue(config.epochs)
        self.select_dataset(config.dataset)
        self.augment_check.setChecked(config.augment)
        self._on_edit()

    def select_dataset(self, name_or_dir: str) -> None:
        """Choose a data set by name, folder or file path (a new one is added to the list)."""
        if self.dataset_combo.findData(name_or_dir) < 0:
            kind = "File" if Path(name_or_dir).is_file() else "Folder"
            self.dataset_combo.addItem(f"{kind}: {Path(name_or_dir).name}", name_or_dir)
        select_data(self.dataset_combo, name_or_dir)

    def set_train_limit(self, n_train: int) -> None:
        """The loaded data set has ``n_train`` training images: the subset cannot exceed them."""
        self.train_size_spin.setMaximum(n_train)
        self._on_edit()

    def set_running(self, running: bool) -> None:
        """While a run trains, only the learning rate stays editable."""
        for widget in (*self.descent_radios.values(), self.batch_size_spin, self.optimizer_combo,
                       self.momentum_spin, self.weight_decay_spin, self.schedule_combo, self.dataset_combo,
                       self.open_folder_button, self.epochs_spin, self.train_size_spin, self.augment_check):
            widget.setEnabled(not running)
        self._running = running
        self._update_download_button()
        self._on_edit()

    def set_downloading(self, downloading: bool) -> None:
        """While a download runs, its button cancels it and the bar shows its progress."""
        self._downloading = downloading
        self.download_progress.setVisible(downloading)
        self.download_progress.setValue(0)
        self._update_download_button()

    def show_download_progress(self, done: int, total: int, filename: str) -> None:
        if total:
            self.download_progress.setValue(int(1000 * done / total))
            self.download_progress.setFormat(f"{filename}: %p%")
        else:
            self.download_progress.setFormat(f"{filename}: {done / 1e6:.1f} MB")

    def _update_download_button(self) -> None:
        name = self.dataset_combo.currentData()
        if self._downloading:
            self.download_button.setText("Cancel download")
            self.download_button.setEnabled(True)
            return
        self.download_button.setText(f"Download {self.dataset_combo.currentText()}" if downloadable(name)
                                      else "Download")
        self.download_button.setEnabled(downloadable(name) and not self._running)

    @Slot()
    def _on_download_clicked(self) -> None:
        if self._downloading:
            self.download_cancelled.emit()
        else:
            self.download_requested.emit(self.dataset_combo.currentData())

    def set_dataset_note(self, text: str) -> None:
        """A note about the chosen data set (it cannot load, it was replaced), shown until another
        data set is chosen."""
        self._dataset_note = text
        self._on_edit()

    def show_note(self, text: str) -> None:
        self.note_label.setText(text)
        self.note_label.setVisible(bool(text))

    # ---- reactions
    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of IDX files", self.start_folder)
        if folder:
            self.start_folder = str(Path(folder).parent)
            self.select_dataset(folder)

    @Slot()
    def _on_edit(self) -> None:
        """Keep combinations valid, and say inline what a choice implies."""
        settings = RunConfig().replace(**self.values())
        train_size = settings.n_train(self.train_size_spin.maximum())
        self.batch_size_spin.setMaximum(train_size)
        self.batch_size_spin.setEnabled(settings.descent == "mini" and not self._running)
        self.momentum_spin.setEnabled(settings.optimizer in ("momentum", "nesterov") and not self._running)
        self.augment_check.setEnabled(not self._running)  # every descent augments (full batch: afresh each epoch)
        notes = []
        if settings.descent == "sgd" and train_size > SLOW_SGD_SAMPLES:
            notes.append(
                f"Stochastic descent makes {train_size:,} Python-level updates per epoch: expect it to be "
                "much slower per epoch than mini-batch (but it learns from the very first images)."
            )
        if settings.descent == "full" and settings.optimizer in ("sgd", "momentum", "nesterov"):
            notes.append(
                "Full batch makes one update per epoch: raise the epochs or the learning rate to see progress."
            )
        self.show_note("\n".join(filter(None, [*notes, self._dataset_note])))
        self._update_advice()
        self.changed.emit()

    def _differs_from_tested(self, settings: RunConfig) -> bool:
        tested = tested_optimiser(settings.descent)
        return (settings.optimizer, settings.learning_rate) != (tested["optimizer"], tested["learning_rate"]) or (
            settings.optimizer in ("momentum", "nesterov") and settings.momentum != tested["momentum"])

    def _update_advice(self) -> None:
        """Offer the tested settings after a change of descent, and warn about a failing combination."""
        settings = RunConfig().replace(**self.values())
        differs = self._differs_from_tested(settings)
        if not differs:
            self._offer_for_descent = False
        offer = self._offer_for_descent
        warning = divergence_warning(settings)
        if offer:
            tested = tested_optimiser(settings.descent)
            name = self.descent_radios[settings.descent].text()
            self.advice_label.setText(
                f"{name}: {DESCENT_REASONS[settings.descent]}. Its tested settings are plain SGD at learning "
                f"rate {tested['learning_rate']:g} (from “The three descents”).")
        self.advice_label.setVisible(offer)
        self.warning_label.setText(warning or "")
        self.warning_label.setVisible(warning is not None)
        self.tested_button.setVisible((offer or warning is not None) and differs)
        self.tested_button.setEnabled(not self._running)

    @Slot()
    def use_tested_settings(self) -> None:
        """One click: the optimiser, learning rate and momentum the current descent was tested with."""
        tested = tested_optimiser(self.values()["descent"])
        select_data(self.optimizer_combo, tested["optimizer"])
        self.momentum_spin.setValue(tested["momentum"])
        self.learning_rate_spin.setValue(tested["learning_rate"])
        self._offer_for_descent = False
        self._on_edit()

    @Slot(object, bool)
    def _on_descent_toggled(self, _button, checked: bool) -> None:
        if checked and not self._showing_config:
            self._offer_for_descent = True

    @Slot(float)
    def _on_learning_rate(self, value: float) -> None:
        self._update_advice()
        self.learning_rate_changed.emit(value)
        self.changed.emit()

    @Slot(int)
    def _on_dataset(self, _index: int) -> None:
        self._dataset_note = ""
        self._update_download_button()
        self.dataset_selected.emit(self.dataset_combo.currentData())
        self.changed.emit()
