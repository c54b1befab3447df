"""Every layer's hand-derived backward against central differences, in float64."""

import numpy as np
import pytest

from scratchnet.gradcheck import check_layer_gradients
from scratchnet.layers import Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh

TOL = 1e-6


def _inputs(shape=(5, 7), seed=1):
    x = np.random.default_rng(seed).standard_normal(shape)
    # keep inputs away from the ReLU kink, where finite differences are not defined
    x[np.abs(x) < 1e-3] = 0.1
    return x


@pytest.mark.parametrize("init", ["he", "xavier", "lecun", "normal"])
def test_dense_gradients(init):
    layer = Dense(7, 4, init=init, dtype=np.float64, rng=np.random.default_rng(0))
    layer.params["b"][:] = np.random.default_rng(2).standard_normal(4)
    errors = check_layer_gradients(layer, _inputs())
    assert set(errors) == {"input", "W", "b"}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("layer", [ReLU(), LeakyReLU(0.1), Sigmoid(), Tanh()], ids=lambda layer: type(layer).__name__)
def test_activation_gradients(layer):
    errors = check_layer_gradients(layer, _inputs())
    assert errors["input"] < TOL, errors


def test_dropout_gradients_with_fixed_mask():
    layer = Dropout(0.4)
    layer.fixed_mask = np.random.default_rng(3).random((5, 7)) >= 0.4
    errors = check_layer_gradients(layer, _inputs())
    assert errors["input"] < TOL


def test_dense_forward_known_values():
    layer = Dense(2, 2, dtype=np.float64)
    layer.params["W"][:] = [[1.0, 2.0], [3.0, 4.0]]
    layer.params["b"][:] = [0.5, -0.5]
    y = layer.forward(np.array([[1.0, 1.0], [2.0, 0.0]]))
    np.testing.assert_allclose(y, [[4.5, 5.5], [2.5, 3.5]])
    grad_x = layer.backward(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(grad_x, [[1.0, 3.0], [2.0, 4.0]])
    np.testing.assert_allclose(layer.grads["W"], [[1.0, 2.0], [1.0, 0.0]])
    np.testing.assert_allclose(layer.grads["b"], [1.0, 1.0])


def test_dense_grads_are_overwritten_not_accumulated():
    layer = Dense(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    x = _inputs((4, 3))
    g = np.ones((4, 2))
    layer.forward(x)
    layer.backward(g)
    first = layer.grads["W"].copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_array_equal(layer.grads["W"], first)


def test_activation_known_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(ReLU().forward(x), [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(LeakyReLU(0.1).forward(x), [[-0.2, 0.0, 3.0]])
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))


def test_sigmoid_is_finite_for_huge_inputs():
    with np.errstate(over="raise"):
        y = Sigmoid().forward(np.array([[-1e4, 1e4]], dtype=np.float32))
    np.testing.assert_allclose(y, [[0.0, 1.0]])


def test_dropout_is_identity_at_inference_and_scales_in_training():
    x = np.ones((2000, 50), dtype=np.float32)
    layer = Dropout(0.25, rng=np.random.default_rng(0))
    assert layer.forward(x, training=False) is x
    y = layer.forward(x, training=True)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(float(y.mean()) - 1.0) < 0.02  # inverted dropout keeps the expectation


def test_dense_initialisations_have_the_documented_scale():
    rng = np.random.default_rng(0)
    fan_in, fan_out = 784, 256
    inits = ("he", "xavier", "lecun", "normal")
    stds = {init: Dense(fan_in, fan_out, init=init, rng=rng).params["W"].std() for init in inits}
    assert stds["he"] == pytest.approx(np.sqrt(2 / fan_in), rel=0.02)
    assert stds["xavier"] == pytest.approx(np.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    assert stds["lecun"] == pytest.approx(np.sqrt(1 / fan_in), rel=0.02)
    assert stds["normal"] == pytest.approx(0.01, rel=0.02)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_dense_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="positive integer"):
        Dense(bad, 3)


def test_bad_layer_settings_raise():
    with pytest.raises(ValueError, match="initialisation"):
        Dense(3, 3, init="zeros")
    with pytest.raises(ValueError, match="dropout"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="alpha"):
        LeakyReLU(-0.5)
