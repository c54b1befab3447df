"""Inside the network with a convolutional model (issue 18): the first convolution's kernels, and
the feature maps of every image layer for the chosen test digit or the drawing pad's digit,
computed in a worker thread, equal to a plain-loop float64 computation."""

from __future__ import annotations

import threading

import numpy as np
from conv_reference import image_layer_outputs
from gui_view_support import draw_stroke, seven_strokes, show_model, wait_for_views

from gui.views import DrawingPad, WeightsView
from gui.views.feature_maps import FeatureMapsView, KernelView, enlarged_side
from scratchnet.explain import feature_maps
from scratchnet.run_config import RunConfig

LAYERS = "conv5x5x4,relu,pool2,conv3x3x6p1,tanh,pool2,flatten,dense16,relu"


def conv_model():
    model = RunConfig(layers=LAYERS, seed=2).build_model(784, 10)
    rng = np.random.default_rng(5)
    for layer in model.layers:  # biases that are not zero, so that the test sees them added
        if "b" in layer.params:
            layer.params["b"][:] = rng.normal(0, 0.1, layer.params["b"].shape)
    return model


def assert_maps_match(view: FeatureMapsView, model, pixels) -> None:
    expected = image_layer_outputs(model, pixels)
    shown = view.maps()
    assert [m.layer for m in shown] == [i for i, _ in expected] == [1, 2, 3, 4, 5, 6]
    for got, (_, want) in zip(shown, expected, strict=True):
        np.testing.assert_allclose(got.values, want, rtol=1e-12, atol=1e-12)


def test_the_named_widgets_exist_from_the_start(window):
    assert isinstance(window.findChild(FeatureMapsView, "featureMapsView"), FeatureMapsView)
    assert isinstance(window.findChild(KernelView, "convKernels"), KernelView)


def test_feature_maps_of_a_test_digit_equal_a_float64_computation(qtbot, window, mnist):
    weights = window.findChild(WeightsView, "weightsView")
    window.views.setCurrentWidget(weights)
    model = conv_model()
    show_model(window, model)
    view = weights.feature_maps
    with qtbot.waitSignal(view.drawn, timeout=10_000):
        weights.select_test_digit(7)
    assert not view.isHidden() and weights.activations_widget.isHidden()  # (compact: another section may show)
    assert_maps_match(view, model, mnist.x_test[7])
    assert view.job.thread_ids[-1] != threading.get_ident()  # computed off the GUI thread
    # one row per layer: its title, and its maps enlarged pixel for pixel
    titles = [row.title.text() for row in view.rows]
    assert titles[0].startswith("Conv2D 5x5x4: 4 × 24×24") and titles[2].startswith("MaxPool2D 2: 4 × 12×12")
    assert titles[3].startswith("Conv2D 3x3x6 pad 1: 6 × 12×12") and titles[4].startswith("Tanh: 6 × 12×12")
    mosaic = view.rows[0].mosaic
    zoom = enlarged_side(24)
    assert zoom == 2 and mosaic.shape[0] % (24 * zoom + 1) == 1  # whole rows of 48-pixel maps and gaps
    # the kernels: 4 tiles of 5×5 enlarged to 40 pixels, in one row
    assert not weights.kernels.isHidden() and weights.kernels.mosaic.shape[:2] == (42, 4 * 41 + 1)
    assert weights.tiles_label.text().startswith("Conv2D 5x5x4: 4 kernels of 1×5×5")
    # δ maps: the test label's loss, differentiated by the model's own backward (checked against
    # central differences in test_explain_conv.py)
    values_mosaic = view.rows[0].mosaic.copy()
    combo = weights.map_kind_combo
    assert not combo.isHidden()
    combo.setCurrentIndex(combo.findData("gradient"))
    label = int(mnist.y_test[7])
    expected = feature_maps(model, mnist.x_test[7], label)
    assert [m.label for m in view.maps()] == [label] * 6
    for got, want in zip(view.maps(), expected, strict=True):
        np.testing.assert_allclose(got.gradient, want.gradient, rtol=1e-12, atol=1e-15)
    assert view.rows[0].title.text().startswith(f"δ of Conv2D 5x5x4 for class {label}: 4 × 24×24")
    assert not np.array_equal(view.rows[0].mosaic, values_mosaic)
    combo.setCurrentIndex(combo.findData("values"))
    np.testing.assert_array_equal(view.rows[0].mosaic, values_mosaic)
    with qtbot.waitSignal(view.drawn, timeout=10_000):
        weights.test_spin.setValue(8)
    assert_maps_match(view, model, mnist.x_test[8])
    assert view.maps()[0].label == int(mnist.y_test[8])


def test_feature_maps_follow_the_drawing_pad(qtbot, window):
    model = conv_model()
    show_model(window, model)
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    for stroke in seven_strokes():
        draw_stroke(pad.canvas, stroke)
    weights = window.findChild(WeightsView, "weightsView")
    view = weights.feature_maps
    with qtbot.waitSignal(view.drawn, timeout=10_000):
        window.views.setCurrentWidget(weights)
        wait_for_views(window)
    assert weights.source_combo.currentData() == "drawing"
    assert pad.digit is not None and pad.digit.sum() > 0
    assert_maps_match(view, model, pad.digit)
    predicted = int(np.argmax(model.predict_proba(pad.digit[None])[0]))
    assert view.maps()[0].label == predicted  # a drawing has no label: δ is for the predicted class


def test_a_dense_model_shows_its_tiles_and_bars_again(qtbot, window, mnist):
    weights = window.findChild(WeightsView, "weightsView")
    window.views.setCurrentWidget(weights)
    show_model(window, conv_model())
    assert not weights.kernels.isHidden() and weights.tiles.isHidden()
    show_model(window, RunConfig().build_model(784, 10))
    assert not weights.tiles.isHidden() and weights.kernels.isHidden()
    assert weights.feature_maps.isHidden() and not weights.activations_widget.isHidden()
    assert weights.map_kind_combo.isHidden()


def test_a_stack_without_convolution_or_with_broken_weights_is_explained(qtbot, window, mnist):
    weights = window.findChild(WeightsView, "weightsView")
    window.views.setCurrentWidget(weights)
    weights.select_test_digit(3)
    pooled = RunConfig(layers="pool2,flatten,dense16,relu").build_model(784, 10)
    with qtbot.waitSignal(weights.feature_maps.drawn, timeout=10_000):
        show_model(window, pooled)
    assert weights.tiles_label.text() == "A network of images with no convolution: no kernels to show."
    [pool] = weights.feature_maps.maps()
    np.testing.assert_array_equal(pool.values, mnist.x_test[3].reshape(14, 2, 14, 2).max(axis=(1, 3))[None])
    broken = conv_model()
    broken.layers[1].params["W"][0, 0, 0, 0] = np.nan
    with qtbot.waitSignal(weights.feature_maps.drawn, timeout=10_000):
        show_model(window, broken)
    assert weights.tiles_label.text() == "The weights are not finite: no kernels to show."
    assert weights.feature_maps.maps() == []
    assert "Could not compute the feature maps: the model's weights are not finite" in weights.feature_maps.note.text()
    assert not window.error_label.isVisible()
