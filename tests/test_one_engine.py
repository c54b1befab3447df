"""One engine, one truth: every descent x optimiser x {augmented, not} x {MNIST-like sparse, dense}
input trains through the layer, loss and optimiser classes, and nothing else.

Each case runs the real ``train`` loop in float64, records which options ran (column-sparse
inputs, one-sample vectors, in-place ReLUs, gradients applied as products), and checks that:
- zeroing the gradients right after each Dense backward stops all movement;
- a no-op optimiser stops all movement;
- after training, each layer's ``grads`` equal an independent float64 reference gradient of the
  last update (a hand-written forward and backward below, not the library's layers);
- the run equals the plain computation (dense 2-D batches, ``Sequential.forward``/``backward``,
  ``SoftmaxCrossEntropy``, one ``optimizer.step`` per update) to rtol 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnet.training as training
from scratchnet.augment import Augmenter
from scratchnet.layers import Dense, ReLU
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import mlp
from scratchnet.optimizers import OPTIMIZER_NAMES, Optimizer, make_optimizer
from scratchnet.sparse import ColumnSparse, OuterProductGrad
from scratchnet.training import TrainConfig, train

SIDE = 6
FEATURES = SIDE * SIDE
CLASSES = 4
N = 40
HIDDEN = [10, 7]
LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 0.003, "adam": 0.003}
DESCENTS = {"full": {"full_batch_chunk": 16}, "mini": {"batch_size": 16}, "sgd": {}}


def data(kind: str):
    rng = np.random.default_rng(5)
    if kind == "sparse":  # pixels in [0, 1], about 80% zeros, like MNIST
        x = rng.random((N, FEATURES))
        x[rng.random((N, FEATURES)) < 0.8] = 0
    else:
        x = rng.normal(size=(N, FEATURES))
    y = rng.integers(0, CLASSES, N)
    return x, y


def model():
    return mlp(FEATURES, HIDDEN, CLASSES, rng=np.random.default_rng(11), dtype=np.float64)


def config(descent, epochs=2):
    return TrainConfig(descent=descent, epochs=epochs, seed=4, log_interval=0, **DESCENTS[descent])


def augmenter(augment):
    return Augmenter(max_shift=1.0, max_rotation=10.0, max_scale=0.1, side=SIDE) if augment else None


class Spy:
    """Counts which options of the classes ran, and records the last update's forward inputs."""

    def __init__(self, monkeypatch):
        self.counts = {"columns": 0, "one_sample": 0, "inplace_relu": 0, "expanded": 0, "updates": 0}
        self.forwards = []  # per forward: (params copy, dense inputs, labels)
        spy = self
        dense_forward, relu_forward = Dense.forward, ReLU.forward
        loss_forward, to_dense = SoftmaxCrossEntropy.forward, OuterProductGrad.to_dense
        begin = Optimizer.begin_step

        def forward(layer, x, training=False):
            if isinstance(x, ColumnSparse):
                spy.counts["columns"] += 1
            return dense_forward(layer, x, training)

        def relu(layer, x, training=False, *, inplace=False):
            spy.counts["inplace_relu"] += inplace
            return relu_forward(layer, x, training, inplace=inplace)

        def loss(fn, logits, labels):
            spy.counts["one_sample"] += logits.ndim == 1
            return loss_forward(fn, logits, labels)

        def expand(grad, out):
            spy.counts["expanded"] += 1
            return to_dense(grad, out)

        def begin_step(opt):
            spy.counts["updates"] += 1
            begin(opt)

        monkeypatch.setattr(Dense, "forward", forward)
        monkeypatch.setattr(ReLU, "forward", relu)
        monkeypatch.setattr(SoftmaxCrossEntropy, "forward", loss)
        monkeypatch.setattr(OuterProductGrad, "to_dense", expand)
        monkeypatch.setattr(Optimizer, "begin_step", begin_step)


