"""One computation at a time in a worker thread, the newest request winning.

The neuron lab and the hidden-layer map recompute when a control moves; a request that comes
while one runs waits, and only the newest waiting one runs next, so a dragged slider never queues
up work. Its result reaches ``on_done(result, error)`` on the GUI thread, unless a newer request
came meanwhile (then it is dropped).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QDeadlineTimer, QObject, Signal, Slot

from scratchnet.threads import using_blas

from ..threads import start_in_thread, stop_thread


class _Worker(QObject):
    done = Signal()

    def __init__(self, function: Callable[[], object]) -> None:
        super().__init__()
        self.function = function
        self.result: object = None
        self.error: Exception | None = None
        self.thread_id: int | None = None

    @Slot()
    def run(self) -> None:
        self.thread_id = threading.get_ident()
        try:
            # a run's worker may change the BLAS thread count meanwhile; diverged weights overflow
            with using_blas(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self.result = self.function()
        except Exception as error:
            self.error = error
        finally:
            self.done.emit()


class LatestJob(QObject):
    """``submit(function, on_done)``: run ``function()`` in a worker thread; ``finished`` is
    emitted after each ``on_done`` call. ``thread_ids``: the threads that computed (for tests)."""

    finished = Signal()

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._pending: tuple | None = None
        self._running: tuple | None = None
        self._thread = None
        self._closed = False
        self.thread_ids: list[int] = []

    @property
    def busy(self) -> bool:
        return self._running is not None or self._pending is not None

    def submit(self, function: Callable[[], object], on_done: Callable[[object, Exception | None], None]) -> None:
        self._pending = (function, on_done)
        if self._running is None and not self._closed:
            self._start()

    def close(self, deadline: QDeadlineTimer) -> None:
        """No new work; wait until ``deadline`` for the running one (see ``threads.stop_thread``)."""
        self._closed = True
        self._pending = None
        stop_thread(self._thread, deadline)

    def _start(self) -> None:
        self._running, self._pending = self._pending, None
        self._worker = _Worker(self._running[0])
        self._thread = start_in_thread(self._worker, [self._worker.done], self, self._on_finished)

    @Slot()
    def _on_finished(self) -> None:
        worker, (_, on_done) = self._worker, self._running
        self._running = self._thread = None
        self.thread_ids.append(worker.thread_id)
        if self._pending is None and not self._closed:
            on_done(worker.result, worker.error)
            self.finished.emit()
        elif self._pending is not None and not self._closed:
            self._start()
