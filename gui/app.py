"""Start the desktop app."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from .main_window import MainWindow


def run_app(argv: list[str]) -> int:
    """Create the QApplication, show the main window, run until it closes; the exit code."""
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("scratchnet")
    window = MainWindow()
    window.show()
    code = app.exec()
    window.close()  # however the loop ended, stop the worker and loader threads before exiting
    return code
