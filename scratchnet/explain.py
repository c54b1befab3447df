"""The maths behind every view that looks inside a model, so that the widgets only draw.

Everything runs through the model's own layers, loss and optimiser: nothing here repeats their
maths. Gradients are taken on copies, so the caller's model keeps its parameters and its ``grads``
(the gradient of its last update).

**One input, step by step** (float64, inference mode: dropout off):

- ``trace``: the input followed forward and backward through every layer: each layer's input,
  output, dL/d(output), dL/d(input), and each Dense layer's dL/dW and dL/db.
- ``input_gradient``: dL/dx. ``integrated_gradients``: how much each pixel adds to a class's logit.
- ``unit_equations``: one unit's forward and backward sums with the numbers plugged in.
- ``gradient_check``: sampled weights' dL/dW against central differences (``gradcheck``).
- ``one_step``: the loss change that one plain SGD step predicts (-lr ||g||^2) and makes.
- ``gradient_noise``: how well mini-batch gradients point along the full gradient.

Errors in what is asked (a wrong-sized image, a label out of range, a model whose weights are not
finite) raise ``ExplainError`` (a ``ValueError``) with a message for the user.

**Many inputs**: the output of every hidden layer and the class probabilities
(``layer_outputs``); the units of each hidden layer that are stuck the same way for every input
(``unit_counts``); the mean cross-entropy and its gradient with respect to every weight matrix
(``batch_stats``).

**Networks of images**: for one image, what every convolution, its activation and every pooling
gives, channel by channel, and the δ of each map (``feature_maps``); the first convolution's
kernels (``first_kernels``).

**What a unit does, edited**: any layer's outputs (``layer_output``), the inputs that excite a
unit most (``top_activating``), copies with units scaled or silenced (``with_units_scaled``),
biases shifted (``with_biases_shifted``) or the smallest weights zeroed (``prune``), the accuracy
of such copies at once (``EditedAccuracy``), and a 2-D map of a layer (``pca_embedding``, with
its ``knn_accuracy``).

What "stuck" means depends on the activation, judged on every one of the N inputs:

- ReLU: **dead**, its output is 0, so no gradient reaches the weights that feed it.
- Leaky ReLU: **never positive**, its input is <= 0, so it only passes the leak (slope alpha). It
  is not dead: gradient still flows, alpha times weaker.
- Sigmoid and tanh: **saturated**, its slope is below ``SATURATED`` of its slope at 0 (1/4 for
  sigmoid, 1 for tanh), so gradients through it nearly vanish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .conv import Conv2D, Reshape
from .errors import ExplainError
from .gradcheck import numeric_gradient, relative_error
from .layers import Dense, Dropout, Layer, LeakyReLU, ReLU, Sigmoid, Tanh
from .losses import SoftmaxCrossEntropy, softmax
from .network import Sequential, layer_label
from .optimizers import SGD
from .sparse import ColumnSparse

CHUNK = 2048  # rows per forward and backward of a large batch, as in full-batch training

SATURATED = 0.01  # a sigmoid or tanh unit is saturated when its slope stays below this share of its peak

DEAD = "dead"
NEVER_POSITIVE = "never positive"
SATURATED_UNITS = "saturated"
# the condition counted for each activation (see the module docstring); other layers are not counted
CONDITIONS: dict[type[Layer], str] = {
    ReLU: DEAD, LeakyReLU: NEVER_POSITIVE, Sigmoid: SATURATED_UNITS, Tanh: SATURATED_UNITS,
}
MEANINGS = {  # one line each, for a window
    DEAD: "ReLU output 0 for every input, so its weights get no gradient",
    NEVER_POSITIVE: "leaky ReLU input ≤ 0 for every input; it still learns, through the leak",
    SATURATED_UNITS: f"sigmoid or tanh slope under {SATURATED:.0%} of its peak for every input",
}


# --------------------------------------------------------------------------- one input, step by step


@dataclass(frozen=True)
class Step:
    """One layer of a ``Trace``, for its one input, in float64. For a layer from ``in`` to ``out``
    features:

    - ``layer``: its position in ``model.layers``; ``kind``: "Dense", "ReLU", "LeakyReLU",
      "Sigmoid", "Tanh" or "Dropout".
    - ``input`` (in,) and ``output`` (out,); a Dense layer's output is the pre-activation z of the
      activation after it.
    - ``grad_output`` = dL/d(output) (out,) and ``grad_input`` = dL/d(input) (in,).
    - ``grads``: for Dense, {"W": dL/dW (in, out), "b": dL/db (out,)}; ``params``: its
      {"W" (in, out), "b" (out,)}; both {} for the other layers.
    - ``slope``: for an element-wise layer, d(output)/d(input) of each unit (out,) (ReLU: 0 or 1;
      Dropout at inference: 1); None for Dense.

    The arrays are read-only: several steps share them (an output is the next step's input).
    """

    layer: int
    kind: str
    input: np.ndarray
    output: np.ndarray
    grad_output: np.ndarray
    grad_input: np.ndarray
    grads: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    slope: np.ndarray | None


@dataclass(frozen=True)
class Trace:
    """One input ``x`` (features,) followed forward and backward through a model (see ``trace``).

    ``logits`` and ``probs`` (C,); ``loss`` = -log probs[label]; ``steps``: one ``Step`` per
    layer of ``model.layers``, in order. The last step's ``grad_output`` is dL/dlogits =
    probs - onehot(label), the first step's ``grad_input`` is dL/dx.
    """

    x: np.ndarray
    label: int
    logits: np.ndarray
    probs: np.ndarray
    loss: float
    steps: list[Step]

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probs))

    def top(self, k: int = 3) -> np.ndarray:
        """The ``k`` most probable classes, most probable first (k,)."""
        return np.argsort(-self.probs, kind="stable")[:k]

    @property
    def dense_steps(self) -> list[Step]:
        return [step for step in self.steps if step.kind == "Dense"]


def trace(model: Sequential, x: np.ndarray, label: int) -> Trace:
    """Follow one input ``x`` ((features,), or any shape with that many values, e.g. (28, 28))
    forward through every layer and the loss for class ``label``, then backward.

    Runs in float64 on a copy of ``model``, through the layers' own ``forward`` (inference mode:
    dropout off) and ``backward``: the gradients are those training computes. ``model`` keeps its
    parameters and its ``grads``. Raises ``ExplainError`` for an input of the wrong size, a label
    out of range or a model whose weights are not finite.
    """
    copy = _float64_copy(model)
    x = _image(copy, x)
    label = _class(copy, label, "label")
    inputs, outputs = [], []
    value = x
    for layer in copy.layers:
        inputs.append(value)
        value = layer.forward(value, training=False)
        outputs.append(value)
    loss = SoftmaxCrossEntropy()
    loss_value = loss.forward(value, label)
    probs = loss.probs.copy()
    grad = loss.backward()  # probs - onehot(label)
    steps: list[Step] = []
    for i in range(len(copy.layers) - 1, -1, -1):
        layer = copy.layers[i]
        grad_input = layer.backward(grad)
        if layer.params:
            grads, params, slope = dict(layer.grads), dict(layer.params), None
        else:
            grads, params = {}, {}
            slope = layer.backward(np.ones_like(outputs[i]))  # the local derivative, from its own backward
        steps.append(Step(i, type(layer).__name__, inputs[i], outputs[i], grad, grad_input, grads, params, slope))
        grad = grad_input
    steps.reverse()
    for step in steps:
        for array in (step.input, step.output, step.grad_output, step.grad_input, step.slope,
                      *step.grads.values(), *step.params.values()):
            if array is not None:
                array.flags.writeable = False
    return Trace(x, label, outputs[-1], probs, float(loss_value), steps)


def input_gradient(model: Sequential, x: np.ndarray, label: int) -> np.ndarray:
    """dL/dx (features,) of the cross-entropy for ``label`` at the one input ``x``, in float64."""
    return trace(model, x, label).steps[0].grad_input


def integrated_gradients(
    model: Sequential, x: np.ndarray, target: int, baseline: np.ndarray | None = None, steps: int = 64
) -> np.ndarray:
    """Integrated gradients (features,) of the logit of class ``target`` at the input ``x``:

        IG_i = (x_i - x0_i) * mean over k of d logit_target / dx_i at x0 + alpha_k (x - x0),

    with alpha_k = (k + 1/2) / steps (the midpoint rule) and the baseline x0 a black image unless
    given. Completeness: sum_i IG_i = logit(x) - logit(x0), up to the rule's error. All ``steps``
    points run as one batch through one forward and one backward of a float64 copy of ``model``.
    """
    copy = _float64_copy(model)
    x = _image(copy, x)
    x0 = np.zeros_like(x) if baseline is None else _image(copy, baseline, "baseline")
    target = _class(copy, target, "target class")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ExplainError(f"integrated gradients need a whole number of steps >= 1, got {steps!r}")
    alphas = (np.arange(steps) + 0.5) / steps
    path = x0 + alphas[:, None] * (x - x0)  # (steps, features)
    logits = copy.forward(path)
    pick = np.zeros_like(logits)
    pick[:, target] = 1.0  # d logit_target / d logits, on every row
    return (x - x0) * copy.backward(pick).mean(axis=0)


@dataclass(frozen=True)
class OneStep:
    """What one plain SGD step of learning rate ``lr`` does to the mean loss on a batch.

    ``loss_before`` and ``loss_after``; ``predicted_change`` = -lr ||g||^2, the first-order
    change for the gradient g of the mean loss; ``actual_change`` = loss_after - loss_before;
    ``gradient_norm`` = ||g||. ``probs_before`` and ``probs_after`` are (C,) for one input, (N, C)
    for a batch. ``model``: the stepped copy, in the dtype of the model it came from; adopt it to
    keep the step. Unpacks as the issue's triple: ``loss_before, predicted, actual = one_step(...)``.
    """

    loss_before: float
    predicted_change: float
    actual_change: float
    loss_after: float
    gradient_norm: float
    probs_before: np.ndarray
    probs_after: np.ndarray
    model: Sequential

    def __iter__(self):
        return iter((self.loss_before, self.predicted_change, self.actual_change))


def one_step(model: Sequential, x: np.ndarray, y, lr: float) -> OneStep:
    """One plain SGD step (``optimizers.SGD``, no momentum, no weight decay) of learning rate
    ``lr`` on the mean cross-entropy of (x, y): one input (features,) with an int label, or a batch
    x (N, features) with labels (N,). Computed in float64, in inference mode, on a copy: ``model``
    itself is unchanged. See ``OneStep``."""
    try:
        optimizer = SGD(lr)
    except ValueError as exc:
        raise ExplainError(str(exc)) from None
    single = np.ndim(x) == 1
    x = _rows(model, x)
    y = _labels(model, np.atleast_1d(np.asarray(y)), len(x))
    copy = _float64_copy(model)
    loss_before, probs_before = _mean_loss(copy, x, y, gradient=True)
    grads = copy.named_grads()
    squared = sum(float(np.vdot(g, g)) for g in grads.values())
    optimizer.step(copy.parameters(), grads)
    loss_after, probs_after = _mean_loss(copy, x, y)
    stepped = model.copy()
    stepped.load_state_dict(copy.parameters())
    if single:
        probs_before, probs_after = probs_before[0], probs_after[0]
    return OneStep(loss_before, -optimizer.lr * squared, loss_after - loss_before, loss_after,
                   float(np.sqrt(squared)), probs_before, probs_after, stepped)


class Spread(NamedTuple):
    """The mean and the standard deviation (over the repeats, ddof 0) of a cosine."""

    mean: float
    std: float


def gradient_noise(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    batch_sizes,
    *,
    repeats: int = 8,
    rng: np.random.Generator | None = None,
) -> dict[int, Spread]:
    """{B: Spread(mean, std)} of the cosine between the gradient of the mean loss on B samples,
    drawn from (x (N, features), y (N,)) without replacement, and the gradient on all N, over
    ``repeats`` draws, at the model's current weights (float64, inference mode, on a copy).

    Each gradient is one forward and one backward over its rows, the full one in chunks as
    full-batch training does. B = N is the whole set in every draw: exactly 1, std 0. A draw whose
    gradient is zero counts as cosine 0.
    """
    x = _rows(model, x)
    n = len(x)
    y = _labels(model, y, n)
    sizes = []
    for b in batch_sizes:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= b <= n:
            raise ExplainError(f"batch size {b!r} must be a whole number from 1 to the {n} samples")
        sizes.append(int(b))
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ExplainError(f"repeats must be a whole number >= 1, got {repeats!r}")
    rng = rng if rng is not None else np.random.default_rng()
    copy = _float64_copy(model)
    full = _flat_gradient(copy, x, y)
    full_norm = float(np.linalg.norm(full))
    result: dict[int, Spread] = {}
    for b in sizes:
        if b == n:
            result[b] = Spread(1.0, 0.0)
            continue
        cosines = []
        for _ in range(repeats):
            rows = rng.choice(n, size=b, replace=False)
            g = _flat_gradient(copy, x[rows], y[rows])
            norm = float(np.linalg.norm(g)) * full_norm
            cosines.append(float(np.dot(g, full)) / norm if norm > 0 else 0.0)
        result[b] = Spread(float(np.mean(cosines)), float(np.std(cosines)))
    return result


@dataclass(frozen=True)
class WeightCheck:
    """One weight W[row, column] of the Dense layer at ``layer`` in ``model.layers``: dL/dW from
    backward (``analytic``), the central difference (``numeric``) and their ``relative_error``
    |a - n| / (|a| + |n|) (0 when both are 0).

    ``resolution``: the float64 rounding of the loss divided by 2 eps, about the smallest gradient
    the difference can resolve. A gradient within a few hundred times of it (a confidently right
    digit) gets a large relative error from rounding alone, not from backprop."""

    layer: int
    row: int
    column: int
    analytic: float
    numeric: float
    relative_error: float
    resolution: float


def gradient_check(
    model: Sequential,
    x: np.ndarray,
    label: int,
    *,
    per_layer: int = 8,
    rng: np.random.Generator | None = None,
    eps: float = 1e-4,
) -> list[WeightCheck]:
    """``per_layer`` weights drawn (distinct, at random) from every Dense layer, each checked:
    the analytic dL/dW of ``trace(model, x, label)`` against the central difference
    (L(w + eps) - L(w - eps)) / 2 eps of ``gradcheck.numeric_gradient`` on a float64 copy.

    The first layer's weights are drawn from the rows of active pixels (x_i != 0): the others'
    gradient is exactly 0 on both sides. Within a layer, weights whose analytic gradient is not 0
    are drawn first (for one digit most ReLU units are off, and a check of 0 against 0 shows
    little); weights with gradient 0 fill in only when there are too few. Ordered by layer.
    ``eps`` = 1e-4 balances the rounding of the float64 loss (about 1e-16 / eps) against the
    O(eps^2) error of the difference: on 784-256-128-10 ReLU after one epoch, the worst of the 24
    relative errors of a digit, over 20 test digits, is 2e-6 with eps 1e-4 and 2e-3 with 1e-6."""
    traced = trace(model, x, label)
    copy = _float64_copy(model)
    loss = SoftmaxCrossEntropy()

    def value() -> float:
        return loss.forward(copy.forward(traced.x), traced.label)

    resolution = float(np.finfo(np.float64).eps * max(1.0, traced.loss) / (2 * eps))
    rng = rng if rng is not None else np.random.default_rng()
    checks = []
    for k, step in enumerate(traced.dense_steps):
        w = copy.layers[step.layer].params["W"]
        rows = np.arange(w.shape[0])
        if k == 0 and np.any(traced.x != 0):
            rows = np.flatnonzero(traced.x)
        grads = step.grads["W"][rows].ravel()  # the candidates, flat over (rows, units)
        live, dead = np.flatnonzero(grads != 0), np.flatnonzero(grads == 0)
        picks = rng.choice(live, size=min(per_layer, len(live)), replace=False)
        if len(picks) < per_layer:
            fill = rng.choice(dead, size=min(per_layer - len(picks), len(dead)), replace=False)
            picks = np.concatenate([picks, fill])
        for flat in np.sort(picks):
            i, j = int(rows[flat // w.shape[1]]), int(flat % w.shape[1])
            analytic = float(step.grads["W"][i, j])
            numeric = float(numeric_gradient(value, w[i : i + 1, j : j + 1], eps)[0, 0])  # nudges w[i, j]
            checks.append(WeightCheck(step.layer, i, j, analytic, numeric,
                                      relative_error(np.array(analytic), np.array(numeric)), resolution))
    return checks


@dataclass(frozen=True)
class SumTerms:
    """total = sum_i left_i * right_i over n terms, with the ``len(index)`` largest terms in
    absolute value listed, largest first: ``index`` (k,) the i of each, ``left``, ``right`` and
    ``terms`` (k,); ``rest``: the sum of the other ``rest_count`` terms."""

    index: np.ndarray
    left: np.ndarray
    right: np.ndarray
    terms: np.ndarray
    rest: float
    rest_count: int
    total: float


@dataclass(frozen=True)
class UnitEquations:
    """Unit j (``unit``) of the Dense step ``layer`` of a ``Trace``, with its numbers plugged in.

    Forward:  z_j = sum_i x_i W_ij + b_j (``weighted``: x_i and W_ij), then a_j = f(z_j), with f
              the element-wise layers up to the next Dense layer (``activation`` names the first
              that is not Dropout, "identity" if there is none).
    Backward: delta_j = dL/dz_j = f'(z_j) * sum_k W_jk delta_k (``slope``, and ``upstream``: W_jk
              and delta_k over the units k of the next Dense layer); dL/dW_ij = x_i delta_j
              (``grad_w``, (in,), from the layer's own backward) and dL/db_j = delta_j.
    Output layer: ``activation`` is "softmax", a_j = p_j and delta_j = p_j - [j = label] (times
    ``slope``, 1 unless element-wise layers follow); ``upstream`` is None.
    """

    layer: int
    unit: int
    activation: str
    weighted: SumTerms
    bias: float
    z: float
    a: float
    upstream: SumTerms | None
    slope: float
    delta: float
    grad_w: np.ndarray
    grad_b: float


def unit_equations(traced: Trace, layer: int, unit: int, *, top: int = 5) -> UnitEquations:
    """The forward and backward sums of unit ``unit`` of the Dense layer at position ``layer`` in
    the model, read off ``traced``; ``top`` largest terms of each sum are listed."""
    if not 0 <= layer < len(traced.steps) or traced.steps[layer].kind != "Dense":
        dense = [s.layer for s in traced.dense_steps]
        raise ExplainError(f"layer {layer} is not a Dense layer of this model (those are at {dense})")
    step = traced.steps[layer]
    if not 0 <= unit < len(step.output):
        raise ExplainError(f"unit {unit} is not in layer {layer}, which has {len(step.output)} units")
    above = next((s for s in traced.steps[layer + 1 :] if s.kind == "Dense"), None)
    between = traced.steps[layer + 1 : above.layer if above is not None else len(traced.steps)]
    slope = float(np.prod([s.slope[unit] for s in between]))
    if above is None:
        activation, a, upstream = "softmax", float(traced.probs[unit]), None
    else:
        activation = next((s.kind for s in between if s.kind != "Dropout"), "identity")
        a = float(above.input[unit])
        upstream = _sum_terms(above.params["W"][unit], above.grad_output, top)
    return UnitEquations(
        layer=layer, unit=unit, activation=activation,
        weighted=_sum_terms(step.input, step.params["W"][:, unit], top),
        bias=float(step.params["b"][unit]), z=float(step.output[unit]), a=a,
        upstream=upstream, slope=slope, delta=float(step.grad_output[unit]),
        grad_w=step.grads["W"][:, unit], grad_b=float(step.grads["b"][unit]),
    )


def _sum_terms(left: np.ndarray, right: np.ndarray, top: int) -> SumTerms:
    terms = left * right
    order = np.argsort(-np.abs(terms), kind="stable")
    listed, others = order[:top], order[top:]
    return SumTerms(listed, left[listed], right[listed], terms[listed], float(np.sum(terms[others])),
                    len(others), float(np.sum(terms)))


# --------------------------------------------------------------------------- many inputs


@dataclass(frozen=True)
class LayerOutput:
    """``values`` (N, units) after a hidden layer's activation, or the output probabilities."""

    name: str
    values: np.ndarray


@dataclass(frozen=True)
class UnitCount:
    """How many of one hidden layer's ``units`` meet ``condition`` (``DEAD``, ``NEVER_POSITIVE`` or
    ``SATURATED_UNITS``, chosen by the activation) for every one of the inputs."""

    name: str
    condition: str
    count: int
    units: int

    @property
    def fraction(self) -> float:
        return self.count / self.units


@dataclass(frozen=True)
class BatchStats:
    """On ``samples`` inputs: ``weights`` and ``weight_gradients`` (dL/dW of the mean cross-entropy
    ``loss``) of each Dense layer, keyed by ``dense_names``; ``units``: one count per counted
    activation layer."""

    samples: int
    weights: dict[str, np.ndarray]
    weight_gradients: dict[str, np.ndarray]
    loss: float
    units: list[UnitCount]


@dataclass(frozen=True)
class _Hidden:
    """One activation layer during a forward pass: its input ``z`` and output ``a`` (N, units)."""

    name: str
    layer: Layer
    z: np.ndarray
    a: np.ndarray


def dense_names(model: Sequential) -> list[str]:
    """"layer 1 (784→256)", ... for the Dense layers in order."""
    return [f"layer {k + 1} ({d.in_features}→{d.out_features})" for k, d in enumerate(model.dense_layers)]


def layer_outputs(model: Sequential, x: np.ndarray) -> list[LayerOutput]:
    """The activations of every hidden layer and the output probabilities for ``x`` (N, inputs)
    or one input (inputs,)."""
    hidden, logits = _forward(model, _rows(model, x))
    outputs = [LayerOutput(h.name, h.a) for h in hidden]
    return [*outputs, LayerOutput(f"output (softmax, {logits.shape[1]})", softmax(logits))]


def unit_counts(model: Sequential, x: np.ndarray) -> list[UnitCount]:
    """For each hidden activation layer listed in ``CONDITIONS``, its units that are stuck for
    every row of ``x`` (N, inputs); see the module docstring. Runs on a copy of ``model``."""
    hidden, _ = _forward(model.copy(), _rows(model, x))
    return _count_units(hidden)


def batch_stats(model: Sequential, x: np.ndarray, y: np.ndarray) -> BatchStats:
    """Weights, the mean cross-entropy on (x (N, inputs), y (N,) class indices) and its gradients,
    and the stuck units of each hidden layer. ``model`` itself is left as it was (its ``grads``
    too): the forward and backward passes run on a copy."""
    x = _rows(model, x)
    y = _labels(model, y, len(x))
    copy = model.copy()
    hidden, logits = _forward(copy, x)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, y)
    copy.backward(loss.backward())
    names = dense_names(copy)
    return BatchStats(
        samples=len(x),
        weights={name: d.params["W"] for name, d in zip(names, copy.dense_layers, strict=True)},
        weight_gradients={name: d.grads["W"] for name, d in zip(names, copy.dense_layers, strict=True)},
        loss=value,
        units=_count_units(hidden),
    )


