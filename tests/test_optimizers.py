"""Optimiser steps against values computed by hand from the torch.optim update rules."""

import math

import numpy as np
import pytest

from scratchnet.optimizers import SGD, Adam, RMSProp, make_optimizer
from scratchnet.sparse import OuterProductGrad


def _run(opt, grads_seq, p0=1.0):
    p = {"w": np.array([p0], dtype=np.float64)}
    out = []
    for g in grads_seq:
        opt.step(p, {"w": np.array([g], dtype=np.float64)})
        out.append(float(p["w"][0]))
    return out


def test_plain_sgd():
    assert _run(SGD(0.1), [2.0, -1.0]) == pytest.approx([0.8, 0.9])


def test_sgd_weight_decay_adds_l2_gradient():
    # g' = g + wd * p = 0 + 0.5 * 1.0; p = 1 - 0.1 * 0.5
    assert _run(SGD(0.1, weight_decay=0.5), [0.0]) == pytest.approx([0.95])


def test_momentum_buffer_starts_at_the_gradient():
    # b1 = 2 -> p = 1 - 0.2 = 0.8; b2 = 0.9*2 + 1 = 2.8 -> p = 0.8 - 0.28 = 0.52
    assert _run(SGD(0.1, momentum=0.9), [2.0, 1.0]) == pytest.approx([0.8, 0.52])


def test_nesterov():
    # b1 = 2, step = g + mu*b = 2 + 1.8 = 3.8 -> 0.62; b2 = 1.8 + 1 = 2.8, step = 1 + 2.52 = 3.52 -> 0.268
    assert _run(SGD(0.1, momentum=0.9, nesterov=True), [2.0, 1.0]) == pytest.approx([0.62, 0.268])


def test_rmsprop():
    # s1 = 0.1 * 4 = 0.4; p = 1 - 0.01 * 2 / (sqrt(0.4) + 1e-8)
    s1 = 0.4
    p1 = 1 - 0.01 * 2 / (math.sqrt(s1) + 1e-8)
    s2 = 0.9 * s1 + 0.1 * 1.0
    p2 = p1 - 0.01 * 1 / (math.sqrt(s2) + 1e-8)
    assert _run(RMSProp(0.01), [2.0, 1.0]) == pytest.approx([p1, p2])


def test_adam_first_steps():
    # With bias correction the first Adam step moves by lr * sign(g) (up to eps).
    out = _run(Adam(0.1), [2.0, 1.0])
    assert out[0] == pytest.approx(0.9, abs=1e-7)
    m2 = 0.9 * 0.2 + 0.1 * 1.0
    v2 = 0.999 * 0.004 + 0.001 * 1.0
    step = 0.1 / (1 - 0.9**2) * m2 / (math.sqrt(v2) / math.sqrt(1 - 0.999**2) + 1e-8)
    assert out[1] == pytest.approx(0.9 - step)


def test_state_is_owned_by_the_optimiser_and_keyed_by_name():
    opt = SGD(0.1, momentum=0.9)
    params = {"0.W": np.ones((2, 2)), "0.b": np.zeros(2)}
    opt.step(params, {"0.W": np.ones((2, 2)), "0.b": np.ones(2)})
    assert set(opt.state) == {"0.W", "0.b"}
    assert all("momentum_buffer" in slot for slot in opt.state.values())


def test_float32_parameters_stay_float32():
    for opt in (SGD(0.1, momentum=0.9), RMSProp(0.01), Adam(0.01)):
        p = {"w": np.ones(3, dtype=np.float32)}
        opt.step(p, {"w": np.full(3, 0.5, dtype=np.float32)})
        assert p["w"].dtype == np.float32


@pytest.mark.parametrize(
    "make",
    [
        lambda: SGD(0.0),
        lambda: SGD(-1.0),
        lambda: SGD(float("nan")),
        lambda: SGD(0.1, momentum=1.0),
        lambda: SGD(0.1, nesterov=True),
        lambda: SGD(0.1, weight_decay=-1),
        lambda: RMSProp(0.1, rho=1.5),
        lambda: Adam(0.1, beta1=1.0),
        lambda: Adam(0.1, eps=0.0),
        lambda: make_optimizer("adagrad", 0.1),
    ],
)
def test_bad_hyperparameters_raise_at_construction(make):
    with pytest.raises(ValueError):
        make()


