"""File → Import data…: a learner's own data (CSV, image folders, .npz) as the current data set.

The dialog chooses a folder or a file and the import options, says which layout it found, and
loads with ``scratchnet.data.load_dataset`` in a worker thread (a progress bar follows the images
read). A bad file is shown as the ``DatasetError`` text, and the window stays on its data; a CSV
over 2 GB is imported only after the user agrees (``DatasetTooLarge`` → question → again with
``allow_large``). The imported set becomes the window's data set (``imported(str, object, dict)``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
)

from scratchnet import data_import
from scratchnet.data import load_dataset
from scratchnet.errors import DatasetError, DatasetTooLarge
from scratchnet.limits import MAX_IMPORT_SIDE

from .image_reader import read_grey
from .threads import start_in_thread, stop_thread
from .views.widgets import WrappingLabel, make_button

LAYOUT_TEXT = {
    data_import.IDX: "a folder of IDX files (like MNIST)",
    data_import.CSV_FOLDER: "a CSV folder: a train and a test CSV",
    data_import.ONE_CSV: "one CSV file, split into train and test by the held-out share",
    data_import.IMAGE_SPLIT: "image folders: train/<class>/ and test/<class>/",
    data_import.CLASS_FOLDERS: "image folders: <class>/ alone, split by the held-out share",
    data_import.NPZ: "an .npz holding x_train, y_train, x_test, y_test",
}
PROGRESS_STEPS = 1000
PHOTO_ITEMS = (("Plain resize", False), ("Photos of digits on paper", True), ("Detect photos", "auto"))


class ImportWorker(QObject):
    """Loads one path with ``load_dataset`` in its thread. Signals: ``progress(int, int)``,
    ``loaded(object)``, ``too_large(str)``, ``failed(str)``, then ``done()``."""

    progress = Signal("qlonglong", "qlonglong")  # a CSV's bytes can pass 2**31
    loaded = Signal(object)
    too_large = Signal(str)
    failed = Signal(str)
    done = Signal()

    def __init__(self, path: str, options: dict) -> None:
        super().__init__()
        self.path = path
        self.options = options

    @Slot()
    def run(self) -> None:
        try:
            dataset = load_dataset(self.path, read_image=read_grey, progress=self._progress, **self.options)
            self.loaded.emit(dataset)
        except DatasetTooLarge as exc:
            self.too_large.emit(str(exc))
        except (DatasetError, ValueError, OSError) as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # never lost in the thread: shown in the dialog
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self.done.emit()

    def _progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)


class ImportDialog(QDialog):
    """Signals ``imported(str, object, dict)``: the path, its Dataset and the ``load_dataset``
    options it was imported with, once loaded."""

    imported = Signal(str, object, dict)

    def __init__(self, parent=None, start_folder: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.setWindowTitle("Import data")
        self.start_folder = start_folder
        self._thread = None
        self._worker: ImportWorker | None = None
        self.dataset = None  # the last data set imported
        self._found: str | None = None  # the layout the last import found
        self._retry_large: str | None = None  # DatasetTooLarge's message, asked about when the thread ends

        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("importPathEdit")
        self.path_edit.setPlaceholderText("A folder or a file (.csv, .npz)")
        self.path_edit.setToolTip("What to import: a CSV folder, one CSV, image folders or an .npz.")
        self.path_edit.textChanged.connect(self._show_layout)
        self.folder_button = make_button("Folder…", "importFolderButton", "Choose a folder (CSV or image folders).",
                                     self.choose_folder)
        self.file_button = make_button("File…", "importFileButton", "Choose one CSV or .npz file.", self.choose_file)
        self.size_spin = QSpinBox()
        self.size_spin.setObjectName("importSizeSpin")
        self.size_spin.setRange(1, MAX_IMPORT_SIDE)
        self.size_spin.setSpecialValueText("the data's own (28 for images)")
        self.size_spin.setValue(1)
        self.size_spin.setSuffix(" px square")
        self.size_spin.setToolTip("The square side the images are resized to (by area). The lowest value keeps "
                                  "a CSV's or .npz's own size, and makes images 28×28 like MNIST.")
        self.held_out_spin = QDoubleSpinBox()
        self.held_out_spin.setObjectName("importHeldOutSpin")
        self.held_out_spin.setRange(1.0, 90.0)
        self.held_out_spin.setDecimals(1)
        self.held_out_spin.setValue(round(100 / 7, 1))
        self.held_out_spin.setSuffix(" %")
        self.held_out_spin.setToolTip("For data without a test split (one CSV, <class>/ folders): the share of "
                                      "each class held out as the test set (seeded, so the same every time).")
        self.photo_combo = QComboBox()
        self.photo_combo.setObjectName("importPhotoCombo")
        for text, value in PHOTO_ITEMS:
            self.photo_combo.addItem(text, value)
        self.photo_combo.setToolTip("Images: a plain area resize, or the drawing pad's preprocessing for photos "
                                    "of digits on paper (boxed, centred, ink/paper polarity detected).")
        self.layout_label = WrappingLabel()
        self.layout_label.setObjectName("importLayoutLabel")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("importProgress")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.message_label = WrappingLabel()
        self.message_label.setObjectName("importMessageLabel")
        self.message_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.AcceptRole)
        self.import_button.setObjectName("importButton")
        self.import_button.setToolTip("Load the data (off the window's thread) and make it the current data set.")
        self.buttons.button(QDialogButtonBox.Close).setObjectName("importCloseButton")
        self.buttons.button(QDialogButtonBox.Close).setToolTip("Close; the window keeps its data set.")
        self.import_button.clicked.connect(self.start_import)
        self.buttons.rejected.connect(self.reject)
        self._layout()
        self._show_layout("")

    def _layout(self) -> None:
        where = QHBoxLayout()
        where.addWidget(self.path_edit, 1)
        where.addWidget(self.folder_button)
        where.addWidget(self.file_button)
        form = QFormLayout()
        form.addRow("Data", where)
        form.addRow("Found", self.layout_label)
        form.addRow("Image size", self.size_spin)
        form.addRow("Held out", self.held_out_spin)
        form.addRow("Images", self.photo_combo)
        column = QVBoxLayout(self)
        column.addLayout(form)
        column.addWidget(self.progress_bar)
        column.addWidget(self.message_label)
        column.addStretch(1)
        column.addWidget(self.buttons)
        self.resize(620, 340)

    # ------------------------------------------------------------------ choosing
    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder", self.start_folder)
        if folder:
            self.path_edit.setText(folder)

    @Slot()
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a file", self.start_folder,
                                              "Data files (*.csv *.npz);;All files (*)")
        if path:
            self.path_edit.setText(path)

    def options(self) -> dict:
        """The ``load_dataset`` options the controls describe."""
        size = self.size_spin.value()
        return {"image_size": None if size == self.size_spin.minimum() else size,
                "held_out": self.held_out_spin.value() / 100, "photo": self.photo_combo.currentData()}

    @Slot(str)
    def _show_layout(self, text: str) -> None:
        text = text.strip()
        if not text:
            self.layout_label.setText("Choose a folder or a file.")
            self.import_button.setEnabled(False)
            return
        try:
            kind = data_import.find_layout(Path(text))
        except DatasetError as exc:
            self.layout_label.setText(f"Nothing to import: {exc}")
            self.import_button.setEnabled(False)
            return
        self.layout_label.setText(LAYOUT_TEXT.get(kind, kind))
        self.import_button.setEnabled(self._thread is None)

    # ------------------------------------------------------------------ loading
    @property
    def busy(self) -> bool:
        return self._thread is not None

    @Slot()
    def start_import(self, allow_large: bool = False) -> None:
        if self.busy:
            return
        path = self.path_edit.text().strip()
        self._found = None
        self.message_label.setText(f"Importing {Path(path).name}…")
        self.message_label.setStyleSheet("")
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        self.import_button.setEnabled(False)
        self._worker = ImportWorker(path, {**self.options(), "allow_large": allow_large})
        self._worker.progress.connect(self._on_progress)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.failed.connect(self._on_failed)
        self._worker.too_large.connect(self._on_too_large)
        self._thread = start_in_thread(self._worker, [self._worker.done], self, self._on_thread_done)

    @Slot("qlonglong", "qlonglong")
    def _on_progress(self, done: int, total: int) -> None:
        """Images read, or a CSV's bytes (which overflow a progress bar's int): shown in per mille."""
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setValue(PROGRESS_STEPS * done // max(1, total))

    @Slot(object)
    def _on_loaded(self, dataset) -> None:
        self.dataset = dataset
        self._found = f"{dataset.layout}"
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        h, w = dataset.image_shape
        self.message_label.setText(
            f"Imported {dataset.name}: {len(dataset.y_train):,} training and {len(dataset.y_test):,} test images "
            f"of {h}×{w}, {dataset.num_classes} classes ({', '.join(dataset.class_names[:12])}"
            f"{', …' if dataset.num_classes > 12 else ''}). It is now the current data set.")
        self.imported.emit(self._worker.path, dataset, dict(self._worker.options))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.message_label.setStyleSheet("color: #8a1010;")
        self.message_label.setText(f"Not imported: {message}")

    @Slot(str)
    def _on_too_large(self, message: str) -> None:
        self._retry_large = message

    @Slot()
    def _on_thread_done(self) -> None:
        self._thread = None
        self._show_layout(self.path_edit.text())
        if self._found is not None:  # what the import found says more than the guess from the path
            self.layout_label.setText(self._found)
        message, self._retry_large = self._retry_large, None
        if message is None:
            return
        answer = QMessageBox.question(self, "Import a large file", f"{message}\n\nImport it anyway? It takes "
                                      "that much memory, and a while.")
        if answer == QMessageBox.Yes:
            self.start_import(allow_large=True)
        else:
            self._on_failed(f"{message} (not imported)")

    def shutdown(self, deadline) -> None:
        """The window closes: wait until ``deadline`` for a load under way (see ``threads.stop_thread``)."""
        stop_thread(self._thread, deadline)


__all__ = ["ImportDialog", "ImportWorker"]