def _forward(model: Sequential, x: np.ndarray) -> tuple[list[_Hidden], np.ndarray]:
    """Inference through ``model``'s layers: every activation layer's input and output, and the logits."""
    hidden: list[_Hidden] = []
    value = x
    for layer in model.layers:
        z, value = value, layer.forward(value, training=False)
        if not isinstance(layer, (Dense, Dropout)):
            name = f"hidden {len(hidden) + 1} ({type(layer).__name__}, {value.shape[1]} units)"
            hidden.append(_Hidden(name, layer, z, value))
    return hidden, value


def _count_units(hidden: list[_Hidden]) -> list[UnitCount]:
    counts = []
    for h in hidden:
        condition = CONDITIONS.get(type(h.layer))
        if condition is None:
            continue
        slope = _slope(h.layer, h.z)  # da/dz of each unit on each input, from the layer's own backward
        if condition == DEAD:
            stuck = slope == 0
        elif condition == NEVER_POSITIVE:
            stuck = h.z <= 0
        else:
            stuck = slope < SATURATED * _slope(h.layer, np.zeros_like(h.z[:1]))
        counts.append(UnitCount(h.name, condition, int(np.count_nonzero(stuck.all(axis=0))), h.z.shape[1]))
    return counts


def _slope(layer: Layer, z: np.ndarray) -> np.ndarray:
    """da/dz of an element-wise activation at each entry of ``z``."""
    a = layer.forward(z, training=False)
    return layer.backward(np.ones_like(a))


