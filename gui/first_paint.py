"""Start-up timing: with ``SCRATCHNET_EXIT_AFTER_FIRST_PAINT=1``, the main window prints
``{"first_paint_seconds": t}`` on its first paint and quits (``benchmarks/startup.py`` reads it).

``t`` counts from the process start as the kernel records it (``/proc/self/stat``), so the
interpreter's own start-up and every import are included.
"""

from __future__ import annotations

import json
import os
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

ENV_VAR = "SCRATCHNET_EXIT_AFTER_FIRST_PAINT"
_IMPORTED = time.perf_counter()


def seconds_since_process_start() -> float:
    """Wall time since this process started (Linux); elsewhere, since this module was imported."""
    try:
        with open("/proc/self/stat") as f:
            # field 22, counted after the ")" that ends the command name (which may hold spaces)
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


class FirstPaintReporter(QObject):
    """Watches ``window``'s paint events; on the first one, prints the time and quits the app."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("firstPaintReporter")
        self._done = False
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Paint and not self._done:
            self._done = True
            print(json.dumps({"first_paint_seconds": round(seconds_since_process_start(), 3)}), flush=True)
            QTimer.singleShot(0, QApplication.quit)
        return False


def report_first_paint_if_asked(window: QWidget) -> None:
    if os.environ.get(ENV_VAR) == "1":
        FirstPaintReporter(window)
