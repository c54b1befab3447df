"""Issue 15 through its widgets: the network diagram, the neuron lab (edits, pruning, Keep) and
the hidden-layer map, each number checked against a plain NumPy computation written here."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gui_view_support import quick_model, show_model, wait_for_views
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWidget

from scratchnet.network import mlp

NAMES = ("networkDiagram", "neuronLab", "embeddingView", "pruneSlider", "linkSlider", "unitOffCheck",
         "unitScaleSlider", "biasShiftSpin", "resetUnitButton", "resetAllButton", "keepEditsButton",
         "pruneCurveButton", "embeddingLayerCombo", "knnLabel")


@pytest.fixture(scope="module")
def model(mnist):
    return quick_model(mnist, hidden=(32, 20), train_size=3000)


def plain(model, x, weights=None):
    """Hidden activations (ReLU) of each hidden layer and the logits, from the weights alone."""
    weights = weights or [(d.params["W"].astype(np.float64), d.params["b"].astype(np.float64))
                          for d in model.dense_layers]
    hidden, value = [], np.asarray(x, np.float64)
    for k, (w, b) in enumerate(weights):
        value = value @ w + b
        if k < len(weights) - 1:
            value = np.maximum(value, 0)
            hidden.append(value)
    return hidden, value


def weights_of(model):
    return [(d.params["W"].astype(np.float64).copy(), d.params["b"].astype(np.float64).copy())
            for d in model.dense_layers]


def accuracy(model, mnist, weights):
    _, logits = plain(model, mnist.x_test, weights)
    return np.mean(np.argmax(logits, axis=1) == mnist.y_test)


def find(window, name):
    return window.findChild(QWidget, name)


def idle(qtbot, view):
    qtbot.waitUntil(lambda: not any(job.busy for job in view.jobs), timeout=30_000)


def click_item(qtbot, diagram, item):
    canvas = diagram.canvas
    point = canvas.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(canvas.viewport(), Qt.LeftButton, pos=point)


def test_the_views_exist_from_the_start(window):
    for name in NAMES:
        assert find(window, name) is not None, name


def test_diagram_shows_the_most_active_units_and_their_strongest_links(window, qtbot, mnist, model):
    diagram = find(window, "networkDiagram")
    window.views.setCurrentWidget(diagram)
    show_model(window, model)
    diagram.test_spin.setValue(7)
    hidden, logits = plain(model, mnist.x_test[7:8])
    first = diagram.columns[0]
    assert list(first.shown) == list(np.argsort(-hidden[0][0], kind="stable")[:16])
    np.testing.assert_allclose(first.values, hidden[0][0], rtol=1e-4, atol=1e-5)
    probs = np.exp(logits[0] - logits[0].max())
    np.testing.assert_allclose(diagram.columns[-1].values, probs / probs.sum(), rtol=1e-4, atol=1e-6)
    assert len(diagram.unit_items) == 16 + 16 + 10
    assert first.hidden == 32 - 16 and diagram.columns[1].hidden == 20 - 16

    qtbot.mouseClick(diagram.link_slider, Qt.LeftButton, pos=QPoint(diagram.link_slider.width() - 3, 5))
    per_unit = diagram.link_slider.value()
    assert per_unit > 3
    w2 = model.dense_layers[1].params["W"]
    links = diagram.links[1]
    for j, unit in enumerate(diagram.columns[1].shown):
        column = w2[first.shown, unit]
        expected = np.sort(np.abs(column))[::-1][:per_unit]
        np.testing.assert_allclose(np.sort(np.abs(links.weights[:, j]))[::-1], expected)

    click_item(qtbot, diagram, diagram.more_items[0])  # "+16 more": the next page of layer 1
    assert list(diagram.columns[0].shown) == list(np.argsort(-hidden[0][0], kind="stable")[16:32])

    lab = find(window, "neuronLab")
    layer, unit = diagram.columns[0].layer, int(diagram.columns[0].shown[2])
    click_item(qtbot, diagram, diagram.unit_items[(layer, unit)])
    assert window.views.currentWidget() is lab
    assert lab.unit == (layer, unit)


def test_diagram_of_softmax_regression_and_sigmoid_shading(window, mnist):
    diagram = find(window, "networkDiagram")
    window.views.setCurrentWidget(diagram)
    show_model(window, mlp(784, [], 10, rng=np.random.default_rng(0)))
    assert len(diagram.columns) == 1 and len(diagram.links) == 1 and diagram.links[0].rows.shape[1] == 10
    show_model(window, mlp(784, [24], 10, activation="sigmoid", rng=np.random.default_rng(0)))
    assert diagram.columns[0].span == (0.0, 1.0)


def test_neuron_lab_edits_measure_the_edited_copy(window, qtbot, mnist, model):
    lab = find(window, "neuronLab")
    window.views.setCurrentWidget(lab)
    show_model(window, model)
    lab.set_unit(1, 5)  # unit 5 of hidden 1 (the ReLU at position 1)
    idle(qtbot, lab)
    base = weights_of(model)
    assert lab.base_accuracy == pytest.approx(accuracy(model, mnist, base))
    hidden, _ = plain(model, mnist.x_test)
    assert list(lab.unit_info.top) == list(np.argsort(-hidden[0][:, 5], kind="stable")[:9])
    assert lab.unit_info.zeros == np.count_nonzero(hidden[0][:, 5] == 0)

    qtbot.mouseClick(lab.off_check, Qt.LeftButton, pos=QPoint(5, lab.off_check.height() // 2))
    idle(qtbot, lab)
    off = weights_of(model)
    off[1][0][5] = 0.0  # unit 5 reaches layer 2 with weight 0
    assert lab.evaluation.accuracy == pytest.approx(accuracy(model, mnist, off))
    assert f"{100 * accuracy(model, mnist, off):.2f}%" in lab.accuracy_label.text()
    _, logits = plain(model, mnist.x_test[:1], off)
    expected = np.exp(logits[0] - logits[0].max())
    np.testing.assert_allclose(lab.evaluation.probabilities, expected / expected.sum(), rtol=1e-4, atol=1e-6)
    assert threading.get_ident() not in lab.jobs[0].thread_ids

    lab.off_check.click()
    lab.scale_slider.setValue(150)
    lab.bias_spin.setValue(-0.5)
    idle(qtbot, lab)
    scaled = weights_of(model)
    scaled[1][0][5] *= 1.5
    scaled[0][1][5] -= 0.5
    assert lab.evaluation.accuracy == pytest.approx(accuracy(model, mnist, scaled))

    qtbot.mouseClick(lab.reset_unit_button, Qt.LeftButton)
    idle(qtbot, lab)
    assert lab.edits == {} and lab.scale_slider.value() == 100 and lab.evaluation.accuracy == lab.base_accuracy

    lab.prune_slider.setValue(40)
    idle(qtbot, lab)
    pruned = weights_of(model)
    for w, _ in pruned:
        w[np.abs(w) <= np.sort(np.abs(w).ravel())[round(0.4 * w.size) - 1]] = 0.0
    assert lab.evaluation.accuracy == pytest.approx(accuracy(model, mnist, pruned), abs=2e-4)

    qtbot.mouseClick(lab.curve_button, Qt.LeftButton)
    idle(qtbot, lab)
    fractions = [f for f, _ in lab.prune_points]
    assert fractions == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    assert lab.prune_points[0][1] == pytest.approx(accuracy(model, mnist, base))
    assert lab.prune_points[4][1] == pytest.approx(accuracy(model, mnist, pruned), abs=2e-4)
    assert len(lab.prune_curve.plotItem.listDataItems()) == 1

    qtbot.mouseClick(lab.reset_all_button, Qt.LeftButton)
    idle(qtbot, lab)
    assert lab.prune_slider.value() == 0 and lab.evaluation.accuracy == lab.base_accuracy


def test_keep_makes_the_edited_copy_the_current_model_and_is_refused_while_training(window, qtbot, mnist, model):
    from gui_view_support import configure

    lab = find(window, "neuronLab")
    window.views.setCurrentWidget(lab)
    show_model(window, model)
    lab.set_unit(3, 2)
    lab.off_check.click()
    idle(qtbot, lab)
    qtbot.mouseClick(lab.keep_button, Qt.LeftButton)
    kept = window.current_model
    assert kept is not model
    np.testing.assert_array_equal(kept.dense_layers[2].params["W"][2], 0.0)
    np.testing.assert_array_equal(kept.dense_layers[1].params["W"], model.dense_layers[1].params["W"])
    assert "Kept" in lab.note.text()
    wait_for_views(window)

    configure(window, train_size=20_000, epochs=3)
    with qtbot.waitSignal(window.controller.run_started, timeout=10_000):
        window.start_training()
    lab.set_unit(1, 0)
    lab.off_check.click()
    idle(qtbot, lab)
    current = window.current_model
    qtbot.mouseClick(lab.keep_button, Qt.LeftButton)
    assert "refused while a run trains" in lab.note.text()
    assert window.current_model is current
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        window.stop_training()


def map_done(view) -> bool:
    """The map's points and their k-NN accuracy are in, and its jobs idle."""
    return view.map is not None and view.map.knn is not None and not any(job.busy for job in view.jobs)


