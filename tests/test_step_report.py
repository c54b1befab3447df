"""What one update did: ``describe_step`` against plain NumPy, and ``StepRecorder`` in a real
training loop, where the recorded batch must be the one the update learned from (its hand-made
SGD step gives the weights the loop produced)."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.augment import Augmenter
from scratchnet.control import TrainingControl
from scratchnet.network import mlp
from scratchnet.optimizers import make_optimizer
from scratchnet.step_report import StepRecorder, describe_step
from scratchnet.training import TrainConfig, input_form, train


def softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits, labels):
    return float(-np.log(softmax_rows(logits)[np.arange(len(labels)), labels]).mean())


def test_describe_step_matches_a_hand_made_sgd_step():
    rng = np.random.default_rng(0)
    x = rng.random((8, 6)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    before = mlp(6, [5], 3, rng=np.random.default_rng(1), dtype=np.float64)
    W1, b1 = before.layers[0].params["W"].copy(), before.layers[0].params["b"].copy()
    W2, b2 = before.layers[2].params["W"].copy(), before.layers[2].params["b"].copy()
    # forward, backward and an SGD step by hand
    h_pre = x @ W1 + b1
    h = np.maximum(h_pre, 0)
    logits = h @ W2 + b2
    d = (softmax_rows(logits) - np.eye(3)[y]) / len(y)
    gW2, gb2 = h.T @ d, d.sum(0)
    dh = (d @ W2.T) * (h_pre > 0)
    gW1, gb1 = x.T @ dh, dh.sum(0)
    lr = 0.5
    after = mlp(6, [5], 3, dtype=np.float64)
    after.load_state_dict({"0.W": W1 - lr * gW1, "0.b": b1 - lr * gb1, "2.W": W2 - lr * gW2, "2.b": b2 - lr * gb2})

    report = describe_step(before, after, x, y, np.arange(8), update=7)
    assert report.update == 7 and report.batch_size == 8
    assert report.loss_before == pytest.approx(cross_entropy(logits, y))
    after_logits = np.maximum(x @ (W1 - lr * gW1) + b1 - lr * gb1, 0) @ (W2 - lr * gW2) + b2 - lr * gb2
    assert report.loss_after == pytest.approx(cross_entropy(after_logits, y))
    np.testing.assert_array_equal(report.predicted_before, logits.argmax(1))
    np.testing.assert_array_equal(report.predicted_after, after_logits.argmax(1))
    assert [m.name for m in report.moves] == ["Dense 1 (6→5)", "Dense 2 (5→3)"]
    for move, gW, gb, W in zip(report.moves, (gW1, gW2), (gb1, gb2), (W1, W2), strict=True):
        assert move.weight_change == pytest.approx(lr * np.sqrt((gW ** 2).sum()))
        assert move.bias_change == pytest.approx(lr * np.sqrt((gb ** 2).sum()))
        assert move.relative_change == pytest.approx(lr * np.sqrt((gW ** 2).sum() / (W ** 2).sum()))


def step_through(model, optimizer, x, y, config, *, augment=None, steps=3):
    """Train ``model``, paused from the start, stepping ``steps`` times the way the window's worker
    does: the control's hook (in the loop's thread) arms the recorder and asks for a log after the
    step, whose ``rows`` the recorder reports. Returns (weights before, report, weights after) per step."""
    control = TrainingControl()
    recorder = StepRecorder(model, x, y)
    config.log_interval = 3600  # no other batch log: only the ones the steps ask for
    found = []
    weights_before: dict = {}

    def between_updates(stepping: bool) -> None:
        if stepping:
            weights_before.update(model.state_dict())
            recorder.arm(control.updates_started + 1)
            config.log_interval = 0.0
        elif len(found) < steps:
            control.step()
        else:
            control.stop()

    control.between_updates = between_updates
    control.pause()
    for log in train(model, optimizer, x, y, config, control=control, augment=recorder.augment(augment)):
        report = recorder.report_from(log)
        if report is not None:
            found.append((dict(weights_before), report, model.state_dict()))
            config.log_interval = 3600
    return found


def hand_sgd_step(before: dict, inputs, labels, lr):
    """Softmax regression's SGD step in plain NumPy (float64): the weights after it."""
    W, b = before["0.W"].astype(np.float64), before["0.b"].astype(np.float64)
    inputs = inputs.astype(np.float64)
    d = (softmax_rows(inputs @ W + b) - np.eye(W.shape[1])[labels]) / len(labels)
    return W - lr * inputs.T @ d, b - lr * d.sum(0)


