"""A convolutional model loaded from a file in the window: the views that read Dense weights as
pixels or trace a Dense network say why they do not apply, the others work unchanged, and Inside
the network shows its kernels and feature maps (tests/test_gui_feature_maps.py)."""

from __future__ import annotations

import numpy as np
from conv_reference import image_layer_outputs
from gui_view_support import draw_stroke, seven_strokes, wait_for_views
from PySide6.QtWidgets import QLabel

from gui.views import (
    BackpropView,
    ConfusionView,
    DrawingPad,
    EmbeddingView,
    MisclassifiedView,
    NetworkDiagram,
    NeuronLab,
    WeightsView,
)
from gui.views.backprop import CONV_NOTE
from gui.views.network_diagram import IMAGE_NETWORK_NOTE, MAPS_NOTE
from scratchnet.explain import feature_maps, pca_embedding
from scratchnet.run_config import RunConfig
from scratchnet.serialization import save_model
from scratchnet.training import evaluate


def bring_to_front(window, widget) -> None:
    window.views.setCurrentWidget(widget)
    wait_for_views(window)


def test_a_convolutional_model_loads_and_every_view_copes(qtbot, window, mnist, tmp_path):
    config = RunConfig(layers="conv3x3x4,relu,pool2,flatten,dense16,relu")
    model = config.build_model(784, 10)
    path = tmp_path / "conv.npz"
    save_model(model, path)
    window.files.open_model_from(str(path))
    assert window.current_model.is_image_network
    _, accuracy = evaluate(model, mnist.x_test, mnist.y_test)
    assert f"Test accuracy {100 * accuracy:.2f}%" in window.status_label.text()
    for index in range(window.views.count()):
        window.views.setCurrentIndex(index)
        wait_for_views(window)
    # the misclassified and confusion views read the convolutional model's own predictions
    predicted = model.predict(mnist.x_test)
    confusion = window.findChild(ConfusionView, "confusionView")
    bring_to_front(window, confusion)
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (mnist.y_test, predicted), 1)
    np.testing.assert_array_equal(confusion.matrix, expected)
    misclassified = window.findChild(MisclassifiedView, "misclassifiedView")
    bring_to_front(window, misclassified)
    assert set(misclassified.shown_indices().tolist()) == set(np.flatnonzero(predicted != mnist.y_test).tolist())
    weights = window.findChild(WeightsView, "weightsView")
    bring_to_front(window, weights)
    labels = " ".join(label.text() for label in weights.findChildren(QLabel))
    assert "Conv2D 3x3x4: 4 kernels of 1×3×3" in labels  # the kernels instead of 28×28 tiles
    pad = window.findChild(DrawingPad, "drawingPad")
    bring_to_front(window, pad)
    for stroke in seven_strokes():
        draw_stroke(pad.canvas, stroke)
    np.testing.assert_allclose(pad.bars.probabilities(), model.predict_proba(pad.digit[None])[0], rtol=1e-5)
    bring_to_front(window, weights)
    assert weights.source_combo.currentData() == "drawing"
    qtbot.waitUntil(lambda: len(weights.feature_maps.maps()) == 3, timeout=10_000)  # conv, relu, pool
    assert weights.activation_note.text() == ""  # the rows' titles say what each is
    assert weights.activation_values() == []  # no bars: the maps show instead
    backprop = window.findChild(BackpropView, "backpropView")
    bring_to_front(window, backprop)
    # the Backprop tab: δ maps per channel for the chosen label instead of the Dense pages
    qtbot.waitUntil(lambda: len(backprop.conv_maps.maps()) == 3, timeout=10_000)
    assert backprop.note.text() == CONV_NOTE and backprop.pages.isHidden() and not backprop.conv_maps.isHidden()
    index = backprop.index_spin.value()
    expected = feature_maps(model, mnist.x_test[index], int(mnist.y_test[index]))
    for got, want in zip(backprop.conv_maps.maps(), expected, strict=True):
        np.testing.assert_allclose(got.gradient, want.gradient, rtol=1e-12, atol=1e-15)
    assert backprop.conv_maps.rows[0].title.text().startswith(f"δ of Conv2D 3x3x4 for class {mnist.y_test[index]}")
    with qtbot.waitSignal(backprop.conv_maps.drawn, timeout=10_000):
        backprop.show_test_digit(index + 1)
    assert backprop.conv_maps.maps()[0].label == int(mnist.y_test[index + 1])
    assert not window.error_label.isVisible()
    diagram = window.findChild(NetworkDiagram, "networkDiagram")
    lab = window.findChild(NeuronLab, "neuronLab")
    embedding = window.findChild(EmbeddingView, "embeddingView")
    for view in (diagram, lab, embedding):
        bring_to_front(window, view)
    # the diagram: one column of feature-map tiles per image layer for its digit (test image #0)
    assert diagram.note.text() == MAPS_NOTE and not diagram.columns
    expected = image_layer_outputs(model, mnist.x_test[diagram.test_spin.value()])
    assert [(m.layer, m.name) for m in diagram.map_columns] == [(1, "Conv2D 3x3x4"), (2, "ReLU"), (3, "MaxPool2D 2")]
    for got, (_, want) in zip(diagram.map_columns, expected, strict=True):
        np.testing.assert_allclose(got.values, want, rtol=1e-12, atol=1e-12)
    tiles = [item for item in diagram.canvas.scene().items() if item.toolTip().startswith("Conv2D 3x3x4, channel")]
    assert len(tiles) == 4 and tiles[0].pixmap().width() == 26 + 2  # 26×26 maps at their own size, framed
    assert lab.unit_label.text() == IMAGE_NETWORK_NOTE and lab.accuracy_label.text() == IMAGE_NETWORK_NOTE
    # the hidden-layer map: the Dense layers after flatten (layers 5 and 6 of Reshape, Conv2D, ReLU,
    # MaxPool2D, Flatten, Dense 16, ReLU, Dense 10), the last hidden one first
    assert [embedding.layer_combo.itemData(i) for i in range(embedding.layer_combo.count())] == [6, 7]
    qtbot.waitUntil(lambda: embedding.map is not None and embedding.map.knn is not None, timeout=30_000)
    np.testing.assert_allclose(embedding.map.points, pca_embedding(model, mnist.x_test[:2000], 6), rtol=1e-6,
                               atol=1e-6)
    assert "nearest-neighbour accuracy" in embedding.knn_label.text()
    assert not window.error_label.isVisible()
