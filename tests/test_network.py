"""Sequential: gradients of whole networks, state dicts and configs."""

import numpy as np
import pytest

from scratchnet.gradcheck import check_gradients
from scratchnet.layers import Dense, Dropout, ReLU
from scratchnet.losses import SoftmaxCrossEntropy, one_hot
from scratchnet.network import Sequential, mlp


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_whole_network_gradients(activation):
    rng = np.random.default_rng(0)
    model = mlp(6, [5, 4], 3, activation=activation, rng=rng, dtype=np.float64)
    for p in model.parameters().values():
        p += rng.standard_normal(p.shape) * 0.1  # non-zero biases too
    x = rng.standard_normal((8, 6))
    y = rng.integers(0, 3, 8)
    errors = check_gradients(model, SoftmaxCrossEntropy(), x, y)
    assert set(errors) == {"0.W", "0.b", "2.W", "2.b", "4.W", "4.b", "input"}
    assert max(errors.values()) < 1e-6, errors


def test_network_gradients_with_dropout_mask_and_one_hot_labels():
    rng = np.random.default_rng(1)
    model = mlp(6, [5], 3, dropout=0.5, rng=rng, dtype=np.float64)
    model.layers[2].fixed_mask = rng.random((4, 5)) >= 0.5
    x = rng.standard_normal((4, 6))
    y = one_hot(rng.integers(0, 3, 4), 3, np.float64)
    errors = check_gradients(model, SoftmaxCrossEntropy(), x, y, training=True)
    assert max(errors.values()) < 1e-6, errors


def test_mlp_structure_and_param_count():
    model = mlp(784, [256, 128], 10, dropout=0.2, rng=np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "ReLU", "Dropout", "Dense", "ReLU", "Dropout", "Dense"]
    assert model.param_count() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert (model.input_size, model.output_size) == (784, 10)


def test_empty_hidden_list_is_softmax_regression():
    model = mlp(784, [], 10, rng=np.random.default_rng(0))
    assert len(model.layers) == 1 and model.param_count() == 7850


def test_state_dict_names_copies_and_round_trip():
    model = mlp(4, [3], 2, rng=np.random.default_rng(0))
    state = model.state_dict()
    assert list(state) == ["0.W", "0.b", "2.W", "2.b"]
    state["0.W"][:] = 7
    assert not np.any(model.parameters()["0.W"] == 7)  # a copy, not the live array
    other = mlp(4, [3], 2, rng=np.random.default_rng(1))
    other.load_state_dict(model.state_dict())
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(other.parameters()[name], value)


def test_parameters_are_live_arrays():
    model = mlp(4, [3], 2, rng=np.random.default_rng(0))
    model.parameters()["0.b"][:] = 5
    assert np.all(model.layers[0].params["b"] == 5)
    assert model.named_grads()["0.W"] is model.layers[0].grads["W"]


def test_load_state_dict_names_the_offending_key():
    model = mlp(4, [3], 2, rng=np.random.default_rng(0))
    state = model.state_dict()
    state["2.W"] = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match=r"'2\.W'"):
        model.load_state_dict(state)
    state = model.state_dict()
    del state["0.b"]
    with pytest.raises(KeyError, match=r"0\.b"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["9.W"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"9\.W"):
        model.load_state_dict(state)


def test_config_round_trip_rebuilds_the_architecture():
    model = Sequential([Dense(4, 3, init="xavier"), ReLU(), Dropout(0.3), Dense(3, 2, init="lecun")])
    rebuilt = Sequential.from_config(model.get_config())
    assert rebuilt.get_config() == model.get_config()
    with pytest.raises(ValueError, match="unknown layer type"):
        Sequential.from_config({"layers": [{"type": "Conv3D"}]})


def test_predict_and_predict_proba():
    model = mlp(4, [3], 2, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((10, 4)).astype(np.float32)
    proba = model.predict_proba(x, batch_size=3)
    assert proba.shape == (10, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(x, batch_size=4), proba.argmax(axis=1))
    assert model.predict_proba(x[0]).shape == (1, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copy_is_independent_and_keeps_layers_weights_and_dtype(dtype):
    model = mlp(6, [5, 4], 3, activation="leaky_relu", dropout=0.25, rng=np.random.default_rng(0), dtype=dtype)
    model.layers[1].alpha = 0.2
    for grad in model.named_grads().values():
        grad[...] = 3.0
    copy = model.copy()
    assert copy.get_config() == model.get_config() and copy.layers[1].alpha == 0.2
    for name, value in model.parameters().items():
        twin = copy.parameters()[name]
        np.testing.assert_array_equal(twin, value)
        assert twin.dtype == dtype and not np.shares_memory(twin, value)
        assert not np.shares_memory(copy.named_grads()[name], model.named_grads()[name])
    copy.parameters()["0.W"][...] = 0.0
    copy.named_grads()["0.W"][...] = 0.0
    assert np.any(model.parameters()["0.W"] != 0) and np.all(model.named_grads()["0.W"] == 3.0)
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(dtype)
    np.testing.assert_array_equal(model.copy().forward(x), model.forward(x))


def test_a_copy_draws_no_weights_only_to_overwrite_them(monkeypatch):
    import scratchnet.initializers as initializers

    model = mlp(20, [8], 3, dropout=0.5, rng=np.random.default_rng(0))
    import scratchnet.layers as layers

    undrawn = []

    def init_weights(fan_in, fan_out, method, rng, dtype):
        undrawn.append(rng is initializers.UNDRAWN)
        return initializers.init_weights(fan_in, fan_out, method, rng, dtype)

    monkeypatch.setattr(layers, "init_weights", init_weights)
    copy = model.copy()
    wide = model.copy(dtype=np.float64)
    assert undrawn == [True] * 4  # both Dense layers of both copies: nothing drawn, the weights are loaded
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(copy.parameters()[name], value)
        assert wide.parameters()[name].dtype == np.float64
        np.testing.assert_array_equal(wide.parameters()[name], value.astype(np.float64))
    assert isinstance(copy.layers[2].rng, np.random.Generator)  # dropout still draws its masks
    assert initializers.init_weights(2, 3, "he", initializers.UNDRAWN).shape == (2, 3)
    with pytest.raises(ValueError, match="unknown initialisation"):
        initializers.init_weights(2, 3, "zeros", initializers.UNDRAWN)
