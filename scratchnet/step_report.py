"""What one training update did: the samples it used, their loss before and after, and how far
each layer's weights moved. The window's Step button shows it.

``StepRecorder`` follows a running ``train`` loop through one update: the loop's batch log names
the training rows the update used (``rows``), the labels come from the training set, and an
augmented run's inputs from its augmenter (wrapped). ``describe_step`` then compares the weights
before and after the update, in inference mode (no dropout), on exactly those inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .conv import Conv2D
from .layers import Dense
from .losses import SoftmaxCrossEntropy
from .network import Sequential

CHUNK = 8192  # rows per forward pass when measuring


@dataclass(frozen=True)
class LayerMove:
    """How far one Dense or Conv2D layer's weights moved in an update: Frobenius norms of the change of W
    and b, and of W before it."""

    name: str
    weight_change: float
    bias_change: float
    weight_norm: float

    @property
    def relative_change(self) -> float:
        """||ΔW|| / ||W|| (0 when W was all zeros)."""
        return self.weight_change / self.weight_norm if self.weight_norm > 0 else 0.0


@dataclass(frozen=True)
class StepReport:
    """One update: ``update`` (its number, from 1), the training ``indices`` (B,) it used, the
    ``inputs`` (B, F) as the model received them (augmented, if the run augments), their
    ``labels`` (B,), the mean cross-entropy on them and each one's predicted class before and after
    the update (inference mode), and each Dense layer's ``moves``."""

    update: int
    indices: np.ndarray
    inputs: np.ndarray
    labels: np.ndarray
    loss_before: float
    loss_after: float
    predicted_before: np.ndarray
    predicted_after: np.ndarray
    moves: tuple[LayerMove, ...]

    @property
    def batch_size(self) -> int:
        return len(self.labels)


def weighted_layers(model: Sequential) -> list[Dense | Conv2D]:
    """The layers whose weights an update moves, input side first."""
    return [layer for layer in model.layers if isinstance(layer, (Dense, Conv2D))]


def layer_names(model: Sequential) -> list[str]:
    """"Conv 1 (5×5, 1→8 channels)", ..., "Dense 1 (784→128)", ... for each layer with weights."""
    names, counts = [], {"Conv": 0, "Dense": 0}
    for layer in weighted_layers(model):
        kind = "Conv" if isinstance(layer, Conv2D) else "Dense"
        counts[kind] += 1
        if kind == "Conv":
            k = layer.kernel_size
            names.append(f"Conv {counts[kind]} ({k}×{k}, {layer.in_channels}→{layer.out_channels} channels)")
        else:
            names.append(f"Dense {counts[kind]} ({layer.in_features}→{layer.out_features})")
    return names


def describe_step(before: Sequential, after: Sequential, inputs: np.ndarray, labels: np.ndarray,
                  indices: np.ndarray, update: int) -> StepReport:
    """The report of an update that took ``before``'s weights to ``after``'s on ``inputs`` (B, F)
    with ``labels`` (B,) (training rows ``indices``)."""
    inputs = np.atleast_2d(inputs)
    labels = np.atleast_1d(np.asarray(labels, dtype=np.int64))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a step can blow up
        loss_before, predicted_before = _loss_and_predictions(before, inputs, labels)
        loss_after, predicted_after = _loss_and_predictions(after, inputs, labels)
        moves = tuple(
            LayerMove(name, _norm(a.params["W"] - b.params["W"]), _norm(a.params["b"] - b.params["b"]),
                      _norm(b.params["W"]))
            for name, b, a in zip(layer_names(before), weighted_layers(before), weighted_layers(after), strict=True)
        )
    return StepReport(update, np.asarray(indices), inputs, labels, float(loss_before), float(loss_after),
                      predicted_before, predicted_after, moves)


def _loss_and_predictions(model: Sequential, inputs: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and predicted classes in inference mode, from one forward pass per
    chunk of rows (a full-batch step covers the whole training set)."""
    loss_fn = SoftmaxCrossEntropy()
    total, predicted = 0.0, []
    for start in range(0, len(inputs), CHUNK):
        logits = model.forward(inputs[start : start + CHUNK], training=False)
        rows = labels[start : start + CHUNK]
        total += loss_fn.forward(logits, rows) * len(rows)
        predicted.append(np.argmax(logits, axis=1))
    return total / max(len(inputs), 1), np.concatenate(predicted)


def _norm(values: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(values, dtype=np.float64))))


class StepRecorder:
    """Records one update of a ``train`` loop over ``model`` (B training rows of x_train (N, F),
    y_train (N,)) for a ``StepReport``.

    ``arm(update)``, just before update number ``update`` runs, takes the weights. The loop's
    batch log that ends with that update says which training rows it used (``rows``; the caller
    asks for a log after every update meanwhile, e.g. ``TrainConfig.log_interval = 0``), and
    ``report_from(log)`` turns it into the report. The inputs are those rows of x_train, or, for
    an augmented run (``augment()`` wraps its augmenter), what the augmenter gave the model. Full
    batch has no mini-batch (its logs carry no rows): its report covers every training row.
    """

    def __init__(self, model: Sequential, x_train: np.ndarray, y_train: np.ndarray) -> None:
        self._model = model
        self._x, self._y = x_train, y_train
        self._update = 0  # the update armed for; 0: not armed
        self._before: Sequential | None = None
        self._augmented: list[np.ndarray] = []  # the augmenter's outputs since arm()
        self._augmenting = False

    def augment(self, augmenter: Callable | None) -> RecordingAugmenter | None:
        """``augmenter`` wrapped so that an armed recorder keeps what it gives the model."""
        if augmenter is None:
            return None
        self._augmenting = True
        return RecordingAugmenter(augmenter, self)

    def saw_augmented(self, xb: np.ndarray) -> None:
        """The augmenter gave the model ``xb`` (B, F): kept while armed."""
        if self._before is not None:
            self._augmented.append(np.array(xb, copy=True))

    @property
    def model(self) -> Sequential:
        """The model the loop trains."""
        return self._model

    @property
    def armed(self) -> bool:
        return self._before is not None

    def arm(self, update: int) -> None:
        """Update number ``update`` is about to run: take the weights now."""
        self._before = self._model.copy()
        self._update = update
        self._augmented = []

    def disarm(self) -> None:
        self._before = None
        self._update = 0
        self._augmented = []

    def report_from(self, log: dict) -> StepReport | None:
        """The report of the armed update, from the loop's batch ``log`` that ends with it (the
        model now holds its result); None, and still armed, for any other log."""
        if self._before is None or log.get("event") != "batch" or log["update"] != self._update:
            return None
        before, augmented, update = self._before, self._augmented, self._update
        self.disarm()
        rows = log["rows"]
        indices = np.arange(len(self._y)) if rows is None else np.asarray(rows, dtype=np.intp)
        if self._augmenting:
            inputs = np.concatenate([np.atleast_2d(a) for a in augmented])
        else:
            inputs = self._x if rows is None else self._x[indices]
        if len(inputs) != len(indices):
            raise RuntimeError(f"update {update}: {len(inputs)} inputs recorded for {len(indices)} rows")
        return describe_step(before, self._model, inputs, self._y[indices], indices, update)


class RecordingAugmenter:
    """``augmenter`` (``.augmenter``), telling a ``StepRecorder`` what it gives the model."""

    def __init__(self, augmenter: Callable, recorder: StepRecorder) -> None:
        self.augmenter = augmenter
        self._recorder = recorder

    def __call__(self, xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = self.augmenter(xb, rng)
        self._recorder.saw_augmented(out)
        return out
