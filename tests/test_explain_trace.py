"""Backprop step by step (scratchnet.explain: trace, input_gradient, integrated_gradients,
one_step, gradient_noise, gradient_check, unit_equations) against independent computations: a plain
forward written out here with each activation's textbook formula, and central finite differences of
it (``gradcheck.numeric_gradient``, eps 1e-6 unless said) for every gradient."""

import numpy as np
import pytest
from test_explain import FORMULAS, plain_softmax

from scratchnet.errors import ExplainError, ScratchnetError
from scratchnet.explain import (
    OneStep,
    Spread,
    gradient_check,
    gradient_noise,
    input_gradient,
    integrated_gradients,
    one_step,
    trace,
    unit_equations,
)
from scratchnet.gradcheck import numeric_gradient
from scratchnet.layers import Dense, ReLU
from scratchnet.network import Sequential, mlp
from scratchnet.optimizers import make_optimizer
from scratchnet.sparse import ColumnSparse
from scratchnet.training import TrainConfig, train

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]
MODELS = [*ACTIVATIONS, "softmax regression", "dropout"]


def make_model(kind, dtype=np.float64, seed=0):
    """5-8-6-3 with the activation ``kind``; "softmax regression" is 5-3, "dropout" 5-8-6-3 ReLU
    with dropout 0.5 after each hidden layer. Biases are non-zero."""
    rng = np.random.default_rng(seed)
    if kind == "softmax regression":
        model = mlp(5, [], 3, rng=rng, dtype=dtype)
    elif kind == "dropout":
        model = mlp(5, [8, 6], 3, dropout=0.5, rng=rng, dtype=dtype)
    else:
        model = mlp(5, [8, 6], 3, activation=kind, rng=rng, dtype=dtype)
    for p in model.parameters().values():
        p += (rng.standard_normal(p.shape) * 0.3).astype(dtype)
    return model


def sample(seed=1, n=None):
    rng = np.random.default_rng(seed)
    shape = (5,) if n is None else (n, 5)
    return rng.standard_normal(shape), rng.integers(0, 3, n)


def plain_from(model, start, value):
    """Run layers ``start``.. of ``model`` on ``value`` with the textbook formulas (dropout off)."""
    for layer in model.layers[start:]:
        kind = type(layer).__name__
        if kind == "Dense":
            value = value @ layer.params["W"] + layer.params["b"]
        elif kind != "Dropout":
            value = FORMULAS[kind](value)
    return value


def plain_loss(model, x, label, start=0):
    """Cross-entropy of one input (or the mean over rows of x with labels) from layer ``start``."""
    probs = plain_softmax(np.atleast_2d(plain_from(model, start, x)))
    labels = np.atleast_1d(label)
    return float(np.mean(-np.log(probs[np.arange(len(labels)), labels])))


def close(actual, expected, rtol=1e-6, atol=1e-9):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- trace


@pytest.mark.parametrize("kind", MODELS)
def test_trace_forward_is_the_plain_forward(kind):
    model = make_model(kind)
    x, _ = sample()
    t = trace(model, x, 2)
    assert [s.layer for s in t.steps] == list(range(len(model.layers)))
    assert [s.kind for s in t.steps] == [type(layer).__name__ for layer in model.layers]
    value = x
    for layer, step in zip(model.layers, t.steps, strict=True):
        close(step.input, value, rtol=1e-12, atol=0)
        value = plain_from(Sequential([layer]), 0, value)
        close(step.output, value, rtol=1e-12, atol=1e-15)
        assert step.output.dtype == np.float64
    close(t.logits, value, rtol=1e-12, atol=0)
    close(t.probs, plain_softmax(value[None])[0], rtol=1e-12, atol=0)
    assert t.loss == pytest.approx(plain_loss(model, x, 2), rel=1e-12)
    assert t.label == 2 and t.predicted == int(np.argmax(value))
    assert list(t.top(3)) == list(np.argsort(-value))