@pytest.mark.parametrize("case", ["sparse mini-batch", "augmented mini-batch", "one sample", "duplicate images"])
def test_the_reported_batch_is_the_one_the_update_learned_from(mnist, case):
    x, y = mnist.x_train[:640].copy(), mnist.y_train[:640].copy()
    if case == "duplicate images":
        # the second half repeats the first with other labels: rows found by their bytes would
        # take the first copy's label; the loop's own rows cannot
        x[320:] = x[:320]
        y[320:] = (y[:320] + 1) % 10
    batch_size = 1 if case == "one sample" else 32
    augment = Augmenter() if case == "augmented mini-batch" else None
    model = mlp(784, [], 10, rng=np.random.default_rng(3))
    optimizer = make_optimizer("sgd", 0.1)
    config = TrainConfig(descent="mini" if batch_size > 1 else "sgd", batch_size=batch_size, epochs=1)
    assert input_form(model, optimizer, x, config.descent, augment) == ("dense" if augment else "columns")
    found = step_through(model, optimizer, x, y, config, augment=augment)
    assert len(found) == 3
    seen = set()
    for k, (before, report, after) in enumerate(found):
        assert report.update == k + 1 and report.batch_size == batch_size
        np.testing.assert_array_equal(report.labels, y[report.indices])
        if augment is None:
            np.testing.assert_array_equal(report.inputs, x[report.indices])
        else:
            assert not np.array_equal(report.inputs, x[report.indices])  # shifted or rotated
        seen |= set(report.indices.tolist())
        # the loss before, recomputed in plain NumPy on the reported inputs and labels
        W, b = before["0.W"].astype(np.float64), before["0.b"].astype(np.float64)
        inputs = report.inputs.astype(np.float64)
        assert report.loss_before == pytest.approx(cross_entropy(inputs @ W + b, report.labels), rel=1e-5)
        # SGD by hand on them, from the weights before, gives the loop's result: they are the batch it used
        W_after, b_after = hand_sgd_step(before, report.inputs, report.labels, 0.1)
        np.testing.assert_allclose(after["0.W"], W_after, atol=1e-5)
        np.testing.assert_allclose(after["0.b"], b_after, atol=1e-5)
        assert report.moves[0].weight_change == pytest.approx(np.linalg.norm(W_after - W), rel=1e-4)
    assert len(seen) == 3 * batch_size  # three different batches of one epoch


@pytest.mark.parametrize("augmented", [False, True])
def test_a_full_batch_step_reports_every_training_row_and_the_loss_of_the_whole_set(augmented):
    rng = np.random.default_rng(4)
    x = rng.random((300, 784)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    model = mlp(784, [], 10, rng=np.random.default_rng(5))
    augment = Augmenter() if augmented else None
    config = TrainConfig(descent="full", epochs=3, full_batch_chunk=128)  # three chunks
    ((before, report, after),) = step_through(model, make_optimizer("sgd", 0.01), x, y, config, augment=augment,
                                              steps=1)
    assert report.update == 1 and report.batch_size == 300
    np.testing.assert_array_equal(report.indices, np.arange(300))
    # augmented: every chunk's augmented rows, in order (the hand-made step below proves it)
    assert np.array_equal(report.inputs, x) != augmented
    W, b = before["0.W"].astype(np.float64), before["0.b"].astype(np.float64)
    assert report.loss_before == pytest.approx(cross_entropy(report.inputs.astype(np.float64) @ W + b, y), rel=1e-5)
    W_after, b_after = hand_sgd_step(before, report.inputs, y, 0.01)
    np.testing.assert_allclose(after["0.W"], W_after, atol=1e-5)
    np.testing.assert_allclose(after["0.b"], b_after, atol=1e-5)
    assert report.loss_after < report.loss_before


def test_a_log_of_another_update_gives_no_report_and_keeps_the_recorder_armed():
    x = np.zeros((4, 3), np.float32)
    model = mlp(3, [], 2, rng=np.random.default_rng(0))
    recorder = StepRecorder(model, x, np.zeros(4, np.int64))
    recorder.arm(5)
    assert recorder.report_from({"event": "batch", "update": 4, "rows": np.array([0])}) is None
    assert recorder.report_from({"event": "epoch", "update": 5}) is None
    assert recorder.armed
    report = recorder.report_from({"event": "batch", "update": 5, "rows": np.array([2, 1])})
    assert report.update == 5 and report.indices.tolist() == [2, 1] and not recorder.armed


def test_a_convolutional_step_reports_its_convolutions_too():
    from scratchnet.run_config import RunConfig

    rng = np.random.default_rng(0)
    x = rng.random((4, 784))
    y = rng.integers(0, 10, 4)
    before = RunConfig(layers="conv5x5x3,relu,pool2,flatten,dense8,relu").build_model(784, 10)
    after = before.copy()
    after.layers[1].params["W"] += 0.01  # the convolution: 3·25 weights each moved by 0.01
    after.layers[5].params["b"] += 0.5
    report = describe_step(before, after, x, y, np.arange(4), update=1)
    assert [m.name for m in report.moves] == ["Conv 1 (5×5, 1→3 channels)", "Dense 1 (432→8)", "Dense 2 (8→10)"]
    assert report.moves[0].weight_change == pytest.approx(0.01 * np.sqrt(75), rel=1e-5)
    assert report.moves[0].bias_change == 0 and report.moves[2].weight_change == 0
    assert report.moves[1].bias_change == pytest.approx(0.5 * np.sqrt(8))