def test_hidden_layer_map_is_the_pca_of_the_chosen_layer(window, qtbot, mnist, model):
    view = find(window, "embeddingView")
    window.views.setCurrentWidget(view)
    show_model(window, model)
    qtbot.waitUntil(lambda: map_done(view), timeout=30_000)
    hidden, _ = plain(model, mnist.x_test[:2000])
    assert view.map.layer == 3  # the last hidden layer first
    centred = hidden[1] - hidden[1].mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    for k in range(2):
        expected = u[:, k] * s[k]
        sign = np.sign(view.map.points[:, k] @ expected)
        np.testing.assert_allclose(view.map.points[:, k], sign * expected, rtol=1e-3, atol=1e-3)
    assert f"{100 * view.map.knn:.1f}%" in view.knn_label.text()
    assert 0.3 < view.map.knn <= 1.0
    assert view.job.thread_ids and threading.get_ident() not in view.job.thread_ids

    view.layer_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: map_done(view) and view.map.layer == 1, timeout=30_000)
    assert view.scatter.data.shape[0] == 2000

    diagram = find(window, "networkDiagram")
    view.open_digit(42)
    assert view.detail.isVisible() and "#42" in view.detail.windowTitle()
    assert diagram.test_spin.value() == 42
    view.detail.close()


