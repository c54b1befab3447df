"""Softmax cross-entropy: known values, stability and its fused gradient."""

import numpy as np
import pytest

from scratchnet.gradcheck import numeric_gradient, relative_error
from scratchnet.losses import SoftmaxCrossEntropy, one_hot, softmax


def test_softmax_known_values():
    p = softmax(np.array([[0.0, np.log(3.0)]]))
    np.testing.assert_allclose(p, [[0.25, 0.75]])


def test_uniform_logits_give_log_c():
    loss = SoftmaxCrossEntropy().forward(np.zeros((4, 10)), np.array([0, 3, 5, 9]))
    assert loss == pytest.approx(np.log(10))


def test_known_loss_and_gradient():
    logits = np.array([[2.0, 1.0, 0.1]])
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(logits, np.array([0]))
    p = np.exp(logits) / np.exp(logits).sum()
    assert loss == pytest.approx(-np.log(p[0, 0]))
    np.testing.assert_allclose(loss_fn.backward(), p - [[1, 0, 0]])


def test_int_and_one_hot_labels_agree():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 10))
    labels = rng.integers(0, 10, 6)
    a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
    assert a.forward(logits, labels) == pytest.approx(b.forward(logits, one_hot(labels, 10, np.float64)))
    np.testing.assert_allclose(a.backward(), b.backward())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    loss_fn = SoftmaxCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        right = loss_fn.forward(logits, np.array([0, 2]))
        grad = loss_fn.backward()
    assert right == pytest.approx(0.0)
    assert np.isfinite(grad).all()
    wrong = SoftmaxCrossEntropy().forward(logits, np.array([1, 0]))
    assert np.isfinite(wrong) and wrong == pytest.approx(2e4 / 2 + 2e4 / 2)
    assert np.isfinite(softmax(logits)).all()


def test_fused_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    loss_fn = SoftmaxCrossEntropy()
    loss_fn.forward(logits, labels)
    analytic = loss_fn.backward()
    numeric = numeric_gradient(lambda: SoftmaxCrossEntropy().forward(logits, labels), logits)
    assert relative_error(analytic, numeric) < 1e-6


def test_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="labels"):
        SoftmaxCrossEntropy().forward(np.zeros((3, 4)), np.zeros(2, dtype=int))
