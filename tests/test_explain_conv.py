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
