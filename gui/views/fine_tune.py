"""Fine-tuning on my digits: an ordinary run of the current model on MNIST mixed with my digits.

``FineTuner`` hears the My digits view's request, builds the mixed data set and measures the model
before (off the GUI thread), starts the run through the window's run controller (so it has its
curves and its place in the runs list), and when the run is over measures the new model and shows
before and after in the view: the accuracy on my held-out digits and on MNIST's test set.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Slot

from scratchnet.my_digits import MNIST_PLUS_MY_DIGITS, SIDE, FineTuneData, fine_tune_dataset
from scratchnet.network import Sequential

from ..run_record import RunRecord
from ..settings import RunSpec
from .background import LatestJob
from .predictions import finite_probabilities

RUN_LABEL = "fine-tune on my digits"


@dataclass(frozen=True)
class Scores:
    """Accuracies in [0, 1]: on my held-out digits (None when none is held out) and MNIST's test set."""

    mine: float | None
    mnist: float


def measure(model: Sequential, data: FineTuneData) -> Scores:
    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(np.argmax(finite_probabilities(model, x), axis=1) == y))

    mine = accuracy(data.x_held, data.y_held) if len(data.y_held) else None
    return Scores(mine, accuracy(data.dataset.x_test, data.dataset.y_test))


def before_after(before: Scores, after: Scores, data: FineTuneData) -> str:
    def pct(value: float) -> str:
        return f"{100 * value:.1f}%"

    if before.mine is None:
        mine = "no digit of mine held out to measure by"
    else:
        mine = f"my {len(data.y_held)} held-out digits {pct(before.mine)} → {pct(after.mine)}"
    return (f"Before → after fine-tuning on {data.mine_trained} of my digits: {mine}; "
            f"MNIST test {pct(before.mnist)} → {pct(after.mnist)}.")


class FineTuner(QObject):
    """Wires ``view.fine_tune_requested`` to a run of ``window``'s controller."""

    def __init__(self, window, view) -> None:
        super().__init__(window)
        self.setObjectName("fineTuner")
        self._window = window
        self._view = view
        self.job = LatestJob(self)
        self.jobs = [self.job]  # closed with the window (views.JobCloser)
        self._data: FineTuneData | None = None
        self._before: Scores | None = None
        self._run: RunRecord | None = None
        self._config = None
        self._start_model: Sequential | None = None
        self.result: tuple[Scores, Scores] | None = None  # (before, after) of the last fine-tune
        view.fine_tune_requested.connect(self.start)
        window.controller.run_started.connect(lambda _run: view.set_busy(True))
        window.training_finished.connect(self._on_finished)

    @Slot(float, int, float)
    def start(self, share: float, epochs: int, held_out: float) -> None:
        window, view = self._window, self._view
        model = window.current_model
        problem = None
        if window.is_running or self.job.busy:
            problem = "a run is training: wait for it to end (or stop it)"
        elif model is None:
            problem = "there is no model yet: train or open one first"
        elif (model.input_size, model.output_size) != (SIDE * SIDE, 10):
            problem = (f"the current model takes {model.input_size} inputs to {model.output_size} classes, "
                       "not 28×28 digits to 10")
        elif len(view.store) == 0:
            problem = "My digits is empty: add digits on the drawing pad first"
        if problem is not None:
            view.show_fine_tune(f"Cannot fine-tune: {problem}.")
            return
        self._config = window.run_config().with_architecture_of(model).replace(
            dataset=MNIST_PLUS_MY_DIGITS, epochs=epochs)
        # copies: the layers keep per-call caches and the GUI thread runs the model meanwhile; the
        # store replaces its arrays on a change, never edits them, so a shallow copy is a snapshot
        cache, store, start_model = window.controller.datasets, copy.copy(view.store), model.copy()
        seed = self._config.seed

        self._start_model = start_model  # measured before, then trained on (after the measure)

        def prepare():
            data = fine_tune_dataset(cache.get("mnist"), store, share, held_out, seed)
            return data, measure(start_model, data)

        view.set_busy(True)
        view.show_fine_tune("Mixing MNIST with my digits and measuring the model before…")
        self.job.submit(prepare, self._on_prepared)

    def _on_prepared(self, result, error: Exception | None) -> None:
        window, view = self._window, self._view
        if error is not None or window.is_running:
            view.set_busy(window.is_running)
            view.show_fine_tune(f"Cannot fine-tune: {error or 'a run started meanwhile'}.")
            return
        self._data, self._before = result
        window.controller.datasets.put(MNIST_PLUS_MY_DIGITS, self._data.dataset)
        window.controller.start([RunSpec(self._config, RUN_LABEL)], continue_from=self._start_model)
        self._run = window.controller.run
        view.show_fine_tune(f"Fine-tuning (run #{self._run.run_id}): see its curves in “Training curves”.")

    @Slot(object)
    def _on_finished(self, run: RunRecord) -> None:
        if run is not self._run:
            self._view.set_busy(False)
            return
        self._run = None
        if run.status not in ("finished", "stopped") or self._window.current_model is None:
            self._view.set_busy(False)
            self._view.show_fine_tune(f"The fine-tune run {run.status}: {run.error or 'no model to measure'}.")
            return
        model, data = self._window.current_model.copy(), self._data
        self.job.submit(lambda: measure(model, data), self._on_measured)

    def _on_measured(self, after, error: Exception | None) -> None:
        self._view.set_busy(False)
        if error is not None:
            self._view.show_fine_tune(f"The fine-tuned model could not be measured: {error}")
            return
        self.result = (self._before, after)
        self._view.show_fine_tune(before_after(self._before, after, self._data))


__all__ = ["FineTuner", "Scores", "before_after", "measure"]
