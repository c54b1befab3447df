"""How many BLAS threads the updates of a training epoch use.

Small products (one sample, or a batch of up to 32 rows) finish before a second BLAS thread has
woken up, so one thread is faster. From 64 rows on, two threads win on an idle machine, but when
another process holds a core, a second BLAS thread that waits for it makes each update 5-20x
slower. So for large batches, ``BlasThreads`` times a few updates alternately with one thread and
with the BLAS default, keeps the faster, and probes again every ``REPROBE_SECONDS`` (and at each
epoch) because the other processes come and go. This
changes only the speed: the maths is the same with any thread count.

The thread count is set through ``threadpoolctl`` when it is installed (the ``bench`` extra);
without it the BLAS default stands. The setting is process-wide while ``BlasThreads`` is open.
"""

from __future__ import annotations

import functools
import math
import statistics
import time

SINGLE_THREAD_MAX_BATCH = 32
PROBE_UPDATES = 3  # timed updates per candidate thread count, per probe
REPROBE_SECONDS = 5.0
# One thread replaces the BLAS default only when its updates take < 0.8x as long: under
# contention the default loses by 5-20x, while on a quiet machine a noisy probe must not
# give away the second core (the default is 1.3-1.6x faster there from 64 rows on).
FAVOUR_DEFAULT = 0.8


def threads_for_batch(batch_size: int) -> tuple[int, ...]:
    """The candidate thread counts for updates of ``batch_size`` rows (0 = the BLAS default)."""
    return (1,) if batch_size <= SINGLE_THREAD_MAX_BATCH else (0, 1)


class BlasThreads:
    """Context that chooses the BLAS thread count, at each epoch and every ``REPROBE_SECONDS``.

    Call ``start_epoch()`` at each epoch, and ``before_update()`` / ``after_update()`` around
    each update. On exit the original thread count is restored.
    """

    def __init__(self, batch_size: int) -> None:
        self._blas = _blas_libraries()
        self._original = [lib.get_num_threads() for lib in self._blas]
        self.candidates = threads_for_batch(batch_size) if self._blas else (0,)
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
        for lib, n in zip(self._blas, self._original, strict=True):
            lib.set_num_threads(n)

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
        for lib, n in zip(self._blas, self._original, strict=True):
            lib.set_num_threads(threads or n)
        self._current = threads


@functools.cache
def _blas_libraries() -> tuple:
    """threadpoolctl's controllers of the loaded BLAS libraries (found once: it scans them)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)
