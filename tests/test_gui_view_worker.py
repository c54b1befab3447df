"""The views compute off the GUI thread (issue 13, bug 3): test-set predictions and statistics run
in the view worker's thread, the GUI thread only draws, the newest model wins, and results for an
older model are dropped."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from gui_view_support import quick_model, show_model, wait_for_views
from PySide6.QtCore import QElapsedTimer, QTimer

import gui.views.predictions as predictions_module
import gui.views.weights as weights_module
from gui.views import ConfusionView, MisclassifiedView, ViewRefresher, WeightsView
from scratchnet.network import mlp


@pytest.fixture(scope="module")
def models(mnist):
    """Three models with different mistake counts."""
    return [quick_model(mnist, hidden=(16,), train_size=n, seed=k) for k, n in enumerate((300, 1000, 3000))]


def wrong_text(model, mnist) -> str:
    return f"{int(np.sum(model.predict(mnist.x_test) != mnist.y_test)):,} of 10,000 wrong"


def refresher_of(window) -> ViewRefresher:
    return window.findChild(ViewRefresher, "viewRefresher")


def record_threads(monkeypatch, module, name: str) -> list[int]:
    """Wrap ``module.name`` so that each call records the thread it ran in."""
    threads: list[int] = []
    original = getattr(module, name)

    def recording(*args, **kwargs):
        threads.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return threads


@pytest.mark.parametrize("view_class", [MisclassifiedView, ConfusionView])
def test_test_set_predictions_run_in_the_worker_and_the_view_shows_the_newest_model(
        window, monkeypatch, mnist, models, view_class):
    threads = record_threads(monkeypatch, predictions_module, "finite_probabilities")
    view = window.findChild(view_class)
    window.views.setCurrentWidget(view)
    computed = []
    refresher_of(window).computed.connect(lambda worker: computed.append(worker.thread_id))
    show_model(window, models[0])
    assert threads and computed and set(threads) == set(computed)
    assert threading.get_ident() not in threads  # never on the GUI thread
    if view_class is MisclassifiedView:
        assert view.count_label.text() == wrong_text(models[0], mnist)
    else:
        expected = np.bincount(10 * mnist.y_test + models[0].predict(mnist.x_test), minlength=100).reshape(10, 10)
        np.testing.assert_array_equal(view.matrix, expected)


def test_statistics_and_histograms_run_in_the_worker(window, monkeypatch, mnist):
    stats_threads = record_threads(monkeypatch, weights_module, "batch_stats")
    histogram_threads = record_threads(monkeypatch, weights_module.np, "histogram")
    view = window.findChild(WeightsView)
    window.views.setCurrentWidget(view)
    model = mlp(784, [32], 10, rng=np.random.default_rng(3))
    show_model(window, model)
    assert stats_threads and histogram_threads
    assert threading.get_ident() not in stats_threads + histogram_threads
    assert view.stats is not None and view.stats.samples == 1000
    assert len(view.weight_plot.plotItem.listDataItems()) == 2
    assert "layer 1 (784→32)" in view.histogram_legend.text()


def test_only_the_newest_model_is_computed_and_an_older_result_is_never_drawn(qtbot, window, monkeypatch,
                                                                                mnist, models):
    grid = window.findChild(MisclassifiedView)
    window.views.setCurrentWidget(grid)
    wait_for_views(window)  # the window's first context (no model yet) is done
    original = predictions_module.finite_probabilities

    def slow(model, x):  # the worker predicts on a copy: recognise the first model by its weights
        if np.array_equal(model.dense_layers[0].params["W"], models[0].dense_layers[0].params["W"]):
            time.sleep(0.5)
        return original(model, x)

    monkeypatch.setattr(predictions_module, "finite_probabilities", slow)
    refresher = refresher_of(window)
    computed, drawn = [], []
    refresher.computed.connect(lambda worker: computed.append(worker.context.model))
    refresher.drawn.connect(lambda view: drawn.append(refresher.context.model))

    window.controller.set_model(models[0], None)  # starts a slow computation
    qtbot.waitUntil(lambda: refresher._thread is not None)
    window.controller.set_model(models[1], None)  # superseded while the first one runs
    window.controller.set_model(models[2], None)  # the newest
    assert grid.count_label.text() != wrong_text(models[2], mnist)
    wait_for_views(window)
    assert computed == [models[0], models[2]]  # models[1] was never computed
    assert drawn == [models[2]]  # models[0]'s result came too late and was dropped
    assert grid.count_label.text() == wrong_text(models[2], mnist)


def test_the_gui_thread_keeps_ticking_while_the_worker_computes(qtbot, window, monkeypatch, models):
    original = predictions_module.finite_probabilities

    def slow(model, x):
        time.sleep(0.6)  # holds the worker, not the GUI thread (sleep releases the GIL like BLAS)
        return original(model, x)

    monkeypatch.setattr(predictions_module, "finite_probabilities", slow)
    window.views.setCurrentWidget(window.findChild(MisclassifiedView))
    wait_for_views(window)
    gaps, clock = [], QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: (gaps.append(clock.restart()), None))
    clock.start()
    timer.start()
    window.controller.set_model(models[1], None)
    wait_for_views(window)
    timer.stop()
    assert sum(gaps) >= 500 and len(gaps) >= 20
    assert max(gaps) < 200, max(gaps)


def test_a_computation_that_fails_is_reported_in_the_window(window, monkeypatch, models):
    def broken(model, x):
        raise MemoryError("no room for the predictions")

    monkeypatch.setattr(predictions_module, "finite_probabilities", broken)
    window.views.setCurrentWidget(window.findChild(ConfusionView))
    show_model(window, models[0])
    assert window.status.error_banner.isVisible()
    assert "Confusion matrix" in window.status.error_label.text()
    assert "no room for the predictions" in window.status.error_label.text()


def test_while_training_slow_computations_space_the_refreshes_out(qtbot, window, monkeypatch, mnist, models):
    from gui.main_window import MainWindow
    from gui.views import TRAINING_REFRESH_S, VIEW_WORK_SHARE

    original = predictions_module.finite_probabilities

    def slow(model, x):
        time.sleep(0.08)  # a computation of at least 0.08 s: refreshes at least 1.6 s apart
        return original(model, x)

    grid = window.findChild(MisclassifiedView)
    window.views.setCurrentWidget(grid)
    wait_for_views(window)
    monkeypatch.setattr(predictions_module, "finite_probabilities", slow)
    refresher = refresher_of(window)
    show_model(window, models[0])
    monkeypatch.setattr(MainWindow, "is_running", property(lambda self: True))
    refreshed_at = time.perf_counter()
    refresher.refresh()  # a refresh has just happened, and taken at least 0.08 s
    wait_for_views(window)
    interval = refresher.training_interval
    assert interval >= 0.08 / VIEW_WORK_SHARE > TRAINING_REFRESH_S
    window.controller.set_model(models[2], None)
    qtbot.wait(int(1000 * TRAINING_REFRESH_S) + 200)
    assert grid.count_label.text() != wrong_text(models[2], mnist)  # not after one second
    qtbot.waitUntil(lambda: grid.count_label.text() == wrong_text(models[2], mnist), timeout=5000)
    assert time.perf_counter() - refreshed_at >= interval


def test_closing_the_window_waits_for_the_computation_and_starts_no_other(qtbot, window, monkeypatch, models):
    original = predictions_module.finite_probabilities

    def slow(model, x):
        time.sleep(0.3)
        return original(model, x)

    window.views.setCurrentWidget(window.findChild(MisclassifiedView))
    wait_for_views(window)
    monkeypatch.setattr(predictions_module, "finite_probabilities", slow)
    refresher = refresher_of(window)
    window.controller.set_model(models[0], None)
    thread = refresher._thread
    assert thread is not None and thread.isRunning()
    window.controller.set_model(models[1], None)  # would be computed next
    window.close()
    assert not thread.isRunning()  # waited for, so the window's deletion cannot abort the process
    qtbot.wait(100)
    assert refresher._thread is None  # and nothing started after the close
