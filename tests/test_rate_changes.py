"""TrainingControl records at which update each learning rate set mid-run took effect: checked
against what the optimiser did (the weight change of that update is -lr x its gradient)."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.control import RateChange, TrainingControl
from scratchnet.network import mlp
from scratchnet.optimizers import make_optimizer
from scratchnet.training import TrainConfig, train


def run_with_change(change_after: int | None, new_lr: float = 0.5):
    """Plain SGD on random data, a batch log after every update; the weights and last-update
    gradients after each update; the rate is set right after update ``change_after``."""
    rng = np.random.default_rng(1)
    x = rng.random((96, 12), dtype=np.float32)
    y = rng.integers(0, 3, 96)
    model = mlp(12, [8], 3, rng=np.random.default_rng(2))
    control = TrainingControl()
    weights, grads, losses = {}, {}, []
    config = TrainConfig(descent="mini", batch_size=16, epochs=2, log_interval=0.0)
    for log in train(model, make_optimizer("sgd", 0.05), x, y, config, control=control):
        if log["event"] != "batch":
            continue
        losses.extend(log["losses"].tolist())
        weights[log["update"]] = model.state_dict()["0.W"]
        grads[log["update"]] = model.named_grads()["0.W"].copy()
        if log["update"] == change_after:
            control.set_learning_rate(new_lr)
    return control.rate_changes(), weights, grads, np.array(losses)


def test_a_rate_set_after_update_k_is_recorded_at_update_k_plus_one_and_used_there():
    changes, weights, grads, losses = run_with_change(change_after=4)
    assert changes == [RateChange(5, 0.5)]
    # update 4 still moved the weights by 0.05 x its gradient, update 5 by 0.5 x its own
    np.testing.assert_allclose(weights[4] - weights[3], -0.05 * grads[4], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(weights[5] - weights[4], -0.5 * grads[5], rtol=1e-4, atol=1e-7)
    # the same run without the change: identical losses up to update 5 (its loss is taken before
    # its step), different from update 6 on
    no_change, _, _, reference = run_with_change(change_after=None)
    assert no_change == []
    np.testing.assert_array_equal(losses[:5], reference[:5])
    assert losses[5] != reference[5]


def test_every_change_is_kept_in_order_and_an_untaken_one_is_not_recorded():
    control = TrainingControl()
    control.set_learning_rate(0.1)
    assert control.take_learning_rate() == pytest.approx(0.1)  # update 1
    assert control.take_learning_rate() is None  # update 2
    control.set_learning_rate(0.2)
    control.set_learning_rate(0.3)  # replaces 0.2 before the loop saw it
    assert control.take_learning_rate() == pytest.approx(0.3)  # update 3
    control.set_learning_rate(0.4)  # the run ends before another update asks
    assert control.rate_changes() == [RateChange(1, 0.1), RateChange(3, 0.3)]