# --------------------------------------------------------------------------- networks of images


@dataclass(frozen=True)
class FeatureMap:
    """What ``model.layers[layer]`` gives for one image: ``values`` (channels, height, width),
    float64; ``name`` says which layer ("Conv2D 5x5x8", "ReLU", "MaxPool2D 2"). ``gradient``:
    δ = dL/d``values``, L the cross-entropy of the image against class ``label`` (None for kernels)."""

    layer: int
    name: str
    values: np.ndarray
    gradient: np.ndarray | None = None
    label: int | None = None


def feature_maps(model: Sequential, x: np.ndarray, label: int | None = None) -> list[FeatureMap]:
    """For one image ``x`` (any shape holding ``model.input_size`` numbers), the output of every
    layer that gives images: each convolution, the activation after it, each pooling, in order, with
    its δ for ``label`` (None: the class the model predicts). Runs the model's own forward and
    backward on a float64 copy, in inference mode (dropout off)."""
    copy = _image_network_copy(model)
    value = _image(model, x)[None]
    outputs = []
    for layer in copy.layers:
        value = layer.forward(value, training=False)
        outputs.append(value)
    label = int(np.argmax(value[0])) if label is None else _class(model, label, "label")
    loss = SoftmaxCrossEntropy()
    loss.forward(value, np.array([label]))
    grad = loss.backward()
    gradients: list[np.ndarray] = [grad] * len(outputs)
    for i in range(len(copy.layers) - 1, -1, -1):
        gradients[i] = grad  # dL/d(output of layer i)
        grad = copy.layers[i].backward(grad)
    return [FeatureMap(i, layer_label(layer), outputs[i][0].copy(), np.array(gradients[i][0]), label)
            for i, layer in enumerate(copy.layers) if outputs[i].ndim == 4 and not isinstance(layer, Reshape)]


