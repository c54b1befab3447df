"""Downloading a data set from the window: ``scratchnet.download`` in a thread, with progress and cancel.

``DatasetDownloads`` runs one download at a time off the GUI thread and reports on the GUI thread:
``progress(name, done_bytes, total_bytes, file)``, ``finished(name, folder)``,
``failed(name, message)`` (network error, checksum mismatch, damaged file) and
``cancelled(name)``. ``download_dataset`` verifies every file's SHA-256 and leaves no partial
file behind on any failure or cancel.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal, Slot

from scratchnet.download import DEFAULT_URLS, download_dataset
from scratchnet.errors import DatasetError

from .threads import start_in_thread, stop_thread


def downloadable(name: str) -> bool:
    """True when ``name`` is a data set the window can download."""
    return name in DEFAULT_URLS


class _Cancelled(Exception):
    pass


class _DownloadJob(QObject):
    """One ``download_dataset`` call; runs in its own thread (see ``threads.start_in_thread``)."""

    progress = Signal(str, int, int, str)
    finished = Signal(str, str)
    failed = Signal(str, str)
    cancelled = Signal(str)
    done = Signal()

    def __init__(self, name: str, base_url: str | None) -> None:
        super().__init__()
        self.name = name
        self._base_url = base_url
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def _report(self, done: int, total: int, filename: str) -> None:
        if self._cancel.is_set():
            raise _Cancelled
        self.progress.emit(self.name, done, total, filename)

    @Slot()
    def run(self) -> None:
        try:
            folder = download_dataset(self.name, base_url=self._base_url, progress=self._report)
            self.finished.emit(self.name, str(folder))
        except _Cancelled:
            self.cancelled.emit(self.name)
        except DatasetError as exc:
            self.failed.emit(self.name, str(exc))
        except Exception as exc:  # reported to the window, which stays usable
            self.failed.emit(self.name, f"{type(exc).__name__}: {exc}")
        finally:
            self.done.emit()


class DatasetDownloads(QObject):
    """Signals are emitted on the GUI thread (the job's signals are relayed through this object's slots)."""

    progress = Signal(str, int, int, str)
    finished = Signal(str, str)
    failed = Signal(str, str)
    cancelled = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.base_url: str | None = None  # None: each data set's usual address (download.DEFAULT_URLS)
        self._job: _DownloadJob | None = None  # the running download
        self._thread: QThread | None = None
        # every job stays referenced: one must not be deleted while its thread still returns from run()
        self._jobs: list[_DownloadJob] = []

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, name: str) -> bool:
        """Download ``name`` in a thread; False (and nothing happens) while another one runs."""
        if self.busy:
            return False
        job = _DownloadJob(name, self.base_url)
        job.progress.connect(self.progress)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        self._job = job
        self._jobs.append(job)
        self._thread = start_in_thread(job, [job.done], self)
        return True

    def cancel(self) -> None:
        """Stop the running download at its next chunk; ``cancelled`` follows."""
        if self._job is not None:
            self._job.cancel()

    def shutdown(self, deadline: QDeadlineTimer) -> bool:
        self.cancel()
        return stop_thread(self._thread, deadline)

    @Slot(str, str)
    def _on_finished(self, name: str, folder: str) -> None:
        self._job = None
        self.finished.emit(name, folder)

    @Slot(str, str)
    def _on_failed(self, name: str, message: str) -> None:
        self._job = None
        self.failed.emit(name, message)

    @Slot(str)
    def _on_cancelled(self, name: str) -> None:
        self._job = None
        self.cancelled.emit(name)