def run(descent, optimizer_name, augment, kind, epochs=2):
    x, y = data(kind)
    net = model()
    opt = make_optimizer(optimizer_name, LR[optimizer_name])
    logs = list(train(net, opt, x, y, config(descent, epochs), augment=augmenter(augment)))
    return net, opt, logs


def expected_options(descent, optimizer_name, augment, kind):
    opt = make_optimizer(optimizer_name, 0.1)
    columns = kind == "sparse" and not augment and (descent == "full" or opt.takes_products)
    products = descent != "full" and opt.takes_products
    return columns, products


CASES = [(d, o, a, k) for d in DESCENTS for o in OPTIMIZER_NAMES for a in (False, True) for k in ("sparse", "dense")]
IDS = [f"{d}-{o}-{'aug' if a else 'plain'}-{k}" for d, o, a, k in CASES]


@pytest.mark.parametrize(("descent", "optimizer_name", "augment", "kind"), CASES, ids=IDS)
def test_the_classes_are_the_only_maths(monkeypatch, descent, optimizer_name, augment, kind):
    spy = Spy(monkeypatch)
    net, opt, logs = run(descent, optimizer_name, augment, kind)
    columns, products = expected_options(descent, optimizer_name, augment, kind)
    start = logs[0]
    assert start["input_form"] == ("columns" if columns else "dense")
    assert (spy.counts["columns"] > 0) == columns
    assert (spy.counts["one_sample"] > 0) == (descent == "sgd")
    assert spy.counts["inplace_relu"] > 0
    updates = {"full": 2, "mini": 2 * 3, "sgd": 2 * N}[descent]
    assert spy.counts["updates"] == opt.steps == updates
    if products:  # the weight gradients were applied as products, never expanded
        assert spy.counts["expanded"] == 0
    elif descent != "full":
        assert spy.counts["expanded"] >= updates * (len(HIDDEN) + 1)


@pytest.mark.parametrize(("descent", "optimizer_name", "augment", "kind"), CASES, ids=IDS)
def test_zero_gradients_and_a_no_op_optimiser_stop_all_movement(monkeypatch, descent, optimizer_name, augment, kind):
    x, y = data(kind)
    backward = Dense.backward

    def zeroing_backward(layer, grad_y, **options):
        grad_x = backward(layer, grad_y, **options)
        for g in layer.grads.values():
            g.fill(0)
        return grad_x

    for patch in ("zero_grads", "no_op_optimizer"):
        with monkeypatch.context() as m:
            net = model()
            before = net.state_dict()
            opt = make_optimizer(optimizer_name, LR[optimizer_name])
            if patch == "zero_grads":
                m.setattr(Dense, "backward", zeroing_backward)
            else:
                # the optimiser's two ways in: a whole model's step, and one layer's update
                for entry in ("update", "update_layer"):
                    m.setattr(type(opt), entry, lambda self, *args: None)
            logs = list(train(net, opt, x, y, config(descent), augment=augmenter(augment)))
            assert logs[-1]["update"] > 0
            for name, value in net.parameters().items():
                np.testing.assert_array_equal(value, before[name], err_msg=f"{patch}: {name} moved")


def reference_gradient(params, x, labels):
    """dL/dparams of the mean softmax cross-entropy of the ReLU MLP ``params`` on x (N, F), by
    hand in float64, independent of the library's layers."""
    weights = [(params[f"{i}.W"], params[f"{i}.b"]) for i in range(0, 2 * len(HIDDEN) + 1, 2)]
    acts, pre = [x], []
    for j, (w, b) in enumerate(weights):
        z = acts[-1] @ w + b
        pre.append(z)
        acts.append(np.maximum(z, 0) if j < len(weights) - 1 else z)
    logits = acts[-1]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = p.copy()
    delta[np.arange(len(x)), labels] -= 1
    delta /= len(x)
    grads = {}
    for j in range(len(weights) - 1, -1, -1):
        grads[f"{2 * j}.W"] = acts[j].T @ delta
        grads[f"{2 * j}.b"] = delta.sum(axis=0)
        if j:
            delta = (delta @ weights[j][0].T) * (pre[j - 1] > 0)
    return grads