@pytest.mark.parametrize("kind", MODELS)
def test_trace_gradients_match_finite_numeric_gradient(kind):
    model = make_model(kind)
    x, _ = sample()
    t = trace(model, x, 1)
    onehot = np.eye(3)[1]
    close(t.steps[-1].grad_output, t.probs - onehot, rtol=1e-12, atol=1e-15)
    for i, step in enumerate(t.steps):
        # dL/d(input) and dL/d(output) by nudging that array and running the plain layers after it
        inp = step.input.copy()
        close(step.grad_input, numeric_gradient(lambda inp=inp, i=i: plain_loss(model, inp, 1, start=i), inp))
        out = step.output.copy()
        close(step.grad_output, numeric_gradient(lambda out=out, i=i: plain_loss(model, out, 1, start=i + 1), out))
        if step.kind == "Dense":
            layer = model.layers[i]
            assert set(step.grads) == set(step.params) == {"W", "b"}
            for key in ("W", "b"):
                close(step.grads[key], numeric_gradient(lambda: plain_loss(model, x, 1), layer.params[key]))
                np.testing.assert_array_equal(step.params[key], layer.params[key])
            assert step.slope is None
        else:
            assert step.grads == {} and step.params == {}
            close(step.slope, numeric_gradient(lambda inp=inp, i=i: plain_from(
                Sequential([model.layers[i]]), 0, inp).sum(), inp))  # element-wise: the diagonal


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_input_gradient_matches_finite_numeric_gradient(activation):
    model = make_model(activation)
    x, _ = sample(seed=3)
    grad = input_gradient(model, x, 0)
    assert grad.shape == (5,)
    close(grad, numeric_gradient(lambda: plain_loss(model, x, 0), x))


def test_trace_leaves_the_model_and_its_gradients_alone():
    model = make_model("relu", dtype=np.float32)
    for grad in model.named_grads().values():
        grad[...] = 7.0  # the gradient of the last training update
    before = model.state_dict()
    x, _ = sample()
    t = trace(model, x.astype(np.float32), 2)
    input_gradient(model, x, 2)
    gradient_check(model, x, 2, rng=np.random.default_rng(0))
    integrated_gradients(model, x, 2)
    one_step(model, x, 2, 0.1)
    gradient_noise(model, *sample(n=10), [2], repeats=2)
    assert all(np.all(g == 7.0) for g in model.named_grads().values())
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[name])
        assert value.dtype == np.float32
    for step in t.steps:
        assert step.grad_input.dtype == np.float64
        assert all(not np.shares_memory(p, q) for p in step.params.values() for q in model.parameters().values())
        with pytest.raises(ValueError, match="read-only"):
            step.output[0] = 1.0


def test_dropout_is_off_in_a_trace():
    with_dropout, without = make_model("dropout"), make_model("relu")
    x, _ = sample()
    a, b = trace(with_dropout, x, 0), trace(without, x, 0)
    assert a.loss == b.loss and np.array_equal(a.probs, b.probs)
    for step in a.steps:
        if step.kind == "Dropout":
            np.testing.assert_array_equal(step.output, step.input)
            np.testing.assert_array_equal(step.grad_input, step.grad_output)
            np.testing.assert_array_equal(step.slope, 1.0)


