"""How many BLAS threads the updates of a training epoch use.

Small products (one sample, or a batch of up to 32 rows) finish before a second BLAS thread has
woken up, so one thread is faster; from 64 rows on, the BLAS default (one thread per core) wins on
an idle machine. Training takes the count from the batch size alone: OpenBLAS sums a product in
another order with one thread than with several (its small-matrix kernels are single-threaded), so
the count is part of what makes a run repeat bit for bit, and a resumed run equal its original.
``BlasThreads(..., adaptive=True)`` instead times a few updates alternately with one thread and
with the default, keeps the faster, and probes again every ``REPROBE_SECONDS``: faster when another
process holds a core (a second BLAS thread that waits for it makes each update 5-20x slower), but
the run's last bits then depend on the timing, so nothing in scratchnet uses it by default. On a
busy machine, ``OPENBLAS_NUM_THREADS=1`` gives the same protection and stays repeatable.

The thread count is set through ``threadpoolctl`` when it is installed; without it the BLAS
default stands. The setting is process-wide: it applies to every thread's BLAS calls. So a
thread that runs BLAS work while another thread may change the count (the window predicts while
its worker trains) does it inside ``using_blas()``, and every change of the count, here or through
``blas_thread_limit``, waits until no other thread is inside ``using_blas()``. A change is never
made under another thread's running prediction, and a prediction never starts in the middle of a
change.
"""

from __future__ import annotations

import collections
import functools
import math
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

SINGLE_THREAD_MAX_BATCH = 32
PROBE_UPDATES = 3  # timed updates per candidate thread count, per probe
REPROBE_SECONDS = 5.0
# One thread replaces the BLAS default only when its updates take < 0.8x as long: under
# contention the default loses by 5-20x, while on a quiet machine a noisy probe must not
# give away the second core (the default is 1.3-1.6x faster there from 64 rows on).
FAVOUR_DEFAULT = 0.8


def threads_for_batch(batch_size: int, small_products: bool = False, adaptive: bool = False) -> tuple[int, ...]:
    """The candidate thread counts for updates of ``batch_size`` rows (0 = the BLAS default): one
    count, unless ``adaptive`` (see the module's docstring).

    ``small_products``: the updates' matrix products are small whatever the batch (a Conv2D layer
    multiplies one sample at a time, (out, in·k·k) by (in·k·k, OH·OW)), so one thread, which also
    keeps the copies and element-wise work on one core: a LeNet epoch took 15 s with one thread
    and 26 s with the probe's choice on this shared 2-core machine."""
    if small_products or batch_size <= SINGLE_THREAD_MAX_BATCH:
        return (1,)
    return (0, 1) if adaptive else (0,)


class BlasThreads:
    """Context that sets the BLAS thread count for a run's updates (``threads_for_batch``); with
    ``adaptive``, it chooses between candidates at each epoch and every ``REPROBE_SECONDS``.

    Call ``start_epoch()`` at each epoch, and ``before_update()`` / ``after_update()`` around
    each update. On exit the original thread count is restored.
    """

    def __init__(self, batch_size: int, small_products: bool = False, adaptive: bool = False) -> None:
        self._blas = _blas_libraries()
        self._original = [lib.get_num_threads() for lib in self._blas]
        self.candidates = threads_for_batch(batch_size, small_products, adaptive) if self._blas else (0,)
        self._times: dict[int, list[float]] = {}
        self._probe = 0
        self._current = 0
        self._started = 0.0
        self._chosen_at = 0.0
        self.chosen: int | None = None

    def __enter__(self) -> BlasThreads:
        self.start_epoch()
        return self

    def __exit__(self, *exc) -> None:
        _GUARD.set_threads(self._blas, self._original)

    def start_epoch(self) -> None:
        self._times = {c: [] for c in self.candidates}
        self._probe = 0
        self.chosen = self.candidates[0] if len(self.candidates) == 1 else None
        if self.chosen is not None:
            self._use(self.chosen)

    def before_update(self) -> None:
        if self.chosen is None:
            self._use(self.candidates[self._probe % len(self.candidates)])
            self._started = time.perf_counter()

    def after_update(self) -> None:
        if self.chosen is not None:
            if len(self.candidates) > 1 and time.perf_counter() - self._chosen_at > REPROBE_SECONDS:
                self.start_epoch()
            return
        self._times[self._current].append(time.perf_counter() - self._started)
        self._probe += 1
        if self._probe == PROBE_UPDATES * len(self.candidates):
            median = {c: statistics.median(t) for c, t in self._times.items()}
            one_thread_wins = median.get(1, math.inf) < FAVOUR_DEFAULT * median.get(0, math.inf)
            self.chosen = 1 if one_thread_wins or 0 not in median else 0
            self._use(self.chosen)
            self._chosen_at = time.perf_counter()

    def _use(self, threads: int) -> None:
        _GUARD.set_threads(self._blas, [threads or n for n in self._original])
        self._current = threads


