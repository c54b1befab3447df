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
from scratchnet.step_report import RowFinder, StepRecorder, describe_step
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


def test_row_finder_gives_each_rows_index_and_minus_one_for_unknown_rows():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    x[3] = x[1]  # identical rows: the first one
    finder = RowFinder(x)
    np.testing.assert_array_equal(finder.find(x[[2, 0, 3]]), [2, 0, 1])
    assert finder.find(np.full(3, -1.0, np.float32))[0] == -1


def stepped_reports(x, y, *, batch_size, augment=None, steps=3):
    """Train softmax regression with plain SGD, paused from the start, stepping ``steps`` times
    (from the control's hook, in the loop's thread); each report with the weights before and after."""
    model = mlp(x.shape[1], [], 10, rng=np.random.default_rng(3))
    optimizer = make_optimizer("sgd", 0.1)
    control = TrainingControl()
    recorder = StepRecorder(model, x, y, full_batch=False)
    found = []
    weights_before: dict = {}

    def between_updates(stepping: bool) -> None:
        if recorder.armed:
            found.append((dict(weights_before), recorder.report(control.updates_started), model.state_dict()))
        if stepping:
            weights_before.update(model.state_dict())
            recorder.arm()
        elif len(found) < steps:
            control.step()
        else:
            control.stop()

    control.between_updates = between_updates
    control.pause()
    config = TrainConfig(descent="mini" if batch_size > 1 else "sgd", batch_size=batch_size, epochs=1)
    form = input_form(model, optimizer, x, config.descent, augment)
    for _log in train(model, optimizer, x, y, config, control=control, augment=recorder.augment(augment)):
        pass
    return form, found


@pytest.mark.parametrize("case", ["sparse mini-batch", "augmented mini-batch", "one sample"])
def test_the_recorded_batch_is_the_one_the_update_learned_from(mnist, case):
    x, y = mnist.x_train[:640], mnist.y_train[:640]
    batch_size = 1 if case == "one sample" else 32
    augment = Augmenter() if case == "augmented mini-batch" else None
    form, found = stepped_reports(x, y, batch_size=batch_size, augment=augment)
    assert form == ("dense" if augment else "columns")  # the recorder saw both input forms
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
        # SGD by hand on the recorded inputs and labels, from the weights before: the loop's result
        W, b = before["0.W"].astype(np.float64), before["0.b"].astype(np.float64)
        inputs = report.inputs.astype(np.float64)
        d = (softmax_rows(inputs @ W + b) - np.eye(10)[report.labels]) / batch_size
        np.testing.assert_allclose(after["0.W"], W - 0.1 * inputs.T @ d, atol=1e-5)
        np.testing.assert_allclose(after["0.b"], b - 0.1 * d.sum(0), atol=1e-5)
        assert report.moves[0].weight_change == pytest.approx(0.1 * np.linalg.norm(inputs.T @ d), rel=1e-4)
    assert len(seen) == 3 * batch_size  # three different batches of one epoch


def test_a_full_batch_step_reports_every_training_row_and_the_loss_of_the_whole_set():
    from scratchnet.training import evaluate

    rng = np.random.default_rng(4)
    x = rng.random((300, 8)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    model = mlp(8, [6], 10, rng=np.random.default_rng(5))
    control = TrainingControl()
    recorder = StepRecorder(model, x, y, full_batch=True)
    reports, befores = [], []

    def between_updates(stepping: bool) -> None:
        if recorder.armed:
            reports.append(recorder.report(control.updates_started))
        if stepping:
            before = mlp(8, [6], 10)
            before.load_state_dict(model.state_dict())
            befores.append(before)
            recorder.arm()
        elif reports:
            control.stop()
        else:
            control.step()

    control.between_updates = between_updates
    control.pause()
    for _log in train(model, make_optimizer("sgd", 0.5), x, y, TrainConfig(descent="full", epochs=3), control=control):
        pass
    (report,) = reports
    assert report.update == 1 and report.batch_size == 300
    np.testing.assert_array_equal(report.indices, np.arange(300))
    assert report.loss_before == pytest.approx(evaluate(befores[0], x, y)[0])
    assert report.loss_after == pytest.approx(evaluate(model, x, y)[0])  # the model after its one update
    assert report.loss_after < report.loss_before
