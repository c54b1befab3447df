"""The mini-batch fast paths (fused plain-SGD steps, sparse first layer) compute the generic maths."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet.batch_steps as batch_steps
import scratchnet.training as training
from scratchnet.batch_steps import (
    SPARSE_MAX_FRACTION,
    BatchSteps,
    SparseInputBatchSteps,
    nonzero_bitmap,
    sparse_input_path_supported,
)
from scratchnet.layers import Dense, Dropout, ReLU, Sigmoid, Tanh
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import Sequential, mlp
from scratchnet.optimizers import SGD, make_optimizer
from scratchnet.training import TrainConfig, train

F32 = {"rtol": 1e-4, "atol": 1e-5}


def sparse_data(n=300, features=60, classes=4, seed=0, zeros=0.8):
    """Inputs in [0, 1] with a fraction ``zeros`` of zeros, like MNIST pixels (about 0.8)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    x[rng.random((n, features)) < zeros] = 0
    y = (x[:, :classes].argmax(axis=1) + (x.sum(axis=1) > x.sum(axis=1).mean())) % classes
    return x, y.astype(np.int64)


def run(x, y, *, hidden=(24, 12), optimizer="sgd", batch_size=16, epochs=2, activation="relu", dropout=0.0):
    model = mlp(x.shape[1], list(hidden), 4, activation=activation, dropout=dropout, rng=np.random.default_rng(3))
    opt = make_optimizer(optimizer, 0.1)
    cfg = TrainConfig(descent="mini", batch_size=batch_size, epochs=epochs, seed=5, log_interval=0)
    logs = list(train(model, opt, x, y, cfg))
    return model, opt, logs


@pytest.fixture
def generic_path(monkeypatch):
    """Makes ``train`` use the generic BatchSteps: no sparse first layer, no fused steps."""

    def use_generic():
        monkeypatch.setattr(training, "sparse_input_path_supported", lambda *args: False)
        monkeypatch.setattr(batch_steps, "plain_sgd", lambda optimizer: False)

    return use_generic


def assert_same_training(fast, generic):
    (fast_model, fast_opt, fast_logs), (model, opt, logs) = fast, generic
    for name, value in model.parameters().items():
        np.testing.assert_allclose(fast_model.parameters()[name], value, **F32, err_msg=name)
    losses = [np.concatenate([log["losses"] for log in run_logs if log["event"] == "batch"])
              for run_logs in (fast_logs, logs)]
    np.testing.assert_allclose(losses[0], losses[1], **F32)
    assert fast_opt.steps == opt.steps


@pytest.mark.parametrize("batch_size", [1, 7, 16, 64])
@pytest.mark.parametrize("hidden", [(24,), (24, 12)])
def test_sparse_first_layer_path_matches_the_generic_path(generic_path, batch_size, hidden):
    x, y = sparse_data()
    model = mlp(60, list(hidden), 4)
    assert sparse_input_path_supported(model, SGD(0.1), x)
    fast = run(x, y, hidden=hidden, batch_size=batch_size)
    generic_path()
    assert_same_training(fast, run(x, y, hidden=hidden, batch_size=batch_size))


