"""DatasetCache under threads: a slow load never holds up the window (``cached``) or a load of
another data set; threads asking for the same data set share one load."""

import threading
import time

import pytest

from gui.datasets import DatasetCache
from scratchnet.errors import DatasetError

WAIT = 5.0  # seconds: a bound for events that should come at once


class SlowLoader:
    """Loads "slow" only once ``release`` is set; any other name at once. Counts its calls."""

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()
        self.calls = []
        self.fail_next = False

    def __call__(self, name):
        self.calls.append(name)
        if name == "slow":
            self.started.set()
            assert self.release.wait(WAIT)
            if self.fail_next:
                self.fail_next = False
                raise DatasetError("slow: the download broke off")
        return f"data set {name}"


def in_thread(cache, name):
    """Start ``cache.get(name)`` in a thread; returns (thread, results list, errors list)."""
    results, errors = [], []

    def run():
        try:
            results.append(cache.get(name))
        except DatasetError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, results, errors


def test_a_slow_load_blocks_neither_cache_checks_nor_other_data_sets():
    loader = SlowLoader()
    cache = DatasetCache(loader)
    slow, results, _ = in_thread(cache, "slow")
    assert loader.started.wait(WAIT)
    began = time.perf_counter()
    assert cache.cached("slow") is None  # the GUI thread's check: answers during the load
    assert cache.get("fast") == "data set fast"
    assert cache.cached("fast") == "data set fast"
    assert time.perf_counter() - began < 1.0 and slow.is_alive()
    loader.release.set()
    slow.join(WAIT)
    assert results == ["data set slow"] and cache.cached("slow") == "data set slow"


def test_threads_asking_for_a_loading_data_set_share_its_one_load():
    loader = SlowLoader()
    cache = DatasetCache(loader)
    first, first_results, _ = in_thread(cache, "slow")
    assert loader.started.wait(WAIT)
    second, second_results, _ = in_thread(cache, "slow")
    time.sleep(0.1)
    assert second.is_alive()  # waits for the first thread's load, without loading again
    loader.release.set()
    first.join(WAIT)
    second.join(WAIT)
    assert first_results == second_results == ["data set slow"]
    assert loader.calls == ["slow"]
    assert cache.get("slow") == "data set slow" and loader.calls == ["slow"]


def test_a_failed_load_reaches_every_waiter_and_the_next_get_tries_again():
    loader = SlowLoader()
    loader.fail_next = True
    cache = DatasetCache(loader)
    first, _, first_errors = in_thread(cache, "slow")
    assert loader.started.wait(WAIT)
    second, _, second_errors = in_thread(cache, "slow")
    time.sleep(0.1)
    loader.release.set()
    first.join(WAIT)
    second.join(WAIT)
    assert [str(e) for e in first_errors + second_errors] == ["slow: the download broke off"] * 2
    assert cache.cached("slow") is None
    assert cache.get("slow") == "data set slow" and loader.calls == ["slow", "slow"]


def test_a_load_error_in_the_calling_thread_propagates():
    def broken(name):
        raise DatasetError(f"{name}: not available")

    with pytest.raises(DatasetError, match="emnist: not available"):
        DatasetCache(broken).get("emnist")
