"""The optimised training paths compute the same maths as the generic ones."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.batch_steps import backward_to_params
from scratchnet.errors import TrainingDiverged
from scratchnet.fastpaths import (
    nonzero_columns,
    one_sample_path_supported,
    sparse_matvec,
    sparse_rows,
    subtract_rank1,
)
from scratchnet.network import mlp
from scratchnet.optimizers import SGD, Adam, make_optimizer
from scratchnet.threads import BlasThreads, _blas_libraries
from scratchnet.training import TrainConfig, train

F32 = {"rtol": 2e-4, "atol": 2e-5}


def sparse_data(n=120, features=40, classes=4, seed=0):
    """Inputs in [0, 1] with about 80% zeros, like MNIST pixels, and labels that depend on them."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    x[rng.random((n, features)) < 0.8] = 0
    y = (x[:, :classes] .argmax(axis=1) + (x.sum(axis=1) > x.sum(axis=1).mean())) % classes
    return x, y.astype(np.int64)


def trained(descent, optimizer_name, *, activation="relu", dropout=0.0, epochs=2, **config):
    x, y = sparse_data()
    model = mlp(40, [16, 8], 4, activation=activation, dropout=dropout, rng=np.random.default_rng(3))
    optimizer = make_optimizer(optimizer_name, 0.05)
    cfg = TrainConfig(descent=descent, epochs=epochs, seed=7, log_interval=0, **config)
    logs = list(train(model, optimizer, x, y, cfg))
    return model, optimizer, logs


def update_losses(logs):
    return np.concatenate([log["losses"] for log in logs if log["event"] == "batch"])


