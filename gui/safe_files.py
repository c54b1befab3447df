"""Saving a model from the window: the ``.npz`` suffix is added, and a failed save offers another place.

A destination can fail in many ways (a read-only folder or mount, a full disk, a device, a
folder of that name). The training is not lost: the message says why, and the user can pick
another file, as many times as needed, or give up (the error is then shown in the window).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from scratchnet.errors import SaveError
from scratchnet.serialization import with_model_suffix

MODEL_FILTER = "scratchnet models (*.npz)"


def ask_model_path(parent: QWidget, title: str, start: str) -> str:
    """The file the user picks in a save dialog, with ``.npz`` added if typed without; "" if cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, title, start, MODEL_FILTER)
    return str(with_model_suffix(path)) if path else ""


def save_offering_elsewhere(parent: QWidget, path: str, save: Callable[[str], None]) -> str:
    """``save(path)``; on a SaveError, ask whether to save elsewhere, and try the file picked.
    Returns the path saved to; re-raises the last SaveError if the user gives up."""
    path = str(with_model_suffix(path))
    while True:
        try:
            save(path)
            return path
        except SaveError as exc:
            answer = QMessageBox.question(
                parent, "Save failed", f"{exc}.\n\nSave the model somewhere else?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes,
            )
            elsewhere = ask_model_path(parent, "Save model elsewhere", str(Path.home() / Path(path).name)) \
                if answer == QMessageBox.StandardButton.Yes else ""
            if not elsewhere:
                raise
            path = elsewhere
