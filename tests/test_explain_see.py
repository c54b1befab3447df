"""scratchnet.explain's unit edits, pruning and embeddings against independent computations:
a plain forward written from the weights, per-row loops, and an SVD for the principal components."""

import numpy as np
import pytest

from scratchnet.errors import ExplainError
from scratchnet.explain import (
    EditedAccuracy,
    activation_range,
    knn_accuracy,
    layer_output,
    pca_embedding,
    prune,
    top_activating,
    with_biases_shifted,
    with_units_scaled,
)
from scratchnet.network import mlp

FORMULAS = {"ReLU": lambda z: np.maximum(z, 0.0), "Sigmoid": lambda z: 1 / (1 + np.exp(-z)), "Tanh": np.tanh}


def plain_outputs(model, x, scales=None, shifts=None):
    """Every layer's output, written from the weights; ``scales`` {(dense position, unit): f}
    multiply a hidden unit's activation (or an output unit's logit), ``shifts`` its bias."""
    scales, shifts = scales or {}, shifts or {}
    outputs, value = [], x.astype(np.float64)
    for i, layer in enumerate(model.layers):
        kind = type(layer).__name__
        if kind == "Dense":
            b = layer.params["b"].astype(np.float64).copy()
            for (j, u), s in shifts.items():
                if j == i:
                    b[u] += s
            value = value @ layer.params["W"] + b
        elif kind != "Dropout":
            value = FORMULAS[kind](value)
        value = value.copy()
        for (j, u), f in scales.items():
            last_of_unit = i + 1 == len(model.layers) or type(model.layers[i + 1]).__name__ == "Dense"
            if last_of_unit and max(k for k in range(i + 1) if type(model.layers[k]).__name__ == "Dense") == j:
                value[:, u] *= f
        outputs.append(value)
    return outputs


@pytest.fixture
def model():
    return mlp(20, [12, 8], 5, rng=np.random.default_rng(1), dtype=np.float64)


@pytest.fixture
def data():
    rng = np.random.default_rng(2)
    return rng.normal(size=(300, 20)), rng.integers(0, 5, 300)


def test_layer_output_and_top_activating_match_a_plain_forward(model, data):
    x, _ = data
    plain = plain_outputs(model, x)
    for layer in range(len(model.layers)):
        np.testing.assert_allclose(layer_output(model, x, layer), plain[layer], rtol=1e-10, atol=1e-12)
    column = plain[3][:, 4]
    expected = sorted(range(len(x)), key=lambda r: -column[r])[:9]
    assert list(top_activating(model, x, 3, 4)) == expected
    assert list(top_activating(model, x, 3, 4, k=3)) == expected[:3]


def test_scaled_units_reach_the_next_layers_multiplied(model, data):
    x, _ = data
    before = model.state_dict()
    factors = {(0, 3): 0.0, (3, 5): 1.7, (4, 2): 0.5}  # a hidden unit silenced, one via its ReLU, an output logit
    edited = with_units_scaled(model, factors)
    expected = plain_outputs(model, x, scales={(0, 3): 0.0, (2, 5): 1.7, (4, 2): 0.5})[-1]
    np.testing.assert_allclose(edited.forward(x), expected, rtol=1e-10, atol=1e-12)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_shifted_bias_moves_the_units_sum(model, data):
    x, _ = data
    edited = with_biases_shifted(model, {(1, 7): -0.8, (4, 0): 2.0})  # via the ReLU, and an output unit
    expected = plain_outputs(model, x, shifts={(0, 7): -0.8, (4, 0): 2.0})[-1]
    np.testing.assert_allclose(edited.forward(x), expected, rtol=1e-10, atol=1e-12)
    assert model.layers[0].params["b"][7] != edited.layers[0].params["b"][7]


@pytest.mark.parametrize("bad", [(9, 0), (0, 12), (-1, 0)])
def test_a_unit_that_is_not_there_is_refused(model, bad):
    with pytest.raises(ExplainError):
        with_units_scaled(model, {bad: 0.5})
    with pytest.raises(ExplainError, match="finite"):
        with_units_scaled(model, {(0, 0): float("nan")})