def test_make_optimizer_names():
    assert make_optimizer("momentum", 0.1).momentum == 0.9
    assert make_optimizer("nesterov", 0.1, momentum=0.5).nesterov
    assert isinstance(make_optimizer("adam", 0.1), Adam)
    assert isinstance(make_optimizer("rmsprop", 0.1), RMSProp)


def test_matches_torch_when_available():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(5)]
    cases = [
        (lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        (lambda: RMSProp(0.01, rho=0.9), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8)),
        (lambda: Adam(0.01, weight_decay=0.1), lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
    ]
    for ours_factory, theirs_factory in cases:
        ours = {"w": w0.copy()}
        opt = ours_factory()
        tw = torch.tensor(w0.copy(), requires_grad=True)
        topt = theirs_factory([tw])
        for g in grads:
            opt.step(ours, {"w": g})
            tw.grad = torch.tensor(g)
            topt.step()
        np.testing.assert_allclose(ours["w"], tw.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_plain_sgd_forms_lr_times_one_samples_dy_once_for_weight_and_bias(monkeypatch):
    rng = np.random.default_rng(3)
    x, dy = rng.normal(size=5).astype(np.float32), rng.normal(size=3).astype(np.float32)
    w, b = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    params = {"W": w.copy(), "b": b.copy()}
    opt = SGD(0.1)
    made = []
    original = OuterProductGrad.product

    def product(grad, out, right=None):
        made.append(right)
        return original(grad, out, right=right)

    monkeypatch.setattr(OuterProductGrad, "product", product)
    opt.step(params, {"W": OuterProductGrad((x, dy, None, w.shape, None)), "b": dy})
    lr = np.float32(0.1)
    np.testing.assert_array_equal(params["W"], w - np.outer(x, dy * lr))
    np.testing.assert_array_equal(params["b"], b - dy * lr)
    assert len(made) == 1  # the bias took the lr * dy made for the weight

    # a bias gradient that is another array is stepped on its own, after the cache was dropped
    other = dy.copy()
    opt.step(params, {"W": OuterProductGrad((x, dy, None, w.shape, None)), "b": other * 2})
    np.testing.assert_allclose(params["b"], b - dy * lr - other * 2 * lr, rtol=1e-6)


def test_plain_sgd_writes_a_row_sparse_steps_rows_as_whole_records_with_the_same_bytes():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(12, 5)).astype(np.float32)
    rows = np.array([1, 4, 7, 11])
    left, right = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 5)).astype(np.float32)
    results = {}
    for order in ("C", "F"):  # F: rows not contiguous, so the plain p[rows] = block
        params = {"w": np.array(w, order=order)}
        opt = SGD(0.1)
        for _ in range(2):  # the second step reuses the kept records
            opt.step(params, {"w": OuterProductGrad((left, right, rows, w.shape, None))})
        records = opt._workspaces["w"][2]
        assert (records is not None) == (order == "C")  # which way the rows were written
        results[order] = params["w"]
    np.testing.assert_array_equal(results["C"], results["F"])
    expected = w.astype(np.float64)
    expected[rows] -= 2 * 0.1 * (left.T.astype(np.float64) @ right)
    np.testing.assert_allclose(results["C"], expected, rtol=1e-5, atol=1e-6)
    untouched = np.setdiff1d(np.arange(12), rows)
    np.testing.assert_array_equal(results["C"][untouched], w[untouched])


def test_plain_sgd_takes_new_records_when_a_parameter_array_is_replaced():
    opt = SGD(0.5)
    x, dy = np.ones(2, dtype=np.float32), np.ones(3, dtype=np.float32)
    for fill in (1.0, 2.0):
        params = {"w": np.full((4, 3), fill, dtype=np.float32)}
        opt.step(params, {"w": OuterProductGrad((x, dy, np.array([0, 2]), (4, 3), None))})
        np.testing.assert_array_equal(params["w"][[0, 2]], fill - 0.5)
        np.testing.assert_array_equal(params["w"][[1, 3]], fill)
        assert opt._workspaces["w"][0] is params["w"]
