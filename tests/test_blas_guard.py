"""The process-wide BLAS thread count (scratchnet.threads) under two threads: a change never
happens while another thread is inside ``using_blas()``, the way the worker's limits and the
window's predictions meet. BLAS libraries are replaced by recorders, except in the last test."""

import threading
import time

import numpy as np
import pytest

from scratchnet import threads
from scratchnet.threads import BlasThreads, blas_thread_limit, using_blas

WAIT = 5.0  # seconds: a bound for events that should come at once


class FakeBlas:
    """A BLAS library's thread controller that records each change and whether a prediction of
    another thread was running at that moment."""

    def __init__(self, state, threads=2):
        self.state = state
        self.threads = threads
        self.changes = []

    def get_num_threads(self):
        return self.threads

    def set_num_threads(self, n):
        self.changes.append((n, self.state["predicting"]))
        time.sleep(0.0005)  # a change takes a moment: long enough for a race to show
        self.threads = n


@pytest.fixture
def fake(monkeypatch):
    state = {"predicting": 0}
    blas = FakeBlas(state)
    monkeypatch.setattr(threads, "_blas_libraries", lambda: (blas,))
    return blas


def start(target):
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_a_limit_waits_for_another_threads_prediction_to_end(fake):
    inside, release = threading.Event(), threading.Event()

    def predict():
        with using_blas():
            fake.state["predicting"] += 1
            inside.set()
            release.wait(WAIT)
            fake.state["predicting"] -= 1

    predictor = start(predict)
    assert inside.wait(WAIT)
    limited = threading.Event()

    def limit():
        with blas_thread_limit(1):
            limited.set()

    limiter = start(limit)
    time.sleep(0.2)
    assert fake.changes == [] and not limited.is_set()  # held off while the prediction runs
    release.set()
    assert limited.wait(WAIT)
    predictor.join(WAIT)
    limiter.join(WAIT)
    assert fake.changes == [(1, 0), (2, 0)]  # set to 1, then restored, never during the prediction


def test_probing_and_predicting_in_two_threads_never_overlap(fake):
    """The training side probes thread counts (BlasThreads) while the window side predicts."""
    stop = threading.Event()
    predictions = []
    x = np.random.default_rng(0).standard_normal((64, 64))

    def predict():
        while not stop.is_set():
            with using_blas():
                fake.state["predicting"] += 1
                predictions.append(float((x @ x).sum()))
                fake.state["predicting"] -= 1

    predictor = start(predict)
    rounds = 0
    deadline = time.monotonic() + WAIT  # on a loaded machine the predictor may start late: probe on
    with BlasThreads(batch_size=128, adaptive=True) as probe:
        while rounds < 40 or (len(predictions) <= 10 and time.monotonic() < deadline):
            probe.start_epoch()
            for _ in range(2 * threads.PROBE_UPDATES):
                probe.before_update()
                probe.after_update()
            rounds += 1
    stop.set()
    predictor.join(WAIT)
    assert len(fake.changes) >= 40 * 2 * threads.PROBE_UPDATES and len(predictions) > 10
    assert [running for _, running in fake.changes] == [0] * len(fake.changes)
    assert fake.threads == 2  # restored on exit


def test_a_waiting_change_holds_back_new_predictions_but_not_nested_ones(fake):
    inside, release, nested = threading.Event(), threading.Event(), threading.Event()

    def predict():
        with using_blas():
            inside.set()
            release.wait(WAIT)
            with using_blas():  # the same thread again: must not wait for the pending change
                nested.set()

    predictor = start(predict)
    assert inside.wait(WAIT)

    def limit():
        with blas_thread_limit(1):
            pass

    limiter = start(limit)
    time.sleep(0.1)  # the change now waits for the prediction
    newcomer_done = threading.Event()

    def newcomer():
        with using_blas():
            newcomer_done.set()

    start(newcomer)
    time.sleep(0.1)
    assert not newcomer_done.is_set()  # a new prediction waits for the pending change
    release.set()
    assert nested.wait(WAIT) and newcomer_done.wait(WAIT)
    predictor.join(WAIT)
    limiter.join(WAIT)
    assert fake.changes == [(1, 0), (2, 0)]


