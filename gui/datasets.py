"""Data sets for the window: a thread-safe cache, and a loader that runs off the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from scratchnet.data import Dataset, load_dataset

DatasetLoaderFn = Callable[[str], Dataset]


class DatasetCache:
    """Loads each data set once (``load_dataset`` by default); safe to call from any thread."""

    def __init__(self, loader: DatasetLoaderFn = load_dataset) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._loaded: dict[str, Dataset] = {}

    def get(self, name: str) -> Dataset:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._loader(name)
            return self._loaded[name]

    def cached(self, name: str) -> Dataset | None:
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
