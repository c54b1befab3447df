"""Fast first visits of the time slider (issue 16): one chunked test-set forward shared by the
views, stale computations cancelled when a newer context is wanted, and the Hidden-layer map's
points drawn before their k-NN accuracy."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gui_view_support import quick_model, show_model, wait_for_views

import gui.views.predictions as predictions_module
from gui.views import ContextWorker, EmbeddingView, MisclassifiedView, ViewRefresher
from gui.views.neuron_lab import lab_cache
from gui.views.predictions import ModelContext, layer_outputs, predictions_on_test_set
from scratchnet.explain import EditedAccuracy, knn_accuracy, pca_embedding
from scratchnet.losses import softmax


@pytest.fixture(scope="module")
def models(mnist):
    return [quick_model(mnist, hidden=(32, 16), train_size=n, seed=k) for k, n in enumerate((300, 1000))]


def test_layer_outputs_are_every_layers_output_across_chunks(mnist, models):
    model, x = models[0], mnist.x_test[:2 * predictions_module.PREDICT_ROWS + 345]  # three calls
    outputs = layer_outputs(model.copy(), x)
    value = x
    assert len(outputs) == len(model.layers) == 5  # Dense, ReLU, Dense, ReLU, Dense
    for layer, output in zip(model.copy().layers, outputs, strict=True):
        value = np.array(layer.forward(value, training=False))
        assert output.dtype == np.float32 and output.shape == value.shape
        np.testing.assert_allclose(output, value, rtol=1e-5, atol=1e-5)
    logits_only = layer_outputs(model.copy(), x, keep=False)
    assert len(logits_only) == 1
    np.testing.assert_allclose(logits_only[0], model.forward(x), rtol=1e-5, atol=1e-5)


def test_the_neuron_labs_cache_gives_the_test_set_predictions_of_the_same_forward(mnist, models):
    model = models[1]
    context = ModelContext(model, mnist)
    lab = context.computed(lab_cache)
    assert context.has(predictions_on_test_set)  # given by the lab's forward, not computed again
    predictions = context.predictions
    expected = model.predict_proba(mnist.x_test)
    np.testing.assert_allclose(predictions.probabilities, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(predictions.predicted, np.argmax(expected, axis=1))
    assert 100 < int(np.sum(predictions.predicted != mnist.y_test)) < 5000
    # the lab's own numbers are those of an EditedAccuracy that computes its outputs itself
    reference = EditedAccuracy(model, mnist.x_test, mnist.y_test)
    for mine, theirs in zip(lab.inputs, reference.inputs, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)
    assert lab.accuracy(model) == pytest.approx(reference.accuracy(model))
    np.testing.assert_allclose(softmax(lab.logits), expected, rtol=1e-4, atol=1e-6)


def test_a_cancelled_worker_stops_at_its_next_check_and_keeps_nothing_half_done(mnist, models):
    context = ModelContext(models[0], mnist)
    worker = ContextWorker(context, [predictions_on_test_set])
    worker.cancel()
    worker.run()
    assert worker.cancelled and worker.error is None
    assert not context.has(predictions_on_test_set)
    worker = ContextWorker(context, [predictions_on_test_set])  # not cancelled: computes
    worker.run()
    assert not worker.cancelled and context.has(predictions_on_test_set)


def test_a_new_model_cancels_the_computation_prepared_ahead(qtbot, window, monkeypatch, mnist, models):
    grid = window.findChild(MisclassifiedView)
    window.views.setCurrentWidget(grid)
    wait_for_views(window)
    refresher = window.findChild(ViewRefresher, "viewRefresher")
    other = models[1].copy()
    other.dense_layers[0].params["W"][0, 0] += 1.0  # a checkpoint the slider may move to
    ahead = ModelContext(other, mnist)
    started, release = threading.Event(), threading.Event()
    original = predictions_module.layer_outputs

    def gated(model, x, keep=True):
        if np.array_equal(model.dense_layers[0].params["W"], other.dense_layers[0].params["W"]):
            started.set()
            release.wait(10)  # holds the prefetch until the new model was asked for
        return original(model, x, keep)

    monkeypatch.setattr(predictions_module, "layer_outputs", gated)
    workers = []
    refresher.computed.connect(workers.append)
    refresher.prefetch = lambda: [ahead]
    show_model(window, models[0])  # drawn, then idle: the prefetch of `ahead` starts
    qtbot.waitUntil(started.is_set, timeout=5_000)
    assert refresher.busy and not refresher.pending
    refresher.prefetch = None
    window.controller.set_model(models[1], None)  # the slider moves on: the prefetch is cancelled
    release.set()
    wait_for_views(window)
    prefetched = [w for w in workers if w.context is ahead]
    assert len(prefetched) == 1 and prefetched[0].cancelled and prefetched[0].error is None
    assert not ahead.has(predictions_on_test_set)
    assert id(ahead) not in refresher._prefetch_failed  # cancelled is not failed: prepared again later
    wrong = int(np.sum(models[1].predict(mnist.x_test) != mnist.y_test))
    assert grid.count_label.text() == f"{wrong:,} of 10,000 wrong"


def test_the_map_draws_its_points_before_their_knn_accuracy(qtbot, window, mnist, models):
    view = window.findChild(EmbeddingView)
    window.views.setCurrentWidget(view)
    events = []
    view.points_drawn.connect(lambda: events.append(("points", view.map.knn)))
    view.mapped.connect(lambda: events.append(("knn", view.map.knn)))
    show_model(window, models[1])
    qtbot.waitUntil(lambda: view.map is not None and view.map.knn is not None
                    and not any(job.busy for job in view.jobs), timeout=30_000)
    assert events[0] == ("points", None) and events[-1][0] == "knn"
    layer = view.map.layer
    expected = pca_embedding(models[1], mnist.x_test[:2000], layer)
    assert view.map.knn == pytest.approx(knn_accuracy(expected, mnist.y_test[:2000], 5), abs=0.01)
    assert f"{100 * view.map.knn:.1f}%" in view.knn_label.text()
