"""The File menu's actions: open and save models, export the curves and the plots.

Each action asks for a path through one dialog helper (``_through_dialog``), remembers its folder
for the next dialog, and shows what went wrong in the window instead of raising. ``open_model_from``
and ``save_model_to`` do the work without a dialog.

Saving a model adds ``.npz`` to a name typed without it. A destination can fail in many ways (a
read-only folder or mount, a full disk, a device, a folder of that name): the training is not
lost, the message says why and offers to save elsewhere, as many times as needed; giving up shows
the error in the window.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from scratchnet.errors import ModelFileError, SaveError, ScratchnetError
from scratchnet.run_config import model_metadata
from scratchnet.serialization import load_model_file, save_model, with_model_suffix
from scratchnet.training import evaluate

from .model_metadata import config_for_model
from .runs import write_curves_csv
from .settings import RunSpec

if TYPE_CHECKING:
    from .main_window import MainWindow

MODEL_FILES = "scratchnet models (*.npz)"


class FileActions:
    """The File menu of ``window``: its dialogs open over it, and it reads the window's model,
    settings, runs and plots."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.last_folder = ""

    # ---- through a dialog
    def open_model_dialog(self) -> None:
        self._through_dialog("Open model", "", MODEL_FILES, self.open_model_from)

    def save_model_dialog(self) -> None:
        self._through_dialog("Save model", "model.npz", MODEL_FILES, self._save_model_offering_elsewhere)

    def export_csv_dialog(self) -> None:
        if not self.window.runs:
            self.window.status.say("There is nothing to export yet: no run has finished. Train one first.")
            return
        self._through_dialog("Export curves", "curves.csv", "CSV files (*.csv)", self.export_csv_to)

    def export_png_dialog(self) -> None:
        self._through_dialog("Export plots", "plots.png", "PNG images (*.png)", self.export_png_to)

    def export_csv_to(self, path: str) -> None:
        runs = self.window.runs
        write_curves_csv(runs, path)
        self.window.status.success(saved_message([path], f" ({len(runs)} run{'s' if len(runs) != 1 else ''})"))

    def export_png_to(self, path: str) -> None:
        self.window.status.success(saved_message(self.window.plots.export_png(path)))

    def _through_dialog(self, title: str, file_name: str, file_filter: str, action: Callable[[str], None]) -> None:
        """Ask for a file (``_ask``), then run ``action`` on it."""
        path = self._ask(title, file_name, file_filter, self.last_folder)
        if path:
            self.remember_folder(path)
            self.report_errors(action, path)

    def _ask(self, title: str, file_name: str, file_filter: str, folder: str) -> str:
        """The file picked in ``folder``: an existing one when ``file_name`` is empty, else where to
        write, suggesting ``file_name`` (a model gets ``.npz`` if typed without); "" if cancelled."""
        if not file_name:
            return QFileDialog.getOpenFileName(self.window, title, folder, file_filter)[0]
        path, _ = QFileDialog.getSaveFileName(self.window, title, os.path.join(folder, file_name), file_filter)
        return str(with_model_suffix(path)) if path and file_filter == MODEL_FILES else path

    def _save_model_offering_elsewhere(self, path: str) -> None:
        """``save_model_to(path)``; on a SaveError, ask whether to save elsewhere and try the file
        picked, as often as needed. Giving up re-raises the last SaveError."""
        while True:
            try:
                self.save_model_to(path)
                return
            except SaveError as exc:
                answer = QMessageBox.question(
                    self.window, "Save failed", f"{exc}.\n\nSave the model somewhere else?",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes,
                )
                elsewhere = self._ask("Save model elsewhere", Path(path).name, MODEL_FILES, str(Path.home())) \
                    if answer == QMessageBox.StandardButton.Yes else ""
                if not elsewhere:
                    raise
                self.remember_folder(elsewhere)
                path = elsewhere

    def report_errors(self, function: Callable, *args) -> None:
        try:
            function(*args)
        except (OSError, ValueError, ScratchnetError) as exc:  # ModelFileError is a ValueError
            self.window.status.error(str(exc))

    def remember_folder(self, path: str) -> None:
        self.last_folder = os.path.dirname(os.path.abspath(path))
        self.window.training_panel.start_folder = self.last_folder

    # ---- the work
    def save_model_to(self, path: str) -> None:
        controller = self.window.controller
        if controller.current_model is None:
            raise ModelFileError("there is no model to save yet: train one first")
        spec = controller.model_spec
        config = spec.config if spec is not None else self.window.run_config()
        dataset = self.window.dataset
        run = controller.model_run
        # the runs that made these weights, oldest first: a continued run names the one it went on from
        history = {"history": [r.history_entry() for r in run.lineage()]} if run is not None else {}
        save_model(controller.current_model, path,
                   model_metadata(config, dataset.class_names if dataset else (), **history))
        self.window.status.success(f"Saved the model to {path}.")

    def open_model_from(self, path: str) -> None:
        """Load a model file; a bad file raises ModelFileError and changes nothing. Refused while
        a run trains, which would otherwise replace the model under it."""
        window = self.window
        if window.is_running:
            raise ModelFileError("a run is training: stop it before opening a model")
        loaded = load_model_file(path)
        # metadata is free-form JSON: use only settings that are valid and fit the weights
        config = config_for_model(loaded.metadata, loaded.model, window.run_config())
        window.show_config(config)
        window.controller.set_model(loaded.model, RunSpec(config))
        text = f"Loaded {path}."
        dataset = window.dataset
        if dataset is not None and (dataset.x_test.shape[1], dataset.num_classes) == (
            loaded.model.input_size, loaded.model.output_size
        ):
            _, accuracy = evaluate(loaded.model, dataset.x_test, dataset.y_test)
            text += f" Test accuracy {100 * accuracy:.2f}%."
        window.status.success(text)


def saved_message(paths, detail: str = "") -> str:
    """"Saved a.png and b.png in <folder>." for files written side by side."""
    names = [os.path.basename(p) for p in paths]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Saved {listed}{detail} in {os.path.dirname(os.path.abspath(paths[0]))}."
