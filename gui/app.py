"""Start the desktop app."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QDeadlineTimer
from PySide6.QtWidgets import QApplication

from .main_window import MainWindow
from .threads import wait_for_released_threads

# how long the process waits at exit for a thread that closing the window left running
EXIT_WAIT_MS = 10_000


def run_app(argv: list[str]) -> int:
    """Create the QApplication, show the main window, run until it closes; the exit code."""
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("scratchnet")
    window = MainWindow()
    window.show()
    code = app.exec()
    window.close()  # however the loop ended, stop the worker and loader threads (a bounded wait)
    if not wait_for_released_threads(QDeadlineTimer(EXIT_WAIT_MS)):
        # Qt aborts the process when it destroys a thread that still runs: leave without
        # destroying anything (the settings were saved when the window closed)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
