"""Data sets for the window: a thread-safe cache, and a loader that runs off the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from PySide6.QtCore import QObject, Signal, Slot

from scratchnet.data import Dataset, load_dataset

DatasetLoaderFn = Callable[[str], Dataset]


class DatasetCache:
    """Loads each data set once (``load_dataset`` by default); safe to call from any thread.

    The lock guards only the two dictionaries, never a load: a slow download of one data set
    does not hold up ``cached`` (which never waits, so the GUI thread may call it) or a ``get``
    of another one. Threads that ``get`` a data set while another thread loads it wait for that
    load (call ``get`` off the GUI thread) and share its result or its error; after an error,
    the next ``get`` tries again.
    """

    def __init__(self, loader: DatasetLoaderFn = load_dataset) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._loaded: dict[str, Dataset] = {}
        self._loading: dict[str, Future] = {}

    def get(self, name: str) -> Dataset:
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            pending = self._loading.get(name)
            loads_it = pending is None
            if loads_it:
                pending = self._loading[name] = Future()
        if not loads_it:
            return pending.result()
        try:
            dataset = self._loader(name)
        except BaseException as exc:
            with self._lock:
                del self._loading[name]
            pending.set_exception(exc)
            raise
        with self._lock:
            self._loaded[name] = dataset
            del self._loading[name]
        pending.set_result(dataset)
        return dataset

    def cached(self, name: str) -> Dataset | None:
        """The data set if it is loaded, else None; never waits for a load."""
        with self._lock:
            return self._loaded.get(name)


class DatasetLoader(QObject):
    """Loads one data set through a cache; run it in a thread (see ``threads.start_in_thread``)."""

    loaded = Signal(str, object)
    failed = Signal(str, str)
    done = Signal()

    def __init__(self, cache: DatasetCache, name: str) -> None:
        super().__init__()
        self._cache = cache
        self._name = name

    @Slot()
    def run(self) -> None:
        try:
            self.loaded.emit(self._name, self._cache.get(self._name))
        except Exception as exc:  # reported to the window, which stays usable
            self.failed.emit(self._name, str(exc))
        finally:
            self.done.emit()