def test_softmax_regression_has_one_step():
    model = make_model("softmax regression")
    x, _ = sample()
    t = trace(model, x, 0)
    assert len(t.steps) == 1 and t.steps[0].kind == "Dense"
    close(t.steps[0].grads["W"], np.outer(x, t.probs - np.eye(3)[0]), rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- integrated gradients


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_integrated_gradients_match_a_riemann_sum_of_finite_numeric_gradient(activation):
    model = make_model(activation)
    x, _ = sample(seed=4)
    baseline = np.full(5, 0.2)
    steps = 16
    total = np.zeros(5)
    for alpha in (np.arange(steps) + 0.5) / steps:
        point = baseline + alpha * (x - baseline)
        total += numeric_gradient(lambda p=point: plain_from(model, 0, p)[1], point)
    expected = (x - baseline) * total / steps
    close(integrated_gradients(model, x, 1, baseline=baseline, steps=steps), expected)


def test_integrated_gradients_of_a_linear_model_are_exact():
    model = make_model("softmax regression")
    x, _ = sample()
    close(integrated_gradients(model, x, 2, steps=3), x * model.layers[0].params["W"][:, 2], rtol=1e-12, atol=1e-15)


@pytest.fixture(scope="module")
def digits_model(mnist):
    """784-32-10 ReLU after one epoch on 5,000 digits, and 20 test digits."""
    model = mlp(784, [32], 10, rng=np.random.default_rng(0))
    data = mnist.subset(5000)
    for _ in train(model, make_optimizer("momentum", 0.05), data.x_train, data.y_train, TrainConfig(epochs=1)):
        pass
    return model, mnist.x_test[:20], mnist.y_test[:20]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_integrated_gradients_are_complete(activation, digits_model):
    """sum IG = logit(x) - logit(black) within 1%, on real digits, for the predicted class."""
    trained, digits, _ = digits_model
    if activation == "relu":
        model = trained  # trained ReLU units switch on and off along the path: the hardest case
    else:
        model = mlp(784, [32], 10, activation=activation, rng=np.random.default_rng(1), dtype=np.float64)
    for x in digits[:10]:
        logits = plain_from(model, 0, x.astype(np.float64))
        target = int(np.argmax(logits))
        gap = logits[target] - plain_from(model, 0, np.zeros(784))[target]
        attributions = integrated_gradients(model, x, target)
        assert attributions.shape == (784,)
        assert abs(attributions.sum() - gap) <= 0.01 * abs(gap)
        assert np.all(attributions[x == 0] == 0)  # a black pixel moves nothing off a black baseline


# --------------------------------------------------------------------------- one step


@pytest.mark.parametrize("kind", ["relu", "tanh", "dropout", "softmax regression"])
def test_one_step_is_a_hand_applied_sgd_step(kind):
    model = make_model(kind)
    x, y = sample(n=6)
    lr = 0.05
    loss = lambda: plain_loss(model, x, y)  # noqa: E731
    before = loss()
    grads = {name: numeric_gradient(loss, p) for name, p in model.parameters().items()}
    result = one_step(model, x, y, lr)
    stepped = make_model(kind)
    for name, p in stepped.parameters().items():
        p -= lr * grads[name]
    after = plain_loss(stepped, x, y)
    assert result.loss_before == pytest.approx(before, rel=1e-12)
    assert result.loss_after == pytest.approx(after, rel=1e-8)
    assert result.actual_change == pytest.approx(after - before, rel=1e-6)
    squared = sum(float(np.sum(g * g)) for g in grads.values())
    assert result.predicted_change == pytest.approx(-lr * squared, rel=1e-6)
    assert result.gradient_norm == pytest.approx(np.sqrt(squared), rel=1e-6)
    for name, p in result.model.parameters().items():
        close(p, stepped.parameters()[name], rtol=1e-9, atol=1e-12)
    close(result.probs_before, plain_softmax(plain_from(model, 0, x)), rtol=1e-12, atol=0)
    close(result.probs_after, plain_softmax(plain_from(stepped, 0, x)), rtol=1e-9, atol=1e-12)
    loss_before, predicted, actual = result  # the triple
    assert (loss_before, predicted, actual) == (result.loss_before, result.predicted_change, result.actual_change)


def test_one_step_on_one_digit_keeps_the_models_dtype(digits_model):
    model, digits, labels = digits_model
    before = model.state_dict()
    small = one_step(model, digits[0], int(labels[0]), 1e-4)
    assert isinstance(small, OneStep)
    assert small.probs_before.shape == small.probs_after.shape == (10,)
    assert small.predicted_change < 0
    assert small.actual_change == pytest.approx(small.predicted_change, rel=0.02)  # first order for a small lr
    assert all(p.dtype == np.float32 for p in small.model.parameters().values())
    assert not np.array_equal(small.model.layers[0].params["W"], before["0.W"])
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[name])


# --------------------------------------------------------------------------- gradient noise


@pytest.mark.parametrize("blank", [False, True])
def test_gradient_noise_cosines_are_those_of_hand_made_batches(blank, monkeypatch):
    """With a column that is 0 in every row (blank pixels), the first layer reads the batches as
    ``ColumnSparse``: the same numbers."""
    model = make_model("tanh")
    x, y = sample(n=12)
    if blank:
        x[:, 3] = 0.0
    first_inputs = []
    forward = Dense.forward

    def spy(layer, value, training=False):
        if layer.in_features == 5:  # the first layer of the float64 copy
            first_inputs.append(type(value))
        return forward(layer, value, training)

    monkeypatch.setattr(Dense, "forward", spy)
    sizes = [1, 3, 12]
    result = gradient_noise(model, x, y, sizes, repeats=3, rng=np.random.default_rng(5))
    monkeypatch.undo()
    assert set(first_inputs) == ({ColumnSparse} if blank else {np.ndarray})

    def flat_gradient(rows):
        return np.concatenate([numeric_gradient(lambda: plain_loss(model, x[rows], y[rows]), p).ravel()
                               for p in model.parameters().values()])

    full = flat_gradient(np.arange(12))
    rng = np.random.default_rng(5)  # the same draws: rng.choice(N, B, replace=False), by size, then repeat
    for b in sizes[:-1]:
        cosines = []
        for _ in range(3):
            g = flat_gradient(rng.choice(12, size=b, replace=False))
            cosines.append(g @ full / (np.linalg.norm(g) * np.linalg.norm(full)))
        assert isinstance(result[b], Spread)
        assert result[b].mean == pytest.approx(np.mean(cosines), abs=1e-7)
        assert result[b].std == pytest.approx(np.std(cosines), abs=1e-7)
    assert result[12] == (1.0, 0.0)