@pytest.mark.parametrize("optimizer_name", ["sgd", "momentum", "nesterov"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_one_sample_fast_path_matches_the_generic_path(optimizer_name, dropout):
    # descent="sgd" takes the fast path; mini-batches of 1 take the generic one, same shuffle
    fast, fast_opt, fast_logs = trained("sgd", optimizer_name, dropout=dropout)
    generic, generic_opt, generic_logs = trained("mini", optimizer_name, dropout=dropout, batch_size=1)
    assert one_sample_path_supported(fast, fast_opt)
    for name, value in generic.parameters().items():
        np.testing.assert_allclose(fast.parameters()[name], value, **F32, err_msg=name)
    np.testing.assert_allclose(update_losses(fast_logs), update_losses(generic_logs), **F32)
    fast_epochs = [log for log in fast_logs if log["event"] == "epoch"]
    generic_epochs = [log for log in generic_logs if log["event"] == "epoch"]
    assert [e["accuracy"] for e in fast_epochs] == [e["accuracy"] for e in generic_epochs]
    assert fast_opt.steps == generic_opt.steps == 240
    assert set(fast_opt.state) == set(generic_opt.state)


@pytest.mark.parametrize("activation", ["leaky_relu", "sigmoid", "tanh"])
def test_fast_path_matches_for_every_activation(activation):
    fast, _, _ = trained("sgd", "sgd", activation=activation)
    generic, _, _ = trained("mini", "sgd", activation=activation, batch_size=1)
    for name, value in generic.parameters().items():
        np.testing.assert_allclose(fast.parameters()[name], value, **F32, err_msg=name)


def test_unsupported_optimisers_use_the_generic_path_unchanged():
    model = mlp(40, [8], 4, rng=np.random.default_rng(0))
    assert not one_sample_path_supported(model, Adam(0.01))
    assert not one_sample_path_supported(model, SGD(0.01, weight_decay=1e-4))
    sgd_run, _, _ = trained("sgd", "adam")
    mini_run, _, _ = trained("mini", "adam", batch_size=1)
    for name, value in mini_run.parameters().items():
        np.testing.assert_array_equal(sgd_run.parameters()[name], value)


def test_sparse_first_layer_forward_and_update_equal_the_dense_ones():
    x, _ = sparse_data(n=1)
    row = x[0]
    rng = np.random.default_rng(1)
    w = rng.standard_normal((40, 16)).astype(np.float32)
    d = rng.standard_normal(16).astype(np.float32)
    rows, values = sparse_rows(row)
    assert len(rows) < len(row) / 2
    np.testing.assert_allclose(sparse_matvec(rows, values, w), row @ w, **F32)
    dense = w - np.multiply.outer(row, d)
    sparse = w.copy()
    subtract_rank1(sparse, rows, values, d)
    np.testing.assert_array_equal(sparse, dense)


def test_nonzero_columns_hold_every_rows_non_zero_columns_and_values():
    x, _ = sparse_data(n=50)
    x[7] = 0  # a blank row
    starts, cols, values = nonzero_columns(x, chunk=16)  # chunks that split the rows unevenly
    assert len(starts) == 51 and starts[0] == 0 and starts[-1] == np.count_nonzero(x)
    for j, row in enumerate(x):
        np.testing.assert_array_equal(cols[starts[j] : starts[j + 1]], np.flatnonzero(row))
        np.testing.assert_array_equal(values[starts[j] : starts[j + 1]], row[row != 0])
    assert starts[8] == starts[7] and values.dtype == x.dtype


def test_chunked_full_batch_gradient_equals_the_one_shot_gradient():
    chunked, _, _ = trained("full", "momentum", epochs=3, full_batch_chunk=7)
    one_shot, _, _ = trained("full", "momentum", epochs=3, full_batch_chunk=10_000)
    for name, value in one_shot.parameters().items():
        np.testing.assert_allclose(chunked.parameters()[name], value, **F32, err_msg=name)


def test_backward_to_params_fills_the_same_gradients_as_backward():
    x, _ = sparse_data(n=10)
    model = mlp(40, [16, 8], 4, rng=np.random.default_rng(0))
    grad = np.random.default_rng(1).standard_normal((10, 4)).astype(np.float32)
    model.forward(x, training=True)
    model.backward(grad)
    expected = {name: g.copy() for name, g in model.named_grads().items()}
    for g in model.named_grads().values():
        g[...] = np.nan
    model.forward(x, training=True)
    backward_to_params(model, grad)
    for name, g in model.named_grads().items():
        np.testing.assert_array_equal(g, expected[name], err_msg=name)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fast_path_raises_on_divergence_and_keeps_finite_weights():
    x, y = sparse_data()
    model = mlp(40, [16], 4, rng=np.random.default_rng(0))
    assert one_sample_path_supported(model, SGD(1.0, momentum=0.9))
    with pytest.raises(TrainingDiverged, match="learning rate"):
        for _ in train(model, SGD(1e30, momentum=0.9), x * 1e6, y, TrainConfig(descent="sgd", epochs=5)):
            pass
    assert all(np.isfinite(p).all() for p in model.parameters().values())


@pytest.mark.skipif(not _blas_libraries(), reason="threadpoolctl is not installed")
def test_blas_threads_chooses_a_candidate_and_restores_the_thread_count():
    original = [lib.get_num_threads() for lib in _blas_libraries()]
    a = np.ones((64, 64), np.float32)
    with BlasThreads(batch_size=128) as threads:
        assert threads.candidates == (0, 1)
        for _ in range(6):
            threads.before_update()
            a @ a
            threads.after_update()
        assert threads.chosen in (0, 1)
    with BlasThreads(batch_size=1) as threads:
        assert threads.chosen == 1 and threads.candidates == (1,)
        # Read back only when OpenBLAS honours the request: after a QThread has trained with its own
        # limit in the same process (the GUI tests), this OpenBLAS build was seen to keep reporting 2.
        if original == [lib.get_num_threads() for lib in _blas_libraries()] and original != [1] * len(original):
            pytest.xfail("this OpenBLAS ignored openblas_set_num_threads(1) in this process")
        assert [lib.get_num_threads() for lib in _blas_libraries()] == [1] * len(original)
    assert [lib.get_num_threads() for lib in _blas_libraries()] == original
