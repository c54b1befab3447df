"""What one training update did: the samples it used, their loss before and after, and how far
each layer's weights moved. The window's Step button shows it.

``StepRecorder`` watches a running ``train`` loop for one update. The loop hands it nothing: it
sees the update's inputs as the model receives them (a one-call wrapper on ``model.forward``)
and, for augmented runs, the rows before augmentation (a wrapper around the augmenter). It finds
which training rows those are by their bytes (``RowFinder``), so the labels come from the
training set itself. ``describe_step`` then compares the weights before and after the update,
in inference mode (no dropout), on exactly those inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .losses import SoftmaxCrossEntropy
from .network import Sequential
from .sparse import ColumnSparse

CHUNK = 8192  # rows per forward pass when measuring


@dataclass(frozen=True)
class LayerMove:
    """How far one Dense layer's weights moved in an update: Frobenius norms of the change of W
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


def layer_names(model: Sequential) -> list[str]:
    """"Dense 1 (784→128)", ... for each Dense layer."""
    return [f"Dense {k} ({d.in_features}→{d.out_features})" for k, d in enumerate(model.dense_layers, start=1)]


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
            for name, b, a in zip(layer_names(before), before.dense_layers, after.dense_layers, strict=True)
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


class RowFinder:
    """Finds training rows by their bytes: ``find(rows)`` gives the index of each row of ``rows``
    (B, F) in ``x`` (N, F), or -1. Built on first use (about 0.1 s for 60,000 MNIST images)."""

    def __init__(self, x: np.ndarray) -> None:
        self._x = x
        self._index: dict[bytes, int] | None = None

    def find(self, rows: np.ndarray) -> np.ndarray:
        if self._index is None:
            self._index = {}
            for i in range(len(self._x) - 1, -1, -1):  # the first of identical rows wins
                self._index[self._x[i].tobytes()] = i
        rows = np.ascontiguousarray(np.atleast_2d(rows), dtype=self._x.dtype)
        return np.array([self._index.get(row.tobytes(), -1) for row in rows], dtype=np.int64)


class StepRecorder:
    """Records the inputs of one update of a ``train`` loop over ``model``.

    ``augment()`` wraps the run's augmenter (pass the result to ``train``); ``arm()`` makes the
    next training forward pass (and augmentation) record what it gets; ``report(update)`` is the
    ``StepReport`` once that update is over. Full batch has no mini-batch: its report covers every
    training row."""

    def __init__(self, model: Sequential, x_train: np.ndarray, y_train: np.ndarray, full_batch: bool) -> None:
        self._model = model
        self._x, self._y = x_train, y_train
        self._full_batch = full_batch
        self._rows = RowFinder(x_train)
        self._before: Sequential | None = None
        self._inputs: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self._augmenting = False

    def augment(self, augmenter: Callable | None) -> RecordingAugmenter | None:
        """``augmenter`` wrapped so that an armed recorder sees the rows before they are changed."""
        if augmenter is None:
            return None
        self._augmenting = True
        return RecordingAugmenter(augmenter, self)

    def saw_rows(self, xb: np.ndarray) -> None:
        """The augmenter was given ``xb``: kept when armed (the rows before they change)."""
        if self._before is not None and self._raw is None:
            self._raw = np.array(xb, copy=True)

    @property
    def model(self) -> Sequential:
        """The model the loop trains."""
        return self._model

    @property
    def armed(self) -> bool:
        return self._before is not None

    def arm(self) -> None:
        """Take the weights now (just before the update) and record the next forward pass."""
        self._before = self._model.copy()
        self._inputs = self._raw = None
        if self._full_batch:
            return
        model, original = self._model, self._model.forward

        def recording(x, training: bool = False, **kwargs):
            if training:
                del model.forward  # one call only: the class's own method again
                self._inputs = np.array(x.dense() if isinstance(x, ColumnSparse) else x, copy=True)
            return original(x, training, **kwargs)

        model.forward = recording

    def disarm(self) -> None:
        self._model.__dict__.pop("forward", None)
        self._before = None

    def report(self, update: int) -> StepReport | None:
        """What the update did (the model now holds its result); None when it never ran."""
        before = self._before
        self.disarm()
        if before is None:
            return None
        if self._full_batch:
            indices = np.arange(len(self._y))
            inputs = self._x
        else:
            if self._inputs is None:
                return None
            inputs = np.atleast_2d(self._inputs)
            indices = self._rows.find(self._raw if self._augmenting else inputs)
            if (indices < 0).any():
                return None
        return describe_step(before, self._model, inputs, self._y[indices], indices, update)


class RecordingAugmenter:
    """``augmenter`` (``.augmenter``), telling a ``StepRecorder`` the rows it is given."""

    def __init__(self, augmenter: Callable, recorder: StepRecorder) -> None:
        self.augmenter = augmenter
        self._recorder = recorder

    def __call__(self, xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self._recorder.saw_rows(xb)
        return self.augmenter(xb, rng)

