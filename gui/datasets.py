"""Data sets for the window: a thread-safe cache, and a loader that runs off the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from PySide6.QtCore import QObject, Signal, Slot

from scratchnet.data import Dataset, load_dataset
from scratchnet.my_digits import MNIST_PLUS_MY_DIGITS, MY_DIGITS, MyDigits, fine_tune_dataset, my_digits_dataset

DatasetLoaderFn = Callable[[str], Dataset]


def load_any(name: str) -> Dataset:
    """``load_dataset``, reading image folders with Qt's image reader (the window's loader)."""
    from .image_reader import read_grey

    return load_dataset(name, read_image=read_grey)


MY_DIGITS_SETS = (MY_DIGITS, MNIST_PLUS_MY_DIGITS)


def with_my_digits(loader: DatasetLoaderFn, import_options: dict[str, dict] | None = None) -> DatasetLoaderFn:
    """``loader``, which also builds "my-digits" (my digits alone, a quarter of each label held
    out) and "mnist+my-digits" (``loader("mnist")`` with 10% of my digits) from the store, and
    loads a path found in ``import_options`` (a dict the caller keeps up to date: path -> the
    ``load_dataset`` options it was imported with) with those options."""
    import_options = import_options if import_options is not None else {}

    def load(name: str) -> Dataset:
        if name in import_options:
            from .image_reader import read_grey

            return load_dataset(name, read_image=read_grey, **import_options[name])
        if name == MY_DIGITS:
            return my_digits_dataset(MyDigits())
        if name == MNIST_PLUS_MY_DIGITS:
            return fine_tune_dataset(loader("mnist"), MyDigits()).dataset
        return loader(name)

    return load


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
        self._generations: dict[str, int] = {}  # how often each name was forgotten

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
        while True:  # again when ``forget`` came during the load: its files changed meanwhile
            with self._lock:
                generation = self._generations.get(name, 0)
            try:
                dataset = self._loader(name)
            except BaseException as exc:
                with self._lock:
                    del self._loading[name]
                pending.set_exception(exc)
                raise
            with self._lock:
                if self._generations.get(name, 0) != generation:
                    continue
                self._loaded[name] = dataset
                del self._loading[name]
            pending.set_result(dataset)
            return dataset

    def put(self, name: str, dataset: Dataset) -> None:
        """Keep ``dataset`` as ``name`` (a data set the window built or imported itself)."""
        with self._lock:
            self._loaded[name] = dataset

    def forget(self, name: str) -> None:
        """The next ``get`` of ``name`` loads it again (its files changed); a load under way
        starts again."""
        with self._lock:
            self._loaded.pop(name, None)
            self._generations[name] = self._generations.get(name, 0) + 1

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
        self.ended = False  # its result is sent: a new load of the name need not wait for the thread

    @Slot()
    def run(self) -> None:
        try:
            self.loaded.emit(self._name, self._cache.get(self._name))
        except Exception as exc:  # reported to the window, which stays usable
            self.failed.emit(self._name, str(exc))
        finally:
            self.ended = True
            self.done.emit()
