"""scratchnet.explain against independent computations: a plain forward written out here with
each activation's textbook formula, per-row softmax loops, finite differences for the gradients
and per-unit loops for the stuck-unit counts."""

import numpy as np
import pytest

from scratchnet.explain import (
    DEAD,
    NEVER_POSITIVE,
    SATURATED,
    SATURATED_UNITS,
    batch_stats,
    dense_names,
    layer_outputs,
    unit_counts,
)
from scratchnet.network import mlp

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]
FORMULAS = {
    "ReLU": lambda z: np.where(z > 0, z, 0.0),
    "LeakyReLU": lambda z: np.where(z > 0, z, 0.01 * z),
    "Sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "Tanh": np.tanh,
}


def plain_forward(model, x):
    """(pre-activations, activations) of each hidden layer and the logits, from the weights alone."""
    zs, activations = [], []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            x = x @ layer.params["W"] + layer.params["b"]
        elif kind != "Dropout":
            zs.append(x)
            x = FORMULAS[kind](x)
            activations.append(x)
    return zs, activations, x


def plain_softmax(logits):
    rows = []
    for row in logits:
        e = np.exp(row - row.max())
        rows.append(e / e.sum())
    return np.array(rows)


def plain_loss(model, x, y):
    logits = plain_forward(model, x)[2]
    return float(np.mean([-np.log(p[label]) for p, label in zip(plain_softmax(logits), y, strict=True)]))


def small_model(activation, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    model = mlp(5, [8, 6], 3, activation=activation, rng=rng, dtype=dtype)
    for p in model.parameters().values():
        p += (rng.standard_normal(p.shape) * 0.3).astype(dtype)  # non-zero biases too
    return model


def data(n=20, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)).astype(dtype), rng.integers(0, 3, n)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_layer_outputs_are_the_plain_forward(activation):
    model = small_model(activation)
    x, _ = data()
    outputs = layer_outputs(model, x)
    _, activations, logits = plain_forward(model, x)
    kind = type(model.layers[1]).__name__
    assert [o.name for o in outputs] == [f"hidden 1 ({kind}, 8 units)", f"hidden 2 ({kind}, 6 units)",
                                         "output (softmax, 3)"]
    for output, expected in zip(outputs, [*activations, plain_softmax(logits)], strict=True):
        np.testing.assert_allclose(output.values, expected, rtol=1e-12, atol=1e-15)


def test_layer_outputs_of_one_input_skip_dropout():
    model = mlp(5, [8], 3, dropout=0.5, rng=np.random.default_rng(0), dtype=np.float64)
    x, _ = data(1)
    outputs = layer_outputs(model, x[0])  # inference: dropout is the identity
    _, activations, logits = plain_forward(model, x)
    assert len(outputs) == 2 and outputs[0].values.shape == (1, 8)
    np.testing.assert_allclose(outputs[0].values, activations[0], rtol=1e-12)
    np.testing.assert_allclose(outputs[1].values, plain_softmax(logits), rtol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_and_weight_gradients_match_finite_differences(activation):
    model = small_model(activation)
    x, y = data()
    stats = batch_stats(model, x, y)
    assert stats.samples == 20
    assert stats.loss == pytest.approx(plain_loss(model, x, y), rel=1e-12)
    names = dense_names(model)
    assert list(stats.weight_gradients) == names == ["layer 1 (5→8)", "layer 2 (8→6)", "layer 3 (6→3)"]
    eps = 1e-6
    for name, dense in zip(names, model.dense_layers, strict=True):
        w = dense.params["W"]
        numeric = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            kept = w[index]
            w[index] = kept + eps
            up = plain_loss(model, x, y)
            w[index] = kept - eps
            down = plain_loss(model, x, y)
            w[index] = kept
            numeric[index] = (up - down) / (2 * eps)
        np.testing.assert_allclose(stats.weight_gradients[name], numeric, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(stats.weights[name], w)


def test_batch_stats_leave_the_model_and_its_gradients_alone():
    model = small_model("relu", dtype=np.float32)
    for grad in model.named_grads().values():
        grad[...] = 7.0  # stands for the gradient of the last training update
    before = model.state_dict()
    x, y = data(dtype=np.float32)
    stats = batch_stats(model, x, y)
    assert all(np.all(g == 7.0) for g in model.named_grads().values())
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[name])
    for name, dense in zip(dense_names(model), model.dense_layers, strict=True):
        assert not np.shares_memory(stats.weights[name], dense.params["W"])
        assert not np.all(stats.weight_gradients[name] == 7.0)
        assert stats.weight_gradients[name].dtype == np.float32


def forced_model(activation):
    """A 5-8-3 model in which units 0-2 of the hidden layer have huge biases of either sign."""
    model = mlp(5, [8], 3, activation=activation, rng=np.random.default_rng(2), dtype=np.float64)
    model.layers[0].params["b"][:3] = [-30.0, -30.0, 30.0]
    return model


def plain_stuck(activation, z):
    """Per unit, by a loop: is it stuck for every sample (the condition of its activation)?"""
    flags = []
    for unit in range(z.shape[1]):
        column = z[:, unit]
        if activation in ("relu", "leaky_relu"):
            flags.append(all(value <= 0 for value in column))
        elif activation == "sigmoid":
            s = 1.0 / (1.0 + np.exp(-column))
            flags.append(all(s * (1 - s) < SATURATED * 0.25))
        else:
            flags.append(all(1 - np.tanh(column) ** 2 < SATURATED * 1.0))
    return sum(flags)


@pytest.mark.parametrize(("activation", "condition"), [
    ("relu", DEAD), ("leaky_relu", NEVER_POSITIVE), ("sigmoid", SATURATED_UNITS), ("tanh", SATURATED_UNITS),
])
def test_stuck_units_match_a_per_unit_loop(activation, condition):
    model = forced_model(activation)
    x, y = data(200)
    (count,) = unit_counts(model, x)
    expected = plain_stuck(activation, plain_forward(model, x)[0][0])
    assert count.condition == condition
    assert count.count == expected and count.units == 8 and count.fraction == expected / 8
    # ReLU: the two units with bias -30; leaky ReLU: the same two are never positive, not dead;
    # sigmoid and tanh: all three saturate, the +30 one as well
    assert expected == (3 if condition == SATURATED_UNITS else 2)
    assert batch_stats(model, x, y).units == [count]


def test_leaky_relu_units_are_never_counted_dead():
    model = forced_model("leaky_relu")
    x, _ = data(200)
    assert [c.condition for c in unit_counts(model, x)] == [NEVER_POSITIVE]


def test_a_model_without_hidden_layers_has_no_counts():
    model = mlp(5, [], 3, rng=np.random.default_rng(0))
    x, y = data(dtype=np.float32)
    stats = batch_stats(model, x, y)
    assert stats.units == [] and list(stats.weights) == ["layer 1 (5→3)"]


@pytest.mark.parametrize(("x", "y", "message"), [
    (np.zeros((4, 6)), np.zeros(4, int), r"shape \(4, 6\) do not fit a model with 5 inputs"),
    (np.zeros((0, 5)), np.zeros(0, int), "no inputs"),
    (np.zeros((4, 5)), np.zeros(3, int), "expected 4 integer class labels"),
    (np.zeros((4, 5)), np.zeros(4), "expected 4 integer class labels"),
    (np.zeros((4, 5)), np.array([0, 1, 2, 3]), r"class labels must be in 0\.\.2, got 0\.\.3"),
])
def test_bad_inputs_are_refused_with_a_clear_message(x, y, message):
    with pytest.raises(ValueError, match=message):
        batch_stats(small_model("relu"), x, y)