def first_kernels(model: Sequential) -> FeatureMap:
    """The first convolution's weights as ``values`` (out channels, in channels, k, k), float64."""
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Conv2D):
            return FeatureMap(i, layer_label(layer), layer.params["W"].astype(np.float64))
    raise ExplainError("the model has no convolution, so it has no kernels to show")


def _image_network_copy(model: Sequential) -> Sequential:
    if not model.is_image_network or not model.input_size:
        raise ExplainError("the model does not read images (it has no Reshape to images first), so it has "
                           "no feature maps")
    _check_finite(model)
    return model.copy(dtype=np.float64)


def _check_finite(model: Sequential) -> None:
    for name, p in model.parameters().items():
        if not np.all(np.isfinite(p)):
            raise ExplainError(f"the model's weights are not finite ({name} holds NaN or infinity): "
                               "train it again or open another model")


IMAGE_NETWORK = ("this is a convolutional network: the views that look inside explain networks of Dense "
                 "layers only, for now")


def _rows(model: Sequential, x: np.ndarray, *, images: bool = False) -> np.ndarray:
    """``x`` as (N, inputs) rows checked against ``model``; a network of images is refused unless
    the caller runs its layers as they are (``images``)."""
    if not model.dense_layers:
        raise ExplainError("the model has no Dense layer, so there is nothing to explain")
    if model.is_image_network and not images:
        raise ExplainError(IMAGE_NETWORK)
    x = np.atleast_2d(np.asarray(x))
    if x.ndim != 2 or x.shape[1] != model.input_size:
        raise ExplainError(f"inputs of shape {x.shape} do not fit a model with {model.input_size} inputs")
    if len(x) == 0:
        raise ExplainError("no inputs to look at")
    return x