@pytest.mark.parametrize("activation", ["leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("dropout", [0.0, 0.25])
def test_fast_paths_match_for_every_activation_and_dropout(generic_path, activation, dropout):
    x, y = sparse_data()
    fast = run(x, y, activation=activation, dropout=dropout)
    generic_path()
    assert_same_training(fast, run(x, y, activation=activation, dropout=dropout))


LAYER_ORDERS = {
    "relu after tanh": lambda r: [Dense(60, 24, rng=r), Tanh(), ReLU(), Dense(24, 4, rng=r)],
    "two relus": lambda r: [Dense(60, 24, rng=r), ReLU(), ReLU(), Dense(24, 4, rng=r)],
    "relu after dropout": lambda r: [Dense(60, 24, rng=r), Dropout(0.0), ReLU(), Dense(24, 4, rng=r)],
    "relu after sigmoid, relu logits": lambda r: [Dense(60, 24, rng=r), Sigmoid(), ReLU(), Dense(24, 4, rng=r),
                                                  ReLU()],
    "leading relu": lambda r: [ReLU(), Dense(60, 24, rng=r), ReLU(), Dense(24, 4, rng=r)],
}


@pytest.mark.parametrize("order", LAYER_ORDERS)
def test_models_with_relus_anywhere_train_as_on_the_generic_path(generic_path, order):
    # The fused paths apply a ReLU in place (forward and backward) when it follows a Dense layer;
    # every other ReLU goes through its own forward and backward.
    x, y = sparse_data()

    def train_layers():
        model = Sequential(LAYER_ORDERS[order](np.random.default_rng(3)))
        opt = SGD(0.1)
        cfg = TrainConfig(descent="mini", batch_size=16, epochs=2, seed=5, log_interval=0)
        return model, opt, list(train(model, opt, x, y, cfg))

    fast = train_layers()
    generic_path()
    assert_same_training(fast, train_layers())


@pytest.mark.parametrize("rows", [1, 2, 17, 256])
def test_the_fused_loss_is_the_softmax_cross_entropy_with_the_learning_rate_folded_in(rows):
    rng = np.random.default_rng(rows)
    logits = (rng.standard_normal((rows, 10)) * 30).astype(np.float32)  # large: exercises the max shift
    labels = rng.integers(0, 10, rows)
    x, y = sparse_data()
    steps = BatchSteps(mlp(60, [8], 4), SGD(0.25), SoftmaxCrossEntropy(), x, y, 16)
    before = logits.copy()
    loss, correct = steps.fused_loss(logits, labels)
    np.testing.assert_array_equal(logits, before)  # the logits are left alone (B = 1 included)
    reference = SoftmaxCrossEntropy()
    assert loss == pytest.approx(reference.forward(logits, labels), rel=1e-6)
    assert correct == np.count_nonzero(np.argmax(logits, axis=1) == labels)
    np.testing.assert_allclose(steps._scaled_grad, 0.25 * reference.backward(), rtol=1e-5, atol=1e-8)


def test_fused_steps_on_dense_inputs_match_the_generic_path(generic_path):
    x, y = sparse_data(zeros=0.0)
    assert not sparse_input_path_supported(mlp(60, [24], 4), SGD(0.1), x)
    fast = run(x, y)
    generic_path()
    assert_same_training(fast, run(x, y))


def test_batches_with_too_many_non_zero_columns_take_the_dense_step():
    # half the rows are dense, so a batch holding one of them has every column non-zero
    x, y = sparse_data(n=64, zeros=0.9)
    x[::2] = np.random.default_rng(1).random((32, 60), dtype=np.float32) + 0.1
    model = mlp(60, [24], 4, rng=np.random.default_rng(0))
    reference = mlp(60, [24], 4, rng=np.random.default_rng(0))
    steps = SparseInputBatchSteps(model, SGD(0.1), SoftmaxCrossEntropy(), x, y, 4)
    generic = BatchSteps(reference, SGD(0.1), SoftmaxCrossEntropy(), x, y, 4)
    order = np.arange(64)
    steps.epoch(order)
    generic.epoch(order)
    for start in (0, 4):  # row 0 (dense) and rows 4-7 (dense, sparse, dense, sparse)
        assert len(steps.columns(order[start : start + 4])) > SPARSE_MAX_FRACTION * 60
        assert steps.forward(start)[0] == pytest.approx(generic.forward(start)[0], rel=1e-6)
        steps.update()
        generic.update()
    for name, value in reference.parameters().items():
        np.testing.assert_allclose(model.parameters()[name], value, **F32)


def test_columns_are_the_union_of_the_batch_rows_non_zero_pixels():
    x, _ = sparse_data(n=50, features=37, zeros=0.9)
    steps = SparseInputBatchSteps(mlp(37, [5], 4), SGD(0.1), SoftmaxCrossEntropy(), x, np.zeros(50, int), 8)
    for idx in (np.array([3]), np.array([0, 9, 17, 33]), np.arange(50)):
        expected = np.flatnonzero((x[idx] != 0).any(axis=0))
        np.testing.assert_array_equal(steps.columns(idx), expected)
    bits = nonzero_bitmap(x, chunk=7)
    np.testing.assert_array_equal(np.unpackbits(bits, axis=1, count=37).astype(bool), x != 0)


def test_only_plain_sgd_on_sparse_inputs_takes_the_sparse_path():
    x, _ = sparse_data()
    model = mlp(60, [24], 4)
    assert sparse_input_path_supported(model, SGD(0.1), x)
    assert not sparse_input_path_supported(model, SGD(0.1, momentum=0.9), x)
    assert not sparse_input_path_supported(model, SGD(0.1, weight_decay=1e-3), x)
    assert not sparse_input_path_supported(model, make_optimizer("adam", 0.01), x)
    assert not sparse_input_path_supported(model, SGD(0.1), x, augment=lambda xb, rng: xb)
    assert not sparse_input_path_supported(model, SGD(0.1), np.ones((10, 60), np.float32))


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "rmsprop", "adam"])
def test_other_optimisers_keep_the_generic_step_and_fill_the_gradients(optimizer):
    x, y = sparse_data()
    model = mlp(60, [24], 4)
    steps = BatchSteps(model, make_optimizer(optimizer, 0.01), SoftmaxCrossEntropy(), x, y, 16)
    assert not steps.fused
    steps.epoch(np.arange(300))
    steps.forward(0)
    steps.update()
    assert np.count_nonzero(model.layers[0].grads["W"]) > 0


def test_fast_paths_reach_the_generic_accuracy_on_mnist(mnist, generic_path):
    data = mnist
    x, y = data.x_train[:6000], data.y_train[:6000]

    def accuracy():
        model = mlp(784, [64], 10, rng=np.random.default_rng(0))
        cfg = TrainConfig(descent="mini", batch_size=32, epochs=2, seed=1, log_interval=1.0)
        logs = list(train(model, SGD(0.1), x, y, cfg, x_test=data.x_test[:2000], y_test=data.y_test[:2000]))
        return model, logs[-1]["test_accuracy"]

    fast_model, fast_accuracy = accuracy()
    generic_path()
    model, generic_accuracy = accuracy()
    assert fast_accuracy > 0.8, (fast_accuracy, generic_accuracy)
    assert abs(fast_accuracy - generic_accuracy) <= 0.002
    np.testing.assert_allclose(fast_model.layers[0].params["W"], model.layers[0].params["W"], rtol=1e-3, atol=1e-4)


