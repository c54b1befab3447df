"""The Backprop tab's computations, each in a thread of its own, never on the GUI thread.

A ``JobRunner`` runs at most one job of each kind ("trace", "check", "step", "saliency",
"noise") at a time. A request made while its kind is busy waits, and a newer request of the same
kind replaces it, so that when the user clicks through digits faster than they compute, only the
newest is computed next. Each result reaches the GUI thread as ``finished(job)``; the view then
compares ``job.key`` with what it shows now and drops a result for an older digit or model.

Every job runs inside ``scratchnet.threads.using_blas()`` (a training run's worker may change
the BLAS thread count meanwhile) and with NumPy's overflow warnings off (a diverged run's
weights may overflow; the view reports non-finite numbers itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal, Slot

from scratchnet.threads import using_blas

from ..threads import start_in_thread, stop_thread


class Job(QObject):
    """``compute()`` run once in a worker thread: ``result`` or ``error``, ``seconds`` it took and
    the ``thread_id`` it ran in (for tests). ``key`` says what it was computed for."""

    done = Signal()

    def __init__(self, kind: str, key: object, compute: Callable[[], object]) -> None:
        super().__init__()
        self.kind = kind
        self.key = key
        self._compute = compute
        self.result: object = None
        self.error: Exception | None = None
        self.seconds = 0.0
        self.thread_id: int | None = None

    @Slot()
    def run(self) -> None:
        self.thread_id = threading.get_ident()
        start = time.perf_counter()
        try:
            with using_blas(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self.result = self._compute()
        except Exception as error:  # shown by the view, the window keeps running
            self.error = error
        finally:
            self.seconds = time.perf_counter() - start
            self.done.emit()


class JobRunner(QObject):
    """Signal ``finished(job)``, on the GUI thread, after each job (its ``error`` set if it failed)."""

    finished = Signal(object)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._running: dict[str, tuple[QThread, Job]] = {}
        self._waiting: dict[str, Job] = {}
        self._closed = False

    def submit(self, kind: str, key: object, compute: Callable[[], object]) -> None:
        """Compute ``compute()`` for ``key`` off the GUI thread, after the running job of ``kind``."""
        if self._closed:
            return
        job = Job(kind, key, compute)
        if kind in self._running:
            self._waiting[kind] = job  # replaces an older request that has not started
            return
        self._start(job)

    def busy(self, kind: str | None = None) -> bool:
        """True while a job (of ``kind``) runs or waits."""
        if kind is None:
            return bool(self._running or self._waiting)
        return kind in self._running or kind in self._waiting

    def shutdown(self, deadline: QDeadlineTimer) -> None:
        """Start nothing more, and wait for the running jobs until ``deadline`` (see threads.stop_thread)."""
        self._closed = True
        self._waiting.clear()
        for thread, _job in list(self._running.values()):
            stop_thread(thread, deadline)

    def reopen(self) -> None:
        self._closed = False

    def _start(self, job: Job) -> None:
        # a slot of a GUI-thread object (a lambda would run in the ending thread)
        relay = _Relay(self, job.kind)
        thread = start_in_thread(job, [job.done], self, relay.fire, start=False)
        self._running[job.kind] = (thread, job)
        thread.start()

    def _on_thread_finished(self, kind: str) -> None:
        _thread, job = self._running.pop(kind)
        waiting = self._waiting.pop(kind, None)
        if waiting is not None and not self._closed:
            self._start(waiting)
        self.finished.emit(job)


class _Relay(QObject):
    """Tells the runner, on the GUI thread, that the thread of a job of ``kind`` has ended."""

    def __init__(self, runner: JobRunner, kind: str) -> None:
        super().__init__(runner)
        self._runner = runner
        self._kind = kind

    @Slot()
    def fire(self) -> None:
        self.deleteLater()  # owned by the runner (its parent), deleted on the GUI thread
        self._runner._on_thread_finished(self._kind)