def test_gradient_noise_grows_with_the_batch(mnist, digits_model):
    model, _, _ = digits_model
    x, y = mnist.x_train[:2000], mnist.y_train[:2000]
    result = gradient_noise(model, x, y, [1, 16, 256, 2000], repeats=4, rng=np.random.default_rng(0))
    means = [result[b].mean for b in (1, 16, 256, 2000)]
    assert means == sorted(means) and means[-1] == 1.0
    assert all(-1 <= m <= 1 for m in means) and means[2] > 0.5


# --------------------------------------------------------------------------- gradient check


@pytest.mark.parametrize("kind", MODELS)
def test_gradient_check_samples_every_dense_layer(kind):
    model = make_model(kind)
    x, _ = sample()
    x[[1, 3]] = 0.0  # inactive inputs: never drawn for the first layer
    checks = gradient_check(model, x, 2, per_layer=4, rng=np.random.default_rng(0))  # eps 1e-4
    dense = [i for i, layer in enumerate(model.layers) if type(layer).__name__ == "Dense"]
    assert [c.layer for c in checks] == [i for i in dense for _ in range(4)]
    t = trace(model, x, 2)
    for c in checks:
        assert len({(d.layer, d.row, d.column) for d in checks if d.layer == c.layer}) == 4
        if c.layer == dense[0]:
            assert x[c.row] != 0
        assert c.analytic == t.steps[c.layer].grads["W"][c.row, c.column]
        w = model.layers[c.layer].params["W"]
        numeric = numeric_gradient(lambda: plain_loss(model, x, 2), w[c.row : c.row + 1, c.column : c.column + 1], 1e-4)
        assert c.numeric == pytest.approx(numeric[0, 0], rel=1e-9, abs=1e-11)
        size = abs(c.analytic) + abs(c.numeric)
        assert c.relative_error == pytest.approx(abs(c.analytic - c.numeric) / size if size else 0.0)
        assert c.relative_error < 1e-6


def test_gradient_check_on_a_digit(digits_model):
    model, digits, labels = digits_model
    checks = gradient_check(model, digits[1], int(labels[1]), rng=np.random.default_rng(2))
    assert len(checks) == 16
    assert all(digits[1][c.row] != 0 for c in checks[:8])
    assert max(c.relative_error for c in checks) < 1e-5
    # weights with a gradient are drawn first: zeros only when a layer has fewer than 8 of them
    t = trace(model, digits[1], int(labels[1]))
    for step in t.dense_steps:
        drawn = [c for c in checks if c.layer == step.layer]
        grads = step.grads["W"][np.flatnonzero(digits[1])] if step is t.dense_steps[0] else step.grads["W"]
        live = np.count_nonzero(grads)
        assert sum(c.analytic != 0 for c in drawn) == min(len(drawn), live)


# --------------------------------------------------------------------------- unit equations


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "sigmoid", "tanh", "dropout"])
def test_hidden_unit_equations(kind):
    model = make_model(kind)
    x, _ = sample()
    t = trace(model, x, 1)
    first, second = [i for i, layer in enumerate(model.layers) if type(layer).__name__ == "Dense"][:2]
    activation = FORMULAS[type(model.layers[first + 1]).__name__]
    z_all = x @ model.layers[first].params["W"] + model.layers[first].params["b"]
    for unit in range(8):
        u = unit_equations(t, first, unit, top=3)
        w = model.layers[first].params["W"][:, unit]
        assert u.activation == type(model.layers[first + 1]).__name__
        assert u.z == pytest.approx(z_all[unit], rel=1e-12, abs=1e-15)
        assert u.a == pytest.approx(activation(z_all[unit]), rel=1e-12, abs=1e-15)
        assert u.bias == model.layers[first].params["b"][unit]
        terms = x * w
        order = np.argsort(-np.abs(terms))
        np.testing.assert_array_equal(u.weighted.index, order[:3])
        close(u.weighted.terms, terms[order[:3]], rtol=1e-15, atol=0)
        np.testing.assert_array_equal(u.weighted.left, x[order[:3]])
        np.testing.assert_array_equal(u.weighted.right, w[order[:3]])
        assert u.weighted.rest == pytest.approx(terms[order[3:]].sum(), abs=1e-14)
        assert u.weighted.rest_count == 2
        assert u.weighted.total + u.bias == pytest.approx(u.z, abs=1e-14)
        # backward: delta_j is dL/dz_j, by nudging z_j and running the plain layers above
        z = z_all.copy()
        delta = numeric_gradient(lambda z=z: plain_loss(model, z, 1, start=first + 1), z)[unit]
        assert u.delta == pytest.approx(delta, rel=1e-6, abs=1e-10)
        up = model.layers[second].params["W"][unit]
        assert u.upstream.total == pytest.approx(up @ t.steps[second].grad_output, rel=1e-12, abs=1e-15)
        assert u.upstream.rest_count == 6 - 3
        assert u.slope * u.upstream.total == pytest.approx(u.delta, rel=1e-12, abs=1e-15)
        close(u.grad_w, x * delta)
        assert u.grad_b == u.delta


