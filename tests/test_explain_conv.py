"""``explain.feature_maps`` and ``first_kernels`` against a plain-loop float64 computation."""

from __future__ import annotations

import numpy as np
import pytest
from conv_reference import image_layer_outputs

from scratchnet.errors import ExplainError
from scratchnet.explain import feature_maps, first_kernels
from scratchnet.network import mlp
from scratchnet.run_config import RunConfig


@pytest.mark.parametrize("layers", [
    "conv5x5x4,relu,pool2,conv3x3x6p1,tanh,pool3s2,flatten,dense12,relu",
    "conv4x4x3s2p1,pool2,conv3x3x2,flatten,dense8,relu",
])
def test_feature_maps_equal_a_plain_loop_computation(layers):
    model = RunConfig(layers=layers, seed=3).build_model(784, 10)
    image = np.random.default_rng(1).random(784).astype(np.float32)
    maps = feature_maps(model, image)
    expected = image_layer_outputs(model, image)
    assert [m.layer for m in maps] == [i for i, _ in expected]
    for got, (_, want) in zip(maps, expected, strict=True):
        assert got.values.dtype == np.float64 and got.values.shape == want.shape
        np.testing.assert_allclose(got.values, want, rtol=1e-12, atol=1e-12)
    assert maps[0].name.startswith("Conv2D")


def test_first_kernels_and_the_names_of_the_maps():
    model = RunConfig(layers="conv5x5x4,relu,pool2,flatten,dense12,relu").build_model(784, 10)
    kernels = first_kernels(model)
    assert kernels.layer == 1 and kernels.values.shape == (4, 1, 5, 5)
    np.testing.assert_array_equal(kernels.values, model.layers[1].params["W"].astype(np.float64))
    names = [m.name for m in feature_maps(model, np.zeros(784))]
    assert names == ["Conv2D 5x5x4", "ReLU", "MaxPool2D 2"]
    # a blank image: each convolution's map is its bias everywhere
    np.testing.assert_array_equal(feature_maps(model, np.zeros(784))[0].values, 0.0)


def test_feature_maps_refuse_what_they_cannot_explain():
    with pytest.raises(ExplainError, match="does not read images"):
        feature_maps(mlp(784, [8], 10), np.zeros(784))
    with pytest.raises(ExplainError, match="no convolution"):
        first_kernels(mlp(784, [8], 10))
    model = RunConfig(layers="conv3x3x2,flatten").build_model(784, 10)
    with pytest.raises(ExplainError, match="does not fit a model with 784 inputs"):
        feature_maps(model, np.zeros(100))
    model.layers[1].params["W"][0, 0, 0, 0] = np.nan
    with pytest.raises(ExplainError, match="not finite"):
        feature_maps(model, np.zeros(784))


def _loss_from(model, start: int, value: np.ndarray, label: int) -> float:
    """The cross-entropy of ``label`` with the output of layer ``start - 1`` set to ``value``."""
    for layer in model.layers[start:]:
        value = layer.forward(value, training=False)
    logits = value[0] - value[0].max()
    return float(np.log(np.exp(logits).sum()) - logits[label])


@pytest.mark.parametrize("label", [3, None])
def test_each_maps_delta_equals_central_differences(label):
    model = RunConfig(layers="conv5x5x3,relu,pool2,conv3x3x4p1,tanh,pool3s2,flatten,dense12,relu", seed=4
                      ).build_model(784, 10)
    image = np.random.default_rng(2).random(784)
    maps = feature_maps(model, image, label)
    reference = model.copy(dtype=np.float64)
    predicted = int(np.argmax(reference.forward(image[None].astype(np.float64), training=False)[0]))
    assert {m.label for m in maps} == {predicted if label is None else label}
    rng = np.random.default_rng(0)
    eps = 1e-6
    for m in maps:
        assert m.gradient.shape == m.values.shape and np.abs(m.gradient).sum() > 0
        # away from the kinks: a ReLU output of 0 ties its pooling window, where one-sided slopes differ
        candidates = np.argwhere(np.abs(m.values) > 1e-3)
        for row in rng.choice(len(candidates), 4, replace=False):
            where = tuple(int(i) for i in candidates[row])
            up, down = m.values.copy(), m.values.copy()
            up[where] += eps
            down[where] -= eps
            numeric = (_loss_from(reference, m.layer + 1, up[None], m.label)
                       - _loss_from(reference, m.layer + 1, down[None], m.label)) / (2 * eps)
            assert m.gradient[where] == pytest.approx(numeric, rel=1e-5, abs=1e-9), (m.name, where)


def test_layer_outputs_and_maps_of_a_convolutional_network():
    from scratchnet.explain import layer_output, pca_embedding

    model = RunConfig(layers="conv3x3x2,relu,pool2,flatten,dense6,relu", seed=1).build_model(784, 10)
    x = np.random.default_rng(3).random((5, 784))
    pooled = np.stack([image_layer_outputs(model, row)[-1][1] for row in x])  # (5, 2, 13, 13)
    np.testing.assert_allclose(layer_output(model, x, 3), pooled, rtol=1e-5, atol=1e-6)
    flat = layer_output(model, x, 4)
    np.testing.assert_allclose(flat, pooled.reshape(5, -1), rtol=1e-5, atol=1e-6)
    dense = model.layers[5]
    hidden = np.maximum(pooled.reshape(5, -1) @ dense.params["W"] + dense.params["b"], 0)
    np.testing.assert_allclose(layer_output(model, x, 6), hidden, rtol=1e-4, atol=1e-5)
    assert pca_embedding(model, x, 3).shape == (5, 2)  # maps of images: each image's maps as one vector
    np.testing.assert_allclose(pca_embedding(model, x, 3), pca_embedding(model, x, 4), atol=1e-9)