def test_a_thread_may_change_the_count_inside_its_own_section(fake):
    with using_blas(), blas_thread_limit(1):
        assert fake.threads == 1
    assert fake.changes == [(1, 0), (2, 0)]


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1, got 0"), blas_thread_limit(0):
        pass


def test_the_workers_limit_goes_through_the_guard(fake):
    from gui.worker import limit_blas_threads

    with limit_blas_threads("full"):
        assert fake.changes == []
    with limit_blas_threads("mini"):
        assert fake.threads == 1
    assert fake.changes == [(1, 0), (2, 0)]


@pytest.mark.skipif(not threads._blas_libraries(), reason="threadpoolctl found no BLAS library")
def test_real_blas_predictions_stay_exact_while_another_thread_changes_the_count():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((256, 256)), rng.standard_normal((256, 256))
    expected = a @ b
    original = [lib.get_num_threads() for lib in threads._blas_libraries()]
    stop, wrong, done = threading.Event(), [], []

    def predict():
        while not stop.is_set():
            with using_blas():
                wrong.append(not np.allclose(a @ b, expected, rtol=1e-12))
            done.append(1)

    predictor = start(predict)
    for _ in range(50):
        with blas_thread_limit(1):
            time.sleep(0.001)
    stop.set()
    predictor.join(WAIT)
    assert len(done) > 0 and not any(wrong)
    assert [lib.get_num_threads() for lib in threads._blas_libraries()] == original


def test_the_windows_predictions_run_inside_using_blas(qtbot, mnist, monkeypatch):
    """Each place where the GUI thread runs a model is inside ``using_blas()``: the test-set
    predictions, the drawing pad, and the weights view's statistics and activations."""
    from gui.views.drawing_pad import DrawingPad
    from gui.views.predictions import ModelContext, Predictions
    from gui.views.weights import WeightsView
    from scratchnet.layers import Dense
    from scratchnet.network import mlp
    from tests.gui_view_support import draw_stroke, seven_strokes

    model = mlp(784, [32], 10, rng=np.random.default_rng(0))
    guarded = []
    forward = Dense.forward

    def recording_forward(layer, x, training=False):
        guarded.append((len(x), threading.get_ident() in threads._GUARD._readers))
        return forward(layer, x, training)

    monkeypatch.setattr(Dense, "forward", recording_forward)
    Predictions.of(model, mnist.x_test[:100], mnist.y_test[:100])
    pad = DrawingPad()
    qtbot.addWidget(pad)
    pad.set_model(model)
    for stroke in seven_strokes():
        draw_stroke(pad.canvas, stroke)
    pad.update_prediction()
    view = WeightsView()
    qtbot.addWidget(view)
    view.show()
    view.set_context(ModelContext(model, mnist))
    view.set_drawn_digit(pad.digit)
    rows = {n for n, _ in guarded}
    assert {100, 1000, 1} <= rows  # test-set predictions, the view's statistics, one digit
    assert all(inside for _, inside in guarded)


@pytest.mark.skipif(not threads._blas_libraries(), reason="threadpoolctl found no BLAS library")
def test_a_limit_set_in_one_thread_after_another_thread_set_one_takes_effect():
    """threadpoolctl >= 3.8 ignores OpenBLAS changes from any thread but the first one that made
    one; the worker's limit must still apply after the GUI thread's own runs (the CLI, a headless
    benchmark) have changed the count."""
    libraries = threads._blas_libraries()
    original = [lib.get_num_threads() for lib in libraries]
    with blas_thread_limit(1):  # this thread changes the count first
        pass
    seen = []

    def worker():
        with blas_thread_limit(1):
            seen.append([lib.get_num_threads() for lib in libraries])
        with BlasThreads(batch_size=1):
            seen.append([lib.get_num_threads() for lib in libraries])

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(WAIT)
    assert seen == [[1] * len(libraries)] * 2
    with blas_thread_limit(1):  # and back in this thread
        assert [lib.get_num_threads() for lib in libraries] == [1] * len(libraries)
    assert [lib.get_num_threads() for lib in libraries] == original
