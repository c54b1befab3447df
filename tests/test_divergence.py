"""Absurd learning rates: training stops at the first non-finite loss, keeps finite weights and
says what to try; it never crashes and never leaves NaN in the model."""

import numpy as np
import pytest

from scratchnet.data import load_dataset
from scratchnet.errors import TrainingDiverged
from scratchnet.network import mlp
from scratchnet.optimizers import OPTIMIZER_NAMES, make_optimizer
from scratchnet.training import TrainConfig, train


@pytest.fixture(scope="module")
def small_mnist():
    return load_dataset("mnist").subset(2000)


@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
@pytest.mark.parametrize("descent", ["full", "mini", "sgd"])
def test_learning_rate_100_never_leaves_nan(small_mnist, optimizer, descent):
    model = mlp(784, [64], 10, rng=np.random.default_rng(0))
    config = TrainConfig(descent=descent, epochs=2 if descent != "full" else 5, batch_size=32)
    data = small_mnist.subset(300) if descent == "sgd" else small_mnist
    with np.errstate(all="ignore"):
        try:
            logs = list(train(model, make_optimizer(optimizer, 100.0), data.x_train, data.y_train, config,
                              x_test=data.x_test[:500], y_test=data.y_test[:500]))
        except TrainingDiverged as exc:
            message = str(exc)
            assert "diverged" in message and "smaller learning rate" in message
        else:
            assert logs[-1]["event"] == "done"
            assert np.isfinite(logs[-1]["test_loss"])
    for name, value in model.parameters().items():
        assert np.isfinite(value).all(), name


def test_the_error_names_the_epoch_and_the_loss(small_mnist):
    model = mlp(784, [64], 10, rng=np.random.default_rng(0))
    x = small_mnist.x_train * np.float32(1e4)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        list(train(model, make_optimizer("momentum", 1e4), x, small_mnist.y_train, TrainConfig(epochs=3)))
    message = str(info.value)
    assert "epoch 1" in message and ("nan" in message or "inf" in message)
    assert all(np.isfinite(v).all() for v in model.parameters().values())