def _labels(model: Sequential, y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ExplainError(f"expected {n} integer class labels, got an array of shape {y.shape} ({y.dtype})")
    if y.min() < 0 or y.max() >= model.output_size:
        raise ExplainError(f"class labels must be in 0..{model.output_size - 1}, got {y.min()}..{y.max()}")
    return y


def _float64_copy(model: Sequential) -> Sequential:
    """A float64 copy of ``model`` (fresh gradients and caches), after checking that it has a
    Dense layer and finite weights."""
    if not model.dense_layers:
        raise ExplainError("the model has no Dense layer, so there is nothing to explain")
    if model.is_image_network:
        raise ExplainError(IMAGE_NETWORK)
    _check_finite(model)
    return model.copy(dtype=np.float64)


def _image(model: Sequential, x: np.ndarray, what: str = "image") -> np.ndarray:
    """One input as a float64 vector (features,); any shape holding ``model.input_size`` numbers."""
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ExplainError(f"the {what} must hold numbers, got {x.dtype}")
    n = model.input_size
    if x.size != n:
        side = int(round(n**0.5))
        fits = f" ({side}×{side})" if side * side == n else ""
        raise ExplainError(f"the {what} has shape {x.shape} ({x.size:,} values), which does not fit a model "
                           f"with {n:,} inputs{fits}")
    x = x.astype(np.float64).reshape(n)
    if not np.all(np.isfinite(x)):
        raise ExplainError(f"the {what} holds NaN or infinite values")
    return x


def _class(model: Sequential, k, what: str) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ExplainError(f"the {what} must be a whole number, got {k!r}")
    if not 0 <= k < model.output_size:
        raise ExplainError(f"the {what} must be in 0..{model.output_size - 1}, got {k}")
    return int(k)


def _mean_loss(model: Sequential, x: np.ndarray, y: np.ndarray, *, gradient: bool = False) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of ``model`` (inference mode) over x (N, features), y (N,), and the
    probabilities (N, C). With ``gradient``, ``model``'s grads then hold the gradient of that mean:
    run in chunks of ``CHUNK`` rows, each chunk's gradient weighted by its share, as full-batch
    training does, so memory stays bounded."""
    n = len(x)
    loss = SoftmaxCrossEntropy()
    total, probs = 0.0, []
    sparse = isinstance(model.layers[0], Dense)
    if gradient:
        model.zero_grad()
    for start in range(0, n, CHUNK):
        rows = np.asarray(x[start : start + CHUNK], dtype=np.float64)
        cols = np.flatnonzero(np.any(rows, axis=0))  # MNIST: the first layer skips the blank pixels
        inputs = ColumnSparse(rows[:, cols], cols, rows.shape[1]) if sparse and len(cols) < rows.shape[1] else rows
        total += loss.forward(model.forward(inputs), y[start : start + CHUNK]) * len(rows)
        probs.append(loss.probs.copy())
        if gradient:
            model.backward(loss.backward(weight=len(rows) / n), input_grad=False, accumulate=True)
    return total / n, np.concatenate(probs)


def _flat_gradient(model: Sequential, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient of the mean loss over (x, y) with respect to every parameter, as one vector."""
    _mean_loss(model, x, y, gradient=True)
    return np.concatenate([g.ravel() for g in model.named_grads().values()])


# --------------------------------------------------------------------------- what a unit does, edited


def layer_output(model: Sequential, x: np.ndarray, layer: int) -> np.ndarray:
    """The output (N, units) of ``model.layers[layer]`` for the rows of ``x`` (N, inputs), in
    inference mode (dropout off), in the model's dtype; run in chunks of ``CHUNK`` rows on a copy.
    In a network of images a layer before its Flatten gives (N, C, H, W)."""
    x = _rows(model, x, images=True)
    _layer_index(model, layer)
    copy = model.copy()
    parts = []
    for start in range(0, len(x), CHUNK):
        value = x[start : start + CHUNK]
        for current in copy.layers[: layer + 1]:
            value = current.forward(value, training=False)
        parts.append(np.array(value))
    return np.concatenate(parts)


def top_activating(model: Sequential, x: np.ndarray, layer: int, unit: int, k: int = 9) -> np.ndarray:
    """Indices (k,) of the ``k`` rows of ``x`` (N, inputs) with the largest output of
    ``model.layers[layer]`` at ``unit``, largest first (ties: the lower index first)."""
    _unit(model, layer, unit)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ExplainError(f"k must be a whole number >= 1, got {k!r}")
    return top_rows(layer_output(model, x, layer)[:, unit], k)


def top_rows(values: np.ndarray, k: int) -> np.ndarray:
    """Indices (k,) of the ``k`` largest of ``values`` (N,), largest first (ties: lower index first)."""
    return np.argsort(-values, kind="stable")[:k]


def unit_layers(model: Sequential, layer: int) -> tuple[int, int | None]:
    """For a unit of ``model.layers[layer]``: (the Dense layer that makes it, the Dense layer it
    feeds, None after the last). A hidden unit's output is what its activation passes on."""
    _layer_index(model, layer)
    dense = [i for i, current in enumerate(model.layers) if isinstance(current, Dense)]
    below = [i for i in dense if i <= layer]
    if not below:
        raise ExplainError(f"layer {layer} comes before the first Dense layer: it has no units of its own")
    above = next((i for i in dense if i > layer), None)
    return below[-1], above


def with_units_scaled(model: Sequential, factors: dict) -> Sequential:
    """A copy of ``model`` in which the output of unit u of ``model.layers[layer]``, for each
    ``(layer, u): factor`` of ``factors``, reaches the next layers multiplied by ``factor`` (0
    silences it). Done in the weights: row u of the next Dense layer's W is scaled; for an output
    unit, which feeds no Dense layer, its logit (column u of W and b[u]). ``model`` is untouched."""
    copy = model.copy()
    for (layer, unit), factor in factors.items():
        _unit(model, layer, unit)
        factor = _finite(factor, "scale factor")
        _, above = unit_layers(model, layer)
        if above is not None:
            copy.layers[above].params["W"][unit] *= factor
        elif isinstance(model.layers[layer], Dense):
            copy.layers[layer].params["W"][:, unit] *= factor
            copy.layers[layer].params["b"][unit] *= factor
        else:
            raise ExplainError(f"layer {layer} follows the last Dense layer: scale the output Dense layer's units")
    return copy


def with_biases_shifted(model: Sequential, shifts: dict) -> Sequential:
    """A copy of ``model`` in which b[u] of the Dense layer that makes unit u of
    ``model.layers[layer]`` is moved by ``shift``, for each ``(layer, u): shift``. ``model`` is
    untouched."""
    copy = model.copy()
    for (layer, unit), shift in shifts.items():
        _unit(model, layer, unit)
        dense, _ = unit_layers(model, layer)
        copy.layers[dense].params["b"][unit] += _finite(shift, "bias shift")
    return copy


def prune(model: Sequential, fraction: float) -> Sequential:
    """A copy of ``model`` in which, in each Dense layer separately, the ``round(fraction * size)``
    weights of W with the smallest magnitude are 0 (ties at the threshold: the lower flat index
    first). Biases are untouched. ``fraction`` in [0, 1]."""
    fraction = _finite(fraction, "pruned fraction")
    if not 0.0 <= fraction <= 1.0:
        raise ExplainError(f"the pruned fraction must be between 0 and 1, got {fraction}")
    copy = model.copy()
    for dense in copy.dense_layers:
        w = dense.params["W"]
        count = int(round(fraction * w.size))
        if count:
            order = np.argsort(np.abs(w), axis=None, kind="stable")
            w.reshape(-1)[order[:count]] = 0
    return copy


def pca_embedding(model: Sequential, x: np.ndarray, layer: int, dims: int = 2) -> np.ndarray:
    """The first ``dims`` principal components (N, dims), float64, of the outputs of
    ``model.layers[layer]`` for the rows of ``x`` (N, inputs): the centred outputs projected on the
    top eigenvectors of their covariance, each eigenvector's sign chosen so that its largest
    entry in magnitude is positive. A layer narrower than ``dims`` gives zero columns after its
    own components."""
    if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
        raise ExplainError(f"dims must be a whole number >= 1, got {dims!r}")
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model's outputs: refused below
        values = layer_output(model, x, layer).astype(np.float64)
        values = values.reshape(len(values), -1)  # a layer of images: each image's maps as one vector
        values = values - values.mean(axis=0)
        covariance = values.T @ values
    if not np.isfinite(covariance).all():
        raise ExplainError(f"layer {layer}'s outputs are too large to map (NaN or infinite): "
                           "the weights blew up; train again with a smaller learning rate")
    eigenvalues, vectors = np.linalg.eigh(covariance)  # ascending; units x units
    vectors = vectors[:, ::-1][:, :dims]
    peaks = vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])]
    vectors = vectors * np.where(peaks < 0, -1.0, 1.0)
    embedding = np.zeros((len(values), dims))
    embedding[:, : vectors.shape[1]] = values @ vectors
    return embedding


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-nearest-neighbour accuracy of ``points`` (N, dims) with classes ``labels``
    (N,) of whole numbers >= 0: each point gets the most common class among its k nearest other
    points (Euclidean; a tie of votes goes to the class of the nearest of the tied; points at
    exactly equal distances are taken in any order), and the share that get their own class.
    Vectorised: no Python loop over the points, which a training thread would wait for."""
    points = np.asarray(points, np.float64)
    labels = np.asarray(labels)
    n = len(points)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ExplainError(f"k must be a whole number from 1 to {n - 1}, got {k!r}")
    squared = np.sum(points**2, axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * points @ points.T
    np.fill_diagonal(distances, np.inf)
    nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]  # the k nearest, in no order
    rows = np.arange(n)[:, None]
    nearest = np.take_along_axis(nearest, np.argsort(distances[rows, nearest], axis=1), axis=1)  # nearest first
    votes = labels[nearest]  # (N, k)
    counts = (votes[:, :, None] == votes[:, None, :]).sum(axis=2)  # how many votes each vote's class got
    first_best = np.argmax(counts == counts.max(axis=1, keepdims=True), axis=1)  # the nearest of the tied
    return float(np.mean(votes[np.arange(n), first_best] == labels))


class EditedAccuracy:
    """The class probabilities of edited copies of one model (``with_units_scaled``,
    ``with_biases_shifted``, ``prune``...) on fixed inputs, fast: the inputs of every layer for the
    original ``model`` are kept, and an edited copy runs forward only from its first layer whose
    parameters differ from the original's. The copies must have ``model``'s layers.

    ``x`` (N, inputs), ``y`` (N,) class indices. Memory: every layer's output for the N rows.
    ``outputs``: those outputs when the caller has them already (one (N, ...) array per layer of
    ``model``, the last being the logits), else they are computed here.
    """

    def __init__(self, model: Sequential, x: np.ndarray, y: np.ndarray,
                 outputs: list[np.ndarray] | None = None) -> None:
        x = _rows(model, x)
        self.y = _labels(model, y, len(x))
        self.model = model.copy()
        self._params = [dict(layer.params) for layer in self.model.layers]
        value = x.astype(self.model.dense_layers[0].params["W"].dtype, copy=False)
        if outputs is None:
            outputs = []
            for layer in self.model.layers:
                outputs.append(np.array(layer.forward(outputs[-1] if outputs else value, training=False)))
        elif len(outputs) != len(self.model.layers) or any(len(out) != len(x) for out in outputs):
            raise ExplainError(f"expected {len(self.model.layers)} layer outputs of {len(x)} rows")
        self.inputs: list[np.ndarray] = [value, *outputs[:-1]]  # the input of each layer (N, features)
        self.logits = outputs[-1]
        self.start = len(self.model.layers)  # where the last call started its forward (for tests)

    def output(self, layer: int) -> np.ndarray:
        """The original model's output (N, units) of ``model.layers[layer]`` on the inputs."""
        _layer_index(self.model, layer)
        return self.inputs[layer + 1] if layer + 1 < len(self.inputs) else self.logits

    def first_change(self, edited: Sequential) -> int:
        """The position of the first layer whose parameters differ from the original's
        (len(layers) if none)."""
        if edited.get_config() != self.model.get_config():
            raise ExplainError("the edited model does not have the original's layers")
        for i, (layer, params) in enumerate(zip(edited.layers, self._params, strict=True)):
            if any(not np.array_equal(layer.params[key], value) for key, value in params.items()):
                return i
        return len(edited.layers)

    def probabilities(self, edited: Sequential) -> np.ndarray:
        """Class probabilities (N, C) of ``edited`` on the inputs."""
        self.start = start = self.first_change(edited)
        if start == len(edited.layers):
            return softmax(self.logits)
        layers = edited.copy().layers  # its own caches: ``edited`` may be used elsewhere meanwhile
        parts = []
        for row in range(0, len(self.y), CHUNK):
            value = self.inputs[start][row : row + CHUNK]
            for layer in layers[start:]:
                value = layer.forward(value, training=False)
            parts.append(softmax(value))
        return np.concatenate(parts)

    def accuracy(self, edited: Sequential) -> float:
        """The share of the rows that ``edited`` classifies right."""
        return float(np.mean(np.argmax(self.probabilities(edited), axis=1) == self.y))