class _CountGuard:
    """A readers-writer lock around the process-wide BLAS thread count.

    Readers are threads inside ``using()`` (any number at once, and a thread may nest). A writer
    (``set_threads``) waits until no thread but itself is a reader, then changes the counts while
    it holds the lock, so no reader can start meanwhile. New readers wait while a writer is
    waiting, so that a stream of predictions cannot hold a change off for ever; a thread that is
    already a reader never waits for a writer (it would wait for itself).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers: collections.Counter[int] = collections.Counter()  # thread id -> depth
        self._writers_waiting = 0
        self.single = False  # every BLAS library was last set to 1 thread (see blas_single_threaded)

    @contextmanager
    def using(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._condition:
            if not self._readers[me]:
                self._condition.wait_for(lambda: self._writers_waiting == 0)
            self._readers[me] += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers[me] -= 1
                if not self._readers[me]:
                    del self._readers[me]
                self._condition.notify_all()

    def set_threads(self, libraries, counts) -> None:
        me = threading.get_ident()
        with self._condition:
            self._writers_waiting += 1
            try:
                self._condition.wait_for(lambda: not (self._readers.keys() - {me}))
                for kind in {type(lib) for lib in libraries}:
                    # threadpoolctl >= 3.8 lets only the first thread that set OpenBLAS's count set
                    # it again (the others are silently ignored) until that thread lets go; here
                    # this guard decides who may change it, so the thread changing it now takes over
                    let_go = getattr(kind, "clear_controlling_thread", None)
                    if let_go is not None:
                        let_go(force=True)
                for lib, n in zip(libraries, counts, strict=True):
                    lib.set_num_threads(n)
                self.single = bool(libraries) and all(n == 1 for n in counts)
            finally:
                self._writers_waiting -= 1
                self._condition.notify_all()


_GUARD = _CountGuard()


def using_blas():
    """Context for BLAS work (a prediction, say) that another thread's change of the thread count
    must not run under: changes wait until it ends. Cheap: take it around each piece of work."""
    return _GUARD.using()


def blas_single_threaded() -> bool:
    """True when the BLAS thread count was last set to 1 through this module (a training run of an
    image network, ``BlasThreads``). Then the image layers may run their products from two threads
    of their own (``Conv2D``'s ``workers``) without oversubscribing the cores; with the BLAS default
    (its own threads) they run them one at a time. Cheap: one attribute read."""
    return _GUARD.single


@contextmanager
def blas_thread_limit(threads: int) -> Iterator[None]:
    """Use at most ``threads`` BLAS threads inside the context (for every thread of the process:
    the count is process-wide), then restore the previous counts. Both changes wait for
    ``using_blas()`` sections of other threads to end. Nothing happens without threadpoolctl."""
    if threads < 1:
        raise ValueError(f"a BLAS thread limit must be at least 1, got {threads}")
    libraries = _blas_libraries()
    original = [lib.get_num_threads() for lib in libraries]
    _GUARD.set_threads(libraries, [min(threads, n) for n in original])
    try:
        yield
    finally:
        _GUARD.set_threads(libraries, original)


@functools.cache
def _blas_libraries() -> tuple:
    """threadpoolctl's controllers of the loaded BLAS libraries (found once: it scans them)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)
