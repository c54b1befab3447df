"""Start the desktop app."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QDeadlineTimer

from .threads import wait_for_released_threads

# how long the process waits at exit for a thread that closing the window left running
EXIT_WAIT_MS = 10_000

NO_DISPLAY = (
    "scratchnet: no display found (neither $DISPLAY nor $WAYLAND_DISPLAY is set), so the window cannot open.\n"
    "  Headless, use the command line: scratchnet train … or scratchnet predict IMAGE (see --help).\n"
    "  To run the window without a screen: QT_QPA_PLATFORM=offscreen scratchnet, "
    "or xvfb-run -a scratchnet for a virtual X display.\n"
)


def display_problem(environ=os.environ, platform: str = sys.platform) -> str | None:
    """The message to print when Qt would find no display to open the window on (it aborts with
    exit code 134 instead of saying so), or None."""
    if not platform.startswith("linux"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen and not chosen.startswith(("xcb", "wayland")):
        return None  # offscreen, minimal, vnc, eglfs…: no display server needed
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY


def run_app(argv: list[str]) -> int:
    """Create the QApplication, show the main window, run until it closes; the exit code."""
    problem = display_problem()
    if problem is not None:
        sys.stderr.write(problem)
        return 1
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

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
