"""Full-batch gradients over sorted, column-sparse chunks are the one-shot full-batch gradient."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet.full_batch as full_batch
import scratchnet.training as training
from scratchnet.batch_steps import byte_values
from scratchnet.control import TrainingControl
from scratchnet.full_batch import RowChunks, SparseInputChunks, sample_order, sparse_full_batch_supported
from scratchnet.layers import Dense, Dropout, ReLU, Tanh
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import Sequential, mlp
from scratchnet.optimizers import SGD, make_optimizer
from scratchnet.training import TrainConfig, train

F32 = {"rtol": 1e-4, "atol": 1e-5}


def sparse_pixels(n=200, side=6, classes=4, seed=0, dtype=np.float32):
    """Square 'images' of pixel bytes / 255, 80% zeros, drawn in a box that moves from row to row
    (so that sorting them matters), and labels that depend on them."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 256, (n, side, side)).astype(np.uint8)
    codes[rng.random((n, side, side)) < 0.6] = 0
    left, top = rng.integers(0, side // 2, n), rng.integers(0, side // 2, n)
    cols = np.arange(side)
    outside = (cols[None, None, :] < left[:, None, None]) | (cols[None, :, None] < top[:, None, None])
    codes[outside] = 0
    x = (codes.reshape(n, -1) / np.float32(255)).astype(dtype)
    y = (x[:, :classes].argmax(axis=1) + (x.sum(axis=1) > np.median(x.sum(axis=1)))) % classes
    return x, y.astype(np.int64)


def one_shot_gradient(model, x, y):
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(model.forward(x, training=True), y)
    model.backward(loss_fn.backward())
    return loss, {name: g.copy() for name, g in model.named_grads().items()}


def chunked_gradient(model, chunks):
    loss_fn = SoftmaxCrossEntropy()
    total = {name: np.zeros_like(p) for name, p in model.parameters().items()}
    loss_sum = 0.0
    for i in range(len(chunks)):
        logits, labels = chunks.forward(model, i)
        loss_sum += loss_fn.forward(logits, labels) * len(labels)
        grad = loss_fn.backward()
        grad *= len(labels) / chunks.n
        chunks.add_gradient(model, grad, total)
    return loss_sum / chunks.n, total


@pytest.mark.parametrize("side,features", [(6, 36), (None, 40)], ids=["square images", "flat features"])
@pytest.mark.parametrize("chunk", [1, 17, 64, 200])
def test_sorted_sparse_chunks_sum_to_the_one_shot_gradient(side, features, chunk):
    x, y = sparse_pixels(side=6, dtype=np.float64)
    if side is None:  # 40 features: not a square, so the order falls back to the first non-zero
        x = np.hstack([x, np.zeros((len(x), 4))])
    model = mlp(features, [16, 8], 4, rng=np.random.default_rng(1), dtype=np.float64)
    chunks = SparseInputChunks(model, x, y, chunk)
    loss, total = chunked_gradient(model, chunks)
    expected_loss, expected = one_shot_gradient(model, x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for name, g in expected.items():
        np.testing.assert_allclose(total[name], g, rtol=1e-10, atol=1e-12, err_msg=name)


def test_each_sample_is_in_one_chunk_with_its_columns_and_exact_inputs():
    x, y = sparse_pixels(n=150)
    model = mlp(36, [8], 4)
    chunks = SparseInputChunks(model, x, y, 32)
    assert len(chunks) == 5
    np.testing.assert_array_equal(np.sort(np.concatenate(chunks.rows)), np.arange(150))
    for rows, (labels, cols, inputs) in zip(chunks.rows, chunks._chunks, strict=True):
        np.testing.assert_array_equal(labels, y[rows])
        np.testing.assert_array_equal(cols, np.flatnonzero(np.any(x[rows] != 0, axis=0)))
        assert inputs.dtype == np.uint8  # pixel bytes / 255 are kept as bytes, and restored exactly
        np.testing.assert_array_equal(byte_values(inputs), x[rows][:, cols])
    logits, labels = chunks.forward(model, 0)
    np.testing.assert_allclose(logits, model.forward(x[chunks.rows[0]]), **F32)


def test_inputs_kept_as_bytes_train_bit_for_bit_like_floats(monkeypatch):
    x, y = sparse_pixels()

    def run():
        model = mlp(36, [16], 4, rng=np.random.default_rng(2))
        list(train(model, SGD(0.5), x, y, TrainConfig(descent="full", epochs=3, full_batch_chunk=50)))
        return model.state_dict()

    as_bytes = run()
    monkeypatch.setattr(full_batch, "byte_codes", lambda inputs: None)
    as_floats = run()
    for name, value in as_floats.items():
        np.testing.assert_array_equal(as_bytes[name], value, err_msg=name)


def test_samples_are_ordered_by_the_left_then_top_edge_of_their_drawing():
    x = np.zeros((4, 16), np.float32)  # 4 x 4 images
    x[0, 1 * 4 + 3] = 1  # left edge 3, top edge 1
    x[1, 2 * 4 + 0] = 1  # left edge 0, top edge 2
    x[2, 3 * 4 + 3] = 1  # left edge 3, top edge 3
    # row 3 is blank: it sorts first
    assert sample_order(x).tolist() == [3, 1, 0, 2]
    # 5 features are no square image: the first non-zero feature orders them
    assert sample_order(np.eye(5, dtype=np.float32)[::-1]).tolist() == [4, 3, 2, 1, 0]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_training_on_sparse_chunks_matches_the_row_chunks(monkeypatch, optimizer):
    x, y = sparse_pixels()

    def run():
        model = mlp(36, [16, 8], 4, rng=np.random.default_rng(3))
        cfg = TrainConfig(descent="full", epochs=4, full_batch_chunk=64)
        logs = [log for log in train(model, make_optimizer(optimizer, 0.1), x, y, cfg) if log["event"] == "epoch"]
        return model, logs

    sparse_model, sparse_logs = run()
    monkeypatch.setattr(training, "sparse_full_batch_supported", lambda model, x: False)
    model, logs = run()
    for name, value in model.parameters().items():
        np.testing.assert_allclose(sparse_model.parameters()[name], value, **F32, err_msg=name)
    for ours, theirs in zip(sparse_logs, logs, strict=True):
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-5)
        assert ours["accuracy"] == theirs["accuracy"]


def test_any_layers_above_the_first_dense_train_on_sparse_chunks(monkeypatch):
    x, y = sparse_pixels()

    def run():
        r = np.random.default_rng(4)
        model = Sequential([Dense(36, 16, rng=r), Tanh(), Dropout(0.0), Dense(16, 8, rng=r), ReLU(),
                            Dense(8, 4, rng=r)])
        list(train(model, SGD(0.3), x, y, TrainConfig(descent="full", epochs=3, full_batch_chunk=40)))
        return model.parameters()

    sparse = run()
    monkeypatch.setattr(training, "sparse_full_batch_supported", lambda model, x: False)
    for name, value in run().items():
        np.testing.assert_allclose(sparse[name], value, **F32, err_msg=name)


def test_which_runs_take_the_sparse_chunks():
    x, _ = sparse_pixels()
    assert sparse_full_batch_supported(mlp(36, [8], 4), x)
    assert not sparse_full_batch_supported(mlp(36, [8], 4), np.ones((10, 36), np.float32))
    assert not sparse_full_batch_supported(Sequential([ReLU(), Dense(36, 4)]), x)
    with pytest.raises(ValueError, match="first Dense layer"):
        SparseInputChunks(mlp(36, [8], 4), np.ones((10, 36), np.float32), np.zeros(10, np.int64), 4)


def test_a_stop_mid_step_on_sparse_chunks_leaves_the_weights_untouched():
    x, y = sparse_pixels()
    control = TrainingControl()
    control.stop()
    model = mlp(36, [8], 4, rng=np.random.default_rng(0))
    before = model.state_dict()
    logs = list(train(model, SGD(0.1), x, y, TrainConfig(descent="full", epochs=2, full_batch_chunk=20),
                      control=control))
    assert logs[-1]["stopped"] and logs[-1]["update"] == 0
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[name])


def test_sorting_mnist_halves_the_columns_a_chunk_leaves_out(mnist):
    x, y = mnist.x_train[:20_000], mnist.y_train[:20_000]
    sparse = SparseInputChunks(mlp(784, [8], 10), x, y, 2048)
    sorted_fraction = np.mean([len(sparse.columns(i)) for i in range(len(sparse))]) / 784
    rows = RowChunks(x, y, 2048)
    in_order = np.mean([np.count_nonzero(np.any(x[i * 2048 : (i + 1) * 2048] != 0, axis=0))
                        for i in range(len(rows))]) / 784
    assert sorted_fraction < 0.62 and in_order > 0.75  # measured: 0.55 and 0.78 at 20,000 images
