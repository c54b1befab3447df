"""Start a QObject worker in its own QThread, the way QT_NOTES.md prescribes."""

from __future__ import annotations

import functools

from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QObject, Qt, QThread, SignalInstance


def start_in_thread(
    worker: QObject, done_signals: list[SignalInstance], parent: QObject, on_finished=None, *, start: bool = True
) -> QThread:
    """Move ``worker`` (which has a ``run`` slot) to a new thread and start it (``start=False``:
    the caller calls ``thread.start()`` when it is ready).

    Any of ``done_signals`` quits the thread. ``on_finished`` (a slot of a GUI-thread object) is
    connected to ``thread.finished`` before the start, so it cannot be missed. When the thread
    ends, it is deleted, and the worker goes back to ``parent``'s thread, where Python deletes it
    with its last reference.
    """
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    for signal in done_signals:
        signal.connect(thread.quit)
    # Not worker.deleteLater: Python owns the worker, and a deferred delete in the finished thread
    # raced with the GUI thread dropping its last reference, deleting the object twice (random
    # segfaults and bus errors in the GUI thread after a few dozen start/stop cycles).
    thread.finished.connect(functools.partial(worker.moveToThread, parent.thread()), Qt.DirectConnection)
    thread.finished.connect(thread.deleteLater)
    if on_finished is not None:
        thread.finished.connect(on_finished)
    if start:
        thread.start()
    return thread


def stop_thread(thread: QThread | None, deadline: QDeadlineTimer) -> bool:
    """Quit ``thread`` and wait for it until ``deadline``; True when it has ended (or never ran).

    The worker must already have been asked to stop. A thread still running at the deadline is
    handed to the application object, so that deleting its parent (the window closing) cannot
    destroy a running thread, which would abort the process; it deletes itself when its worker
    returns. ``wait_for_released_threads`` waits for such threads before the process exits.
    """
    if thread is None:
        return True
    try:
        running = thread.isRunning()
    except RuntimeError:  # the C++ thread object is already deleted
        return True
    if not running:
        return True
    thread.quit()
    if thread.wait(deadline):
        return True
    thread.setParent(QCoreApplication.instance())
    return False


def wait_for_released_threads(deadline: QDeadlineTimer) -> bool:
    """Wait until ``deadline`` for the threads ``stop_thread`` released; True when none still runs."""
    app = QCoreApplication.instance()
    threads = app.findChildren(QThread) if app is not None else []
    return all(thread.wait(deadline) for thread in threads)