def test_output_unit_equations():
    for kind in ("relu", "softmax regression"):
        model = make_model(kind)
        x, _ = sample()
        t = trace(model, x, 2)
        last = len(model.layers) - 1
        for unit in range(3):
            u = unit_equations(t, last, unit)
            assert u.activation == "softmax" and u.upstream is None and u.slope == 1.0
            assert u.a == t.probs[unit]
            assert u.delta == pytest.approx(t.probs[unit] - (unit == 2), rel=1e-12)
            assert u.z == t.logits[unit]
            assert u.weighted.rest_count == max(0, model.layers[last].in_features - 5)


def test_unit_equations_refuse_what_is_not_a_unit():
    t = trace(make_model("relu"), sample()[0], 0)
    with pytest.raises(ExplainError, match=r"layer 1 is not a Dense layer of this model \(those are at \[0, 2, 4\]\)"):
        unit_equations(t, 1, 0)
    with pytest.raises(ExplainError, match="unit 8 is not in layer 0, which has 8 units"):
        unit_equations(t, 0, 8)


# --------------------------------------------------------------------------- bad input


def broken_model():
    model = make_model("relu")
    model.layers[2].params["W"][0, 0] = np.nan
    return model


@pytest.mark.parametrize("call", [
    lambda m, x: trace(m, x, 0),
    lambda m, x: input_gradient(m, x, 0),
    lambda m, x: integrated_gradients(m, x, 0),
    lambda m, x: gradient_check(m, x, 0),
    lambda m, x: one_step(m, x, 0, 0.1),
    lambda m, x: gradient_noise(m, np.stack([x, x]), np.array([0, 1]), [1]),
])
def test_bad_input_raises_a_clear_explain_error(call):
    good = make_model("relu")
    with pytest.raises(ExplainError, match="not finite"):
        call(broken_model(), sample()[0])
    with pytest.raises(ExplainError, match=r"(does not fit a model with 5 inputs|shape \(\d, 7\) do not fit)"):
        call(good, np.zeros(7))
    assert issubclass(ExplainError, ValueError) and issubclass(ExplainError, ScratchnetError)


def test_each_wrong_argument_is_named():
    model = mlp(784, [8], 10, rng=np.random.default_rng(0))
    x = np.zeros(784)
    cases = [
        (lambda: trace(model, np.zeros((32, 32)), 0),
         r"the image has shape \(32, 32\) \(1,024 values\), which does not fit a model with 784 inputs \(28×28\)"),
        (lambda: trace(model, x, 10), r"the label must be in 0\.\.9, got 10"),
        (lambda: trace(model, x, 1.5), "the label must be a whole number"),
        (lambda: trace(model, np.full(784, np.nan), 0), "the image holds NaN"),
        (lambda: trace(model, np.array(["a"] * 784), 0), "the image must hold numbers"),
        (lambda: integrated_gradients(model, x, 0, steps=0), "whole number of steps >= 1"),
        (lambda: integrated_gradients(model, x, 0, baseline=np.zeros(10)), "the baseline has shape"),
        (lambda: integrated_gradients(model, x, -1), r"target class must be in 0\.\.9"),
        (lambda: one_step(model, x, 0, -1.0), "learning rate must be"),
        (lambda: gradient_noise(model, np.zeros((4, 784)), np.zeros(4, int), [5]), "batch size 5 must be"),
        (lambda: gradient_noise(model, np.zeros((4, 784)), np.zeros(4, int), [2], repeats=0), "repeats"),
        (lambda: trace(Sequential([ReLU()]), np.zeros(3), 0), "no Dense layer"),
    ]
    for call, message in cases:
        with pytest.raises(ExplainError, match=message):
            call()
