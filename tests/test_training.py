"""The training loop: the three descents, logs, reproducibility, control and divergence."""

import math
import threading

import numpy as np
import pytest

from scratchnet.control import TrainingControl
from scratchnet.errors import TrainingDiverged
from scratchnet.network import mlp
from scratchnet.optimizers import SGD, Adam, make_optimizer
from scratchnet.training import TrainConfig, evaluate, train


def _toy(n=600, seed=0):
    """Three well-separated Gaussian blobs in 20-D: (n, 20) float32 and (n,) int labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, 20)) * 3
    y = rng.integers(0, 3, n)
    x = (centres[y] + rng.standard_normal((n, 20))).astype(np.float32)
    return x, y


def _run(descent, epochs=3, optimizer=None, seed=0, control=None, **kw):
    x, y = _toy()
    model = mlp(20, [16], 3, rng=np.random.default_rng(seed))
    opt = optimizer or SGD(0.1 if descent != "sgd" else 0.01)
    config = TrainConfig(descent=descent, epochs=epochs, seed=seed, batch_size=kw.pop("batch_size", 32), **kw)
    logs = list(train(model, opt, x[:500], y[:500], config, x_test=x[500:], y_test=y[500:], control=control))
    return model, logs


@pytest.mark.parametrize("descent,updates", [("full", 1), ("mini", 16), ("sgd", 500)])
def test_each_descent_learns_and_counts_updates(descent, updates):
    full = descent == "full"
    model, logs = _run(descent, optimizer=Adam(0.05) if full else None, epochs=5 if full else 3)
    start = logs[0]
    assert start["event"] == "start" and start["updates_per_epoch"] == updates
    epochs = [log for log in logs if log["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1))
    assert epochs[-1]["update"] == updates * len(epochs)
    assert epochs[-1]["test_accuracy"] > 0.9
    assert epochs[-1]["loss"] < epochs[0]["loss"] or descent == "sgd"
    keys = {"epoch", "loss", "accuracy", "test_loss", "test_accuracy", "seconds", "samples_per_second", "lr"}
    assert keys <= set(epochs[-1])
    assert logs[-1]["event"] == "done" and not logs[-1]["stopped"]


def test_batch_logs_carry_every_update_loss():
    _, logs = _run("sgd", epochs=1, log_interval=0.0)
    batches = [log for log in logs if log["event"] == "batch"]
    losses = np.concatenate([b["losses"] for b in batches])
    assert len(losses) == 500
    assert [b["first_update"] for b in batches] == [0] + [b["update"] for b in batches[:-1]]
    assert np.isfinite(losses).all()


def test_epoch_accuracy_matches_an_independent_evaluation():
    x, y = _toy()
    model, logs = _run("mini", epochs=2)
    done = logs[-1]
    loss, acc = evaluate(model, x[500:], y[500:])
    assert done["test_accuracy"] == pytest.approx(acc)
    assert done["test_accuracy"] == pytest.approx(np.mean(model.predict(x[500:]) == y[500:]))


@pytest.mark.parametrize("descent", ["full", "mini", "sgd"])
def test_same_seed_gives_identical_weights(descent):
    a, _ = _run(descent, epochs=2, seed=3, optimizer=make_optimizer("momentum", 0.01))
    b, _ = _run(descent, epochs=2, seed=3, optimizer=make_optimizer("momentum", 0.01))
    c, _ = _run(descent, epochs=2, seed=4, optimizer=make_optimizer("momentum", 0.01))
    for name, value in a.parameters().items():
        np.testing.assert_array_equal(value, b.parameters()[name])
    assert not np.array_equal(a.parameters()["0.W"], c.parameters()["0.W"])


def test_same_seed_with_dropout_is_reproducible():
    x, y = _toy()
    runs = []
    for _ in range(2):
        model = mlp(20, [16], 3, dropout=0.3, rng=np.random.default_rng(5))
        list(train(model, SGD(0.1), x, y, TrainConfig(epochs=2, seed=5)))
        runs.append(model.state_dict())
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def test_full_batch_chunked_gradient_equals_one_shot():
    x, y = _toy()
    updates = []
    for chunk in (len(x), 64, 37):
        model = mlp(20, [16], 3, rng=np.random.default_rng(0), dtype=np.float64)
        config = TrainConfig(descent="full", epochs=1, full_batch_chunk=chunk)
        list(train(model, SGD(0.5), x.astype(np.float64), y, config))
        updates.append(model.state_dict())
    for other in updates[1:]:
        for name in updates[0]:
            np.testing.assert_allclose(other[name], updates[0][name], rtol=1e-12, atol=1e-12)


def test_stop_request_is_honoured_between_updates():
    control = TrainingControl()
    x, y = _toy()
    model = mlp(20, [16], 3, rng=np.random.default_rng(0))
    seen = []
    for log in train(model, SGD(0.01), x, y, TrainConfig(descent="sgd", epochs=3, log_interval=0.0), control=control):
        seen.append(log)
        if log["event"] == "batch" and log["update"] >= 100:
            control.stop()
    done = seen[-1]
    assert done["event"] == "done" and done["stopped"]
    assert done["update"] <= 101
    assert done["epochs_completed"] == 0


def test_stop_before_the_first_full_batch_step_leaves_weights_untouched():
    # (a stop in the middle of a step: tests/test_batches.py)
    control = TrainingControl()
    control.stop()
    x, y = _toy()
    model = mlp(20, [16], 3, rng=np.random.default_rng(0))
    before = model.state_dict()
    config = TrainConfig(descent="full", epochs=2, full_batch_chunk=50)
    logs = list(train(model, SGD(0.1), x, y, config, control=control))
    assert logs[-1]["stopped"] and logs[-1]["update"] == 0
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[name])


def test_pause_step_and_resume_from_another_thread():
    control = TrainingControl()
    control.pause()
    x, y = _toy()
    model = mlp(20, [16], 3, rng=np.random.default_rng(0))
    logs = []

    def consume():
        config = TrainConfig(epochs=1, batch_size=10, log_interval=0.0)
        logs.extend(train(model, SGD(0.1), x, y, config, control=control))

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(0.3)
    assert worker.is_alive() and [log["event"] for log in logs] == ["start"]  # paused before update 1
    control.step()
    control.step()
    worker.join(0.3)
    assert max(log.get("update", 0) for log in logs) == 2  # exactly two single steps ran
    control.resume()
    worker.join(10)
    assert not worker.is_alive()
    assert logs[-1]["update"] == 60 and not logs[-1]["stopped"]


def test_learning_rate_change_mid_run():
    control = TrainingControl()
    x, y = _toy()
    model = mlp(20, [16], 3, rng=np.random.default_rng(0))
    opt = SGD(0.1)
    lrs = []
    for log in train(model, opt, x, y, TrainConfig(epochs=2, schedule="constant"), control=control):
        if log["event"] == "epoch":
            lrs.append(log["lr"])
            control.set_learning_rate(0.01)
    assert lrs == [0.1, pytest.approx(0.01)]


def test_schedules_change_the_learning_rate_per_epoch():
    x, y = _toy()
    for name, expected in (("step", [0.1, 0.05, 0.025]), ("cosine", [0.1, 0.075, 0.025])):
        model = mlp(20, [8], 3, rng=np.random.default_rng(0))
        logs = train(model, SGD(0.1), x, y, TrainConfig(epochs=3, schedule=name))
        lrs = [log["lr"] for log in logs if log["event"] == "epoch"]
        assert lrs == pytest.approx(expected), name


def test_divergence_raises_and_keeps_finite_weights():
    x, y = _toy()
    x = x * 1e3
    model = mlp(20, [16], 3, rng=np.random.default_rng(0))
    with pytest.raises(TrainingDiverged, match="learning rate"):
        list(train(model, SGD(1e6, momentum=0.9), x, y, TrainConfig(epochs=5, batch_size=8)))
    assert all(np.isfinite(p).all() for p in model.parameters().values())


def test_batch_larger_than_the_training_set_is_clamped_and_said():
    x, y = _toy(50)
    model = mlp(20, [4], 3, rng=np.random.default_rng(0))
    start = next(train(model, SGD(0.1), x, y, TrainConfig(batch_size=1000, epochs=1)))
    assert start["batch_size"] == 50 and "larger than" in start["notes"][0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"descent": "half"}, {"batch_size": 0}, {"epochs": -1}, {"seed": -2}, {"schedule": "warm"},
        {"log_interval": math.nan},
    ],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


def test_weights_overflowing_on_the_last_update_of_an_epoch_are_caught():
    x, y = _toy(64)
    model = mlp(20, [16], 3, rng=np.random.default_rng(0))
    before = model.state_dict()
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="weights became NaN or infinite"):
        # one full-batch update with an absurd step: the loss before it is finite, the weights after it are not
        list(train(model, SGD(1e38), x, y, TrainConfig(descent="full", epochs=1)))
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[name])


def test_batch_log_seconds_count_each_epoch_once():
    x, y = _toy()
    model = mlp(20, [16], 3, rng=np.random.default_rng(0))
    logs = list(train(model, SGD(0.1), x, y, TrainConfig(epochs=3, log_interval=10.0)))
    closing = [log for log in logs if log["event"] == "batch"]
    epochs = [log for log in logs if log["event"] == "epoch"]
    assert len(closing) == 3
    for batch, epoch in zip(closing, epochs, strict=True):
        assert batch["seconds"] == pytest.approx(sum(e["seconds"] for e in epochs[: epoch["epoch"]]), rel=0.05)


def test_train_accuracy_at_the_epoch_end_in_inference_mode_on_a_fixed_subset():
    x, y = _toy()
    model = mlp(20, [16], 3, dropout=0.5, rng=np.random.default_rng(0))
    config = TrainConfig(epochs=2, batch_size=16, train_eval_size=50, seed=3)
    epochs = [log for log in train(model, SGD(0.1), x, y, config) if log["event"] == "epoch"]
    assert all(e["train_eval_size"] == 50 for e in epochs)
    # the same subset, measured independently after the run: equal to the last epoch's figure
    subset = np.sort(np.random.default_rng(np.random.SeedSequence([3, 0x7EA1])).permutation(len(x))[:50])
    predictions = np.argmax(model.forward(x[subset], training=False), axis=1)
    assert epochs[-1]["train_eval_accuracy"] == np.mean(predictions == y[subset])
    # the run's own draws are unchanged by the measurement
    plain = mlp(20, [16], 3, dropout=0.5, rng=np.random.default_rng(0))
    list(train(plain, SGD(0.1), x, y, TrainConfig(epochs=2, batch_size=16, seed=3)))
    for name, value in plain.parameters().items():
        np.testing.assert_array_equal(model.parameters()[name], value)
    with pytest.raises(ValueError, match="train_eval_size"):
        TrainConfig(train_eval_size=-1)