def test_hovering_and_clicking_a_dot_of_the_map(window, qtbot, mnist, model):
    from PySide6.QtCore import QPointF

    view = find(window, "embeddingView")
    window.views.setCurrentWidget(view)
    show_model(window, model)
    qtbot.waitUntil(lambda: map_done(view), timeout=30_000)
    qtbot.wait(100)
    point = view.plot.mapFromScene(view.plot.plotItem.vb.mapViewToScene(QPointF(*view.map.points[42])))
    qtbot.mouseMove(view.plot.viewport(), point)
    qtbot.waitUntil(lambda: "Test image #" in view.hover_label.text(), timeout=5_000)
    with qtbot.waitSignal(view.digit_selected, timeout=5_000) as clicked:
        qtbot.mouseClick(view.plot.viewport(), Qt.LeftButton, pos=point)
    index = clicked.args[0]
    assert np.linalg.norm(view.map.points[index] - view.map.points[42]) < 0.05 * np.ptp(view.map.points[:, 0])
    assert view.detail.isVisible() and f"#{index}" in view.detail.windowTitle()
    assert find(window, "networkDiagram").test_spin.value() == index
    view.detail.close()


def test_the_lab_follows_the_diagrams_digit_test_or_drawn(window, qtbot, mnist, model):
    from gui.views.network_diagram import SOURCE_DRAWING

    diagram, lab = find(window, "networkDiagram"), find(window, "neuronLab")
    window.views.setCurrentWidget(diagram)
    show_model(window, model)
    diagram.test_spin.setValue(9)
    lab.set_unit(1, 4)
    window.views.setCurrentWidget(lab)
    wait_for_views(window)
    idle(qtbot, lab)
    w1, b1 = model.dense_layers[0].params["W"].astype(np.float64), model.dense_layers[0].params["b"]
    for digit in (mnist.x_test[9], mnist.x_test[11]):
        _, logits = plain(model, digit[None, :])
        expected = np.exp(logits[0] - logits[0].max())
        np.testing.assert_allclose(lab.evaluation.probabilities, expected / expected.sum(), rtol=1e-4, atol=1e-6)
        z = float(digit.astype(np.float64) @ w1[:, 4] + b1[4])
        assert f"<b>{z:.4g}</b>" in lab.equation.text()
        window.views.setCurrentWidget(diagram)
        diagram.source_combo.setCurrentIndex(diagram.source_combo.findData(SOURCE_DRAWING))
        diagram.set_drawn_digit(mnist.x_test[11])  # what the drawing pad sends
        window.views.setCurrentWidget(lab)
        idle(qtbot, lab)