def activation_range(model: Sequential, layer: int) -> tuple[float, float] | None:
    """The output range of the activation of ``model.layers[layer]``'s units, for shading:
    (0, 1) for sigmoid, (-1, 1) for tanh; None for ReLU-like and linear units (unbounded: use the
    values' own range)."""
    dense, above = unit_layers(model, layer)
    end = above if above is not None else len(model.layers)
    kinds = [type(current) for current in model.layers[dense + 1 : end] if not isinstance(current, Dropout)]
    if kinds and kinds[-1] is Sigmoid:
        return (0.0, 1.0)
    if kinds and kinds[-1] is Tanh:
        return (-1.0, 1.0)
    return None


def _layer_index(model: Sequential, layer) -> int:
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(model.layers):
        raise ExplainError(f"layer {layer!r} is not a position in the model's {len(model.layers)} layers")
    return int(layer)


def _unit(model: Sequential, layer, unit) -> None:
    dense, _ = unit_layers(model, layer)
    width = model.layers[dense].out_features
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < width:
        raise ExplainError(f"unit {unit!r} is not in layer {layer}, which has {width} units")


def _finite(value, what: str) -> float:
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not number or not np.isfinite(value):
        raise ExplainError(f"the {what} must be a finite number, got {value!r}")
    return float(value)