def test_byte_codes_reproduce_pixels_scaled_by_the_loader_exactly(mnist):
    x = mnist.x_train[:5000]
    codes = batch_steps.byte_codes(x, chunk=777)
    assert codes is not None and codes.dtype == np.uint8
    np.testing.assert_array_equal(batch_steps.byte_values(codes), x)
    assert batch_steps.byte_codes(x + np.float32(1e-3)) is None  # not k / 255
    assert batch_steps.byte_codes(-x) is None
    assert batch_steps.byte_codes(x.astype(np.float64)) is None


def test_batches_gathered_from_byte_codes_train_bit_for_bit_like_the_floats(mnist):
    x, y = mnist.x_train[:2000], mnist.y_train[:2000]

    def weights(use_codes):
        model = mlp(784, [32], 10, rng=np.random.default_rng(0))
        steps = SparseInputBatchSteps(model, SGD(0.1), SoftmaxCrossEntropy(), x, y, 50)
        assert steps.codes is not None
        if not use_codes:
            steps.codes = None
        steps.epoch(np.random.default_rng(2).permutation(2000))
        for start in range(0, 2000, 50):
            steps.forward(start)
            steps.update()
        return model.parameters()

    with_codes, with_floats = weights(True), weights(False)
    for name, value in with_floats.items():
        np.testing.assert_array_equal(with_codes[name], value, err_msg=name)


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1.5, -0.5, 256.0])
def test_byte_codes_refuse_values_that_are_not_scaled_bytes(bad):
    x = np.arange(20, dtype=np.float32).reshape(4, 5) / np.float32(255)
    assert batch_steps.byte_codes(x) is not None
    x[2, 3] = bad
    assert batch_steps.byte_codes(x, chunk=3) is None


def test_full_batch_runs_build_no_mini_batch_state(monkeypatch):
    built = []
    monkeypatch.setattr(training, "SparseInputBatchSteps", lambda *a, **k: built.append(a))
    monkeypatch.setattr(training, "BatchSteps", lambda *a, **k: built.append(a))
    x, y = sparse_data()
    list(train(mlp(60, [8], 4), SGD(0.1), x, y, TrainConfig(descent="full", epochs=1)))
    assert built == []


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_generic_and_fused_steps_gather_bytes_bit_for_bit_like_the_floats(mnist, optimizer):
    x, y = mnist.x_train[:1000], mnist.y_train[:1000]

    def weights(use_codes):
        model = mlp(784, [16], 10, rng=np.random.default_rng(0))
        steps = BatchSteps(model, make_optimizer(optimizer, 0.05), SoftmaxCrossEntropy(), x, y, 40)
        assert steps.codes is not None
        if not use_codes:
            steps.codes = None
        steps.epoch(np.random.default_rng(2).permutation(1000))
        for start in range(0, 1000, 40):
            steps.forward(start)
            steps.update()
        return model.parameters()

    with_codes, with_floats = weights(True), weights(False)
    for name, value in with_floats.items():
        np.testing.assert_array_equal(with_codes[name], value, err_msg=name)


def test_a_batch_of_blank_inputs_leaves_the_first_weights_and_matches_the_generic_step():
    x, y = sparse_data(n=16)
    x[:8] = 0  # the first batch has no non-zero input column
    model = mlp(60, [24], 4, rng=np.random.default_rng(0))
    reference = mlp(60, [24], 4, rng=np.random.default_rng(0))
    steps = SparseInputBatchSteps(model, SGD(0.1), SoftmaxCrossEntropy(), x, y, 8)
    generic = BatchSteps(reference, SGD(0.1, momentum=0.0), SoftmaxCrossEntropy(), x, y, 8)
    generic.fused = False
    order = np.arange(16)
    steps.epoch(order)
    generic.epoch(order)
    assert len(steps.columns(order[:8])) == 0
    before = model.layers[0].params["W"].copy()
    for start in (0, 8):
        assert steps.forward(start)[0] == pytest.approx(generic.forward(start)[0], rel=1e-6)
        steps.update()
        generic.update()
        if start == 0:
            np.testing.assert_array_equal(model.layers[0].params["W"], before)  # x = 0: dL/dW = 0
    for name, value in reference.parameters().items():
        np.testing.assert_allclose(model.parameters()[name], value, **F32)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_the_sparse_path_refuses_optimisers_it_would_get_wrong(optimizer):
    x, y = sparse_data()
    with pytest.raises(ValueError, match="plain SGD"):
        SparseInputBatchSteps(mlp(60, [8], 4), make_optimizer(optimizer, 0.1), SoftmaxCrossEntropy(), x, y, 8)
