"""Test-set predictions of one model, computed once and shared by the views that need them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from scratchnet.data import Dataset
from scratchnet.network import Sequential
from scratchnet.threads import using_blas

SORT_BY_CONFIDENCE = "confidence"
SORT_BY_INDEX = "index"


def finite_probabilities(model: Sequential, x: np.ndarray) -> np.ndarray:
    """``model.predict_proba(x)``, where a diverged run's last finite weights overflow the outputs:
    no probability (0) instead of NaN, and no NumPy warnings."""
    # a run's worker may change the BLAS thread count meanwhile: using_blas waits for that
    with using_blas(), np.errstate(over="ignore", invalid="ignore"):
        probabilities = model.predict_proba(x)
    probabilities[~np.isfinite(probabilities)] = 0.0
    return probabilities


@dataclass(frozen=True)
class Predictions:
    """probabilities (N, C) float32; true and predicted (N,) int64; confidence (N,) = the
    probability of the predicted class."""

    probabilities: np.ndarray
    true: np.ndarray
    predicted: np.ndarray

    @classmethod
    def of(cls, model: Sequential, x: np.ndarray, y: np.ndarray) -> Predictions:
        probabilities = finite_probabilities(model, x)
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
    """What the views show: a model, the data set, and the (lazily computed, cached) test-set
    predictions. A new context is made for every change, so views can compare identities."""

    def __init__(self, model: Sequential | None, dataset: Dataset | None) -> None:
        self.model = model
        self.dataset = dataset

    @property
    def usable(self) -> bool:
        """True when the model fits the data set (same number of inputs and classes)."""
        return (self.model is not None and self.dataset is not None
                and self.model.input_size == self.dataset.x_test.shape[1]
                and self.model.output_size == self.dataset.num_classes)

    @cached_property
    def predictions(self) -> Predictions | None:
        if not self.usable:
            return None
        return Predictions.of(self.model, self.dataset.x_test, self.dataset.y_test)

    @property
    def class_names(self) -> list[str]:
        if self.dataset is not None:
            return list(self.dataset.class_names)
        return [str(i) for i in range(self.model.output_size if self.model is not None else 10)]
