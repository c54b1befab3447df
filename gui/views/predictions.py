"""What the views show of one model: its test-set predictions and the other numbers the views
draw, each computed once per ``ModelContext`` and shared by the views that need them.

The window computes them in a worker thread (see ``ViewRefresher``): each view lists in
``PREPARE`` the computations its ``set_context`` reads, so that on the GUI thread it only draws.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from scratchnet.data import Dataset
from scratchnet.losses import softmax
from scratchnet.network import Sequential
from scratchnet.threads import using_blas

SORT_BY_CONFIDENCE = "confidence"
SORT_BY_INDEX = "index"
# rows per prediction call: a BLAS thread change, or a cancelled computation (``Cancelled``), waits
# for one call at most (about 15 ms for 784-256-128-10 on two cores); fewer rows ran slower
PREDICT_ROWS = 2000
T = TypeVar("T")

_worker = threading.local()  # .cancel: the threading.Event of the computation this thread runs


class Cancelled(Exception):
    """A computation given up part-way because a newer one is wanted (``cancellable``)."""


@contextmanager
def cancellable(event: threading.Event) -> Iterator[None]:
    """Inside, in this thread, ``check_cancelled`` raises ``Cancelled`` once ``event`` is set."""
    previous = getattr(_worker, "cancel", None)
    _worker.cancel = event
    try:
        yield
    finally:
        _worker.cancel = previous


def check_cancelled() -> None:
    """Raise ``Cancelled`` if this thread's computation was cancelled (see ``cancellable``)."""
    event = getattr(_worker, "cancel", None)
    if event is not None and event.is_set():
        raise Cancelled


def layer_outputs(model: Sequential, x: np.ndarray, keep: bool = True) -> list[np.ndarray]:
    """Every layer's output on ``x`` (N, inputs), one (N, ...) array per layer (only the last one
    unless ``keep``), in the layers' dtype, computed PREDICT_ROWS rows at a time into arrays
    allocated once. Checks ``check_cancelled`` between calls. Runs ``model``: pass a copy when
    another thread may run it too (the layers keep per-call caches)."""
    x = x.astype(model.dense_layers[0].params["W"].dtype if model.dense_layers else x.dtype, copy=False)
    outputs: list[np.ndarray | None] = [None] * (len(model.layers) if keep else 1)
    step = PREDICT_ROWS // 2 if model.is_image_network else PREDICT_ROWS  # image layers' buffers are larger
    for start in range(0, len(x), step):
        check_cancelled()
        # a run's worker may change the BLAS thread count meanwhile: using_blas waits for that, and
        # the run's worker waits for the current call (hence calls of PREDICT_ROWS rows only)
        with using_blas(), np.errstate(over="ignore", invalid="ignore"):
            rows = x[start:start + step]
            if keep:
                values = []
                for layer in model.layers:
                    rows = layer.forward(rows, training=False)
                    values.append(rows)
            else:  # the network's own forward (its ReLUs work in place)
                values = [model.forward(rows, training=False)]
            for i, value in enumerate(values):
                if outputs[i] is None:
                    outputs[i] = np.empty((len(x),) + value.shape[1:], value.dtype)
                outputs[i][start:start + len(value)] = value
    return [out for out in outputs if out is not None]


def finite_softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax of ``logits`` (N, C), where a diverged run's overflowed outputs give no probability
    (0) instead of NaN, and no NumPy warnings."""
    with np.errstate(over="ignore", invalid="ignore"):
        probabilities = softmax(logits)
    probabilities[~np.isfinite(probabilities)] = 0.0
    return probabilities


def finite_probabilities(model: Sequential, x: np.ndarray) -> np.ndarray:
    """``model.predict_proba(x)``, where a diverged run's last finite weights overflow the outputs:
    no probability (0) instead of NaN, and no NumPy warnings."""
    if len(x) == 0:
        return np.zeros((0, model.output_size), np.float32)
    return finite_softmax(layer_outputs(model, x, keep=False)[-1])


@dataclass(frozen=True)
class Predictions:
    """probabilities (N, C) float32; true and predicted (N,) int64; confidence (N,) = the
    probability of the predicted class."""

    probabilities: np.ndarray
    true: np.ndarray
    predicted: np.ndarray

    @classmethod
    def of(cls, model: Sequential, x: np.ndarray, y: np.ndarray) -> Predictions:
        return cls.from_probabilities(finite_probabilities(model, x), y)

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray, y: np.ndarray) -> Predictions:
        return cls(probabilities, np.asarray(y, np.int64), np.argmax(probabilities, axis=1))

    @property
    def count(self) -> int:
        return len(self.true)

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities[np.arange(self.count), self.predicted]

    def wrong(self, true_class: int | None = None, predicted_class: int | None = None,
              sort: str = SORT_BY_CONFIDENCE) -> np.ndarray:
        """Indices (K,) of the misclassified samples matching the filters (None = any class),
        most confident mistake first or in index order."""
        keep = self.true != self.predicted
        if true_class is not None:
            keep &= self.true == true_class
        if predicted_class is not None:
            keep &= self.predicted == predicted_class
        indices = np.flatnonzero(keep)
        if sort == SORT_BY_CONFIDENCE:
            indices = indices[np.argsort(-self.confidence[indices], kind="stable")]
        elif sort != SORT_BY_INDEX:
            raise ValueError(f"unknown sort {sort!r}")
        return indices


class ModelContext:
    """What the views show: a model, the data set, and what is computed from them (``computed``),
    among which the test-set predictions. A new context is made for every change, so views can
    compare identities."""

    def __init__(self, model: Sequential | None, dataset: Dataset | None) -> None:
        self.model = model
        self.dataset = dataset
        self._results: dict[Callable, object] = {}

    def computed(self, compute: Callable[[ModelContext], T]) -> T:
        """``compute(self)``, worked out once by whichever thread asks first, then shared. The window
        asks from its view worker before any view reads it on the GUI thread."""
        if compute not in self._results:
            self._results[compute] = compute(self)
        return self._results[compute]

    def provide(self, compute: Callable[[ModelContext], T], value: T) -> None:
        """Keep ``value`` as ``compute``'s result unless it is already worked out (a computation
        that finds another's numbers on the way gives them)."""
        self._results.setdefault(compute, value)

    def has(self, compute: Callable) -> bool:
        """True when ``compute`` is already worked out for this context."""
        return compute in self._results

    @property
    def usable(self) -> bool:
        """True when the model fits the data set (same number of inputs and classes)."""
        return (self.model is not None and self.dataset is not None
                and self.model.input_size == self.dataset.x_test.shape[1]
                and self.model.output_size == self.dataset.num_classes)

    @property
    def predictions(self) -> Predictions | None:
        return self.computed(predictions_on_test_set)

    @property
    def class_names(self) -> list[str]:
        if self.dataset is not None:
            return list(self.dataset.class_names)
        return [str(i) for i in range(self.model.output_size if self.model is not None else 10)]


def predictions_on_test_set(context: ModelContext) -> Predictions | None:
    """The model's predictions on the whole test set, or None when it does not fit the data."""
    if not context.usable:
        return None
    # on a copy: the layers keep per-call caches, and the GUI thread may run the model meanwhile
    # (when the Neuron lab's numbers exist, lab_cache gave these already: ModelContext.provide)
    return Predictions.of(context.model.copy(), context.dataset.x_test, context.dataset.y_test)