@pytest.mark.parametrize(("descent", "optimizer_name", "augment", "kind"), CASES, ids=IDS)
def test_grads_hold_the_gradient_of_the_last_update(monkeypatch, descent, optimizer_name, augment, kind):
    seen = []
    forward = training.Sequential.forward

    def recording_forward(net, inputs, training=False):
        dense = inputs.dense() if isinstance(inputs, ColumnSparse) else np.array(inputs)
        seen.append((net.state_dict(), np.atleast_2d(dense)))
        return forward(net, inputs, training)

    labels_seen = []
    loss_forward = SoftmaxCrossEntropy.forward

    def recording_loss(fn, logits, labels):
        labels_seen.append(np.atleast_1d(labels).copy())
        return loss_forward(fn, logits, labels)

    monkeypatch.setattr(training.Sequential, "forward", recording_forward)
    monkeypatch.setattr(SoftmaxCrossEntropy, "forward", recording_loss)
    net, _, _ = run(descent, optimizer_name, augment, kind)
    if descent == "full":  # the last update's chunks, all from the same weights
        chunks = math.ceil(N / DESCENTS["full"]["full_batch_chunk"])
        params = seen[-chunks][0]
        x = np.concatenate([inputs for _, inputs in seen[-chunks:]])
        labels = np.concatenate(labels_seen[-chunks:])
    else:
        params, x = seen[-1]
        labels = labels_seen[-1]
    expected = reference_gradient(params, x, labels)
    for name, g in net.named_grads().items():
        np.testing.assert_allclose(g, expected[name], rtol=1e-10, atol=1e-13, err_msg=name)


def plain_run(descent, optimizer_name, augment, kind, epochs=2):
    """The plain computation: the same samples, as dense 2-D batches, through Sequential.forward,
    SoftmaxCrossEntropy, Sequential.backward and one optimizer.step per update."""
    x, y = data(kind)
    net = model()
    opt = make_optimizer(optimizer_name, LR[optimizer_name])
    cfg = config(descent, epochs)
    aug = augmenter(augment)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x5EED]))
    loss_fn = SoftmaxCrossEntropy()
    losses = []
    for _ in range(epochs):
        if descent == "full":
            total = {k: np.zeros_like(v) for k, v in net.parameters().items()}
            loss = 0.0
            for s in range(0, N, cfg.full_batch_chunk):
                xb, yb = x[s : s + cfg.full_batch_chunk], y[s : s + cfg.full_batch_chunk]
                if aug is not None:
                    xb = aug(xb, rng)
                loss += loss_fn.forward(net.forward(xb, training=True), yb) * len(yb) / N
                net.backward(loss_fn.backward())
                for k, g in net.named_grads().items():
                    total[k] += g * (len(yb) / N)
            opt.step(net.parameters(), total)
            losses.append(loss)
            continue
        order = rng.permutation(N)
        size = cfg.batch_size_for(N)
        for s in range(0, N, size):
            idx = order[s : s + size]
            xb = x[idx]
            if aug is not None:
                xb = aug(xb, rng)
            losses.append(loss_fn.forward(net.forward(xb, training=True), y[idx]))
            net.backward(loss_fn.backward())
            opt.step(net.parameters(), net.named_grads())
    return net, np.array(losses)


@pytest.mark.parametrize(("descent", "optimizer_name", "augment", "kind"), CASES, ids=IDS)
def test_every_fast_option_equals_the_plain_computation(descent, optimizer_name, augment, kind):
    net, _, logs = run(descent, optimizer_name, augment, kind)
    plain, plain_losses = plain_run(descent, optimizer_name, augment, kind)
    losses = np.concatenate([log["losses"] for log in logs if log["event"] == "batch"])
    # the logs carry float32 losses; the weights are compared in full float64
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-6)
    for name, value in plain.parameters().items():
        np.testing.assert_allclose(net.parameters()[name], value, rtol=1e-10, atol=1e-12, err_msg=name)