def test_prune_zeroes_the_smallest_weights_of_each_layer(model):
    pruned = prune(model, 0.3)
    for original, cut in zip(model.dense_layers, pruned.dense_layers, strict=True):
        w, p = original.params["W"], cut.params["W"]
        count = round(0.3 * w.size)
        assert np.count_nonzero(p == 0) == count
        threshold = np.sort(np.abs(w).ravel())[count - 1]
        assert np.all(np.abs(w[p == 0]) <= threshold)
        np.testing.assert_array_equal(p[p != 0], w[p != 0])
        np.testing.assert_array_equal(cut.params["b"], original.params["b"])
    assert np.count_nonzero(prune(model, 0.0).dense_layers[0].params["W"] == 0) == 0
    with pytest.raises(ExplainError):
        prune(model, 1.5)


def test_pca_embedding_matches_an_svd(model, data):
    x, _ = data
    values = plain_outputs(model, x)[3]
    centred = values - values.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :2] * s[:2]
    embedding = pca_embedding(model, x, 3)
    assert embedding.shape == (300, 2)
    for k in range(2):  # components are defined up to their sign
        sign = np.sign(embedding[:, k] @ expected[:, k])
        np.testing.assert_allclose(embedding[:, k], sign * expected[:, k], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(pca_embedding(model, x, 3, dims=3)[:, :2], embedding, atol=1e-9)


def test_pca_embedding_refuses_outputs_that_overflowed(model, data):
    x, _ = data
    blown = model.copy()
    for dense in (0, 2):  # finite weights whose outputs overflow to infinity
        blown.layers[dense].params["W"] *= 1e200
    with np.errstate(all="raise"):  # nothing overflows unseen on the way to the refusal
        with pytest.raises(ExplainError, match="too large to map"):
            pca_embedding(blown, x, 3)


def test_knn_accuracy_counts_leave_one_out_votes():
    rng = np.random.default_rng(3)
    points, labels = rng.normal(size=(60, 2)), rng.integers(0, 3, 60)
    right = 0
    for i in range(60):
        distances = [(np.linalg.norm(points[i] - points[j]), j) for j in range(60) if j != i]
        nearest = [labels[j] for _, j in sorted(distances)[:5]]
        counts = {c: nearest.count(c) for c in nearest}
        best = max(counts.values())
        right += next(c for c in nearest if counts[c] == best) == labels[i]
    assert knn_accuracy(points, labels, 5) == pytest.approx(right / 60)
    separated = np.repeat(np.arange(3), 20)[:, None] * np.array([[10.0, 0.0]]) + rng.normal(size=(60, 2))
    assert knn_accuracy(separated, np.repeat(np.arange(3), 20)) == 1.0


def test_edited_accuracy_runs_from_the_first_changed_layer(model, data):
    x, y = data
    lab = EditedAccuracy(model, x, y)
    cases = [
        (with_units_scaled(model, {(1, 4): 0.0}), 2),  # silencing a hidden unit edits the next Dense
        (with_biases_shifted(model, {(0, 2): 1.5}), 0),
        (with_units_scaled(model, {(4, 1): 2.0}), 4),
        (model.copy(), 5),
    ]
    for edited, start in cases:
        probs = lab.probabilities(edited)
        assert lab.start == start
        logits = plain_outputs(edited, x)[-1]
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(probs, expected / expected.sum(axis=1, keepdims=True), rtol=1e-9, atol=1e-12)
        assert lab.accuracy(edited) == pytest.approx(np.mean(np.argmax(logits, axis=1) == y))
    with pytest.raises(ExplainError):
        lab.accuracy(mlp(20, [12], 5))
    plain = plain_outputs(model, x)
    for layer in range(len(model.layers)):
        np.testing.assert_allclose(lab.output(layer), plain[layer], rtol=1e-10, atol=1e-12)


def test_activation_range_follows_the_activation():
    for name, expected in (("sigmoid", (0.0, 1.0)), ("tanh", (-1.0, 1.0)), ("relu", None)):
        net = mlp(4, [3], 2, activation=name)
        assert activation_range(net, 0) == expected
        assert activation_range(net, 1) == expected
    assert activation_range(mlp(4, [], 2), 0) is None
