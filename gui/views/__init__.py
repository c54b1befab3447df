"""Inspection views: misclassified digits, confusion matrix, inside the network, drawing pad, and
backprop step by step.

``install_views(window)`` adds them as tabs of the main window and keeps them on the window's
current model: the visible tab refreshes at once (while training, at most about once a second,
less often for models whose numbers take long to compute: see ``VIEW_WORK_SHARE``), the others
are marked stale and refresh when they are shown. The drawing pad always follows the
model at once, since it predicts only one image.

A refresh computes off the GUI thread: a ``ContextWorker`` in its own thread works out what the
visible view reads (its ``PREPARE`` list: test-set predictions, statistics, histograms), then
the view draws on the GUI thread. One computation runs at a time; when it ends, the refresher
looks again at the newest model, so the models that came meanwhile are skipped, and a result
for an older model is never drawn.

Idle, the refresher prepares ahead (``prefetch``, set by the time slider): the visible view's
numbers for the contexts of the checkpoints around the slider, one computation at a time, so that
moving the slider there draws at once. A request for the newest context cancels a computation under
way for another context (prepared ahead, or one the slider left): it stops at its next check, within
one prediction call (``PREDICT_ROWS``), so the newest waits for that at most.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QDeadlineTimer, QEvent, QObject, QThread, QTimer, Signal, Slot

from scratchnet.preprocess import MNIST_SIDE

from ..datasets import MY_DIGITS_SETS
from ..threads import start_in_thread, stop_thread
from .backprop import BackpropLink, BackpropView
from .confusion import ConfusionView
from .drawing_pad import DrawingPad
from .embedding import EmbeddingView
from .fine_tune import FineTuner
from .misclassified import MisclassifiedView
from .my_digits import MyDigitsView
from .network_diagram import NetworkDiagram
from .neuron_lab import NeuronLab
from .predictions import Cancelled, ModelContext, cancellable
from .weights import WeightsView

TRAINING_REFRESH_S = 1.0
# While a run trains, the view worker's computations take at most about this share of the time,
# since they compete with training for the cores: test-set predictions that take 0.4 s (784-800-
# 800-10 on two cores) make the refreshes 8 s apart, small models' stay 1 s apart.
VIEW_WORK_SHARE = 0.05
# (Not a lower thread priority instead: at niceness 19 the views starved whenever other programs
# kept the cores busy, and at this share the benchmark could not tell the two apart.)
CLOSE_WAIT_MS = 2000  # at most this long for a computation when the window closes


class ContextWorker(QObject):
    """Works out ``computations`` for ``context`` (``ModelContext.computed``) in its own thread;
    ``done`` when all are, or at the first error, kept in ``error``, or soon after ``cancel``
    (then ``cancelled``; what was worked out in full is kept)."""

    done = Signal()

    def __init__(self, context: ModelContext, computations) -> None:
        super().__init__()
        self.context = context
        self.computations = list(computations)
        self.error: Exception | None = None
        self.thread_id: int | None = None  # the thread that computed, for tests
        self.seconds = 0.0  # how long it took
        self.cancelled = False
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Give up at the next check (``check_cancelled``: between prediction calls). Any thread."""
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        self.thread_id = threading.get_ident()
        start = time.perf_counter()
        try:
            # a diverged run's last finite weights can be huge: its activations overflow, which the
            # views show as they are rather than as warnings on stderr
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"), cancellable(self._cancel):
                for compute in self.computations:
                    self.context.computed(compute)
        except Cancelled:
            self.cancelled = True
        except Exception as error:
            self.error = error
        finally:
            self.seconds = time.perf_counter() - start
            self.done.emit()


class ViewRefresher(QObject):
    """Gives each view a fresh ``ModelContext`` when the window's model or data set changes, its
    numbers computed in a worker thread.

    Signals: ``drawn(view)`` after ``view`` was given the newest context; ``computed(worker)``
    when a computation ended (in the GUI thread; ``worker.context`` may be older than the newest).
    """

    drawn = Signal(object)
    computed = Signal(object)

    def __init__(self, window, views: list, pad: DrawingPad) -> None:
        super().__init__(window)
        self.setObjectName("viewRefresher")
        self._window = window
        self._views = views
        self._pad = pad
        self._stale: set = set()
        self._context = ModelContext(None, None)
        self._last_refresh = -float("inf")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)
        self._thread: QThread | None = None
        self._worker: ContextWorker | None = None
        self._compute_seconds = 0.0  # the last computation's duration
        self._closed = False  # no new computation once the window has closed
        # (model, dataset) -> a ModelContext already made for that model (with what it has computed), or None
        self.known_context = None
        # () -> iterable of ModelContexts worth preparing ahead while idle, most wanted first
        self.prefetch = None
        self._prefetching = False
        self._prefetch_failed: set[int] = set()  # ids of contexts whose computation failed: not retried
        window.installEventFilter(self)
        window.model_changed.connect(self._on_change)
        window.dataset_changed.connect(self._on_change)
        window.views.currentChanged.connect(self._refresh_current)

    @property
    def context(self) -> ModelContext:
        """The newest context: the one the visible view shows, or is being computed for it."""
        return self._context

    @property
    def training_interval(self) -> float:
        """Seconds between two refreshes while a run trains: ``TRAINING_REFRESH_S``, longer when
        the computations take more than ``VIEW_WORK_SHARE`` of that."""
        return max(TRAINING_REFRESH_S, self._compute_seconds / VIEW_WORK_SHARE)

    @property
    def pending(self) -> bool:
        """True while the visible view waits for its numbers."""
        return (self._thread is not None and not self._prefetching) or self._window.views.currentWidget() in self._stale

    @property
    def busy(self) -> bool:
        """True while any computation runs, one prepared ahead (``prefetch``) included."""
        return self._thread is not None

    def eventFilter(self, watched, event) -> bool:
        if watched is self._window and event.type() == QEvent.Close:
            self._closed = True
            self._timer.stop()
            # a computation still running at the deadline goes on without the window (threads.py)
            stop_thread(self._thread, QDeadlineTimer(CLOSE_WAIT_MS))
        elif watched is self._window and event.type() == QEvent.Show:
            self._closed = False
        return False

    @Slot()
    def _on_change(self) -> None:
        dataset = self._window.dataset
        self._pad.set_model(self._window.current_model, dataset.class_names if dataset is not None else None,
                            dataset.image_shape[0] if dataset is not None else MNIST_SIDE)
        waited, interval = time.perf_counter() - self._last_refresh, self.training_interval
        if self._window.is_running and waited < interval:
            if not self._timer.isActive():
                self._timer.start(int(1000 * (interval - waited)) + 1)
            return
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """New context for every view; the visible one is redrawn now."""
        self._timer.stop()
        self._last_refresh = time.perf_counter()
        model, dataset = self._window.current_model, self._window.dataset
        known = self.known_context(model, dataset) if self.known_context is not None else None
        self._context = known if known is not None else ModelContext(model, dataset)
        self._stale = set(self._views)
        self._refresh_current()

    @Slot()
    def _refresh_current(self) -> None:
        """Draw the visible view if it is stale and its numbers are ready; else compute them."""
        current = self._window.views.currentWidget()
        if current not in self._stale:
            self._prefetch_next()
            return
        context = self._context
        missing = [compute for compute in current.PREPARE if not context.has(compute)]
        if missing:
            self._compute(context, missing)
            return
        self._stale.discard(current)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # see ContextWorker.run
            current.set_context(context)
        self.drawn.emit(current)
        self._prefetch_next()

    def _prefetch_next(self) -> None:
        """Idle: compute one of the visible view's numbers for the next context worth preparing."""
        if self.prefetch is None or self._thread is not None or self._closed or self._window.is_running:
            return
        current = self._window.views.currentWidget()
        for context in self.prefetch():
            if id(context) in self._prefetch_failed:
                continue
            missing = [compute for compute in getattr(current, "PREPARE", ()) if not context.has(compute)]
            if missing:
                self._compute(context, missing[:1], prefetch=True)
                return

    def _compute(self, context: ModelContext, computations: list, prefetch: bool = False) -> None:
        if self._thread is not None and not prefetch and (self._prefetching or self._worker.context is not context):
            # the slider moved on: what runs is for a context nobody waits for (prepared ahead, or
            # left behind), so give it up at its next check rather than wait for it
            self._worker.cancel()
        if self._thread is not None or self._closed:
            return  # when it ends, _on_computed looks again, at the newest context
        self._prefetching = prefetch
        self._worker = ContextWorker(context, computations)
        self._thread = start_in_thread(self._worker, [self._worker.done], self, self._on_computed)

    @Slot()
    def _on_computed(self) -> None:
        worker, self._worker, self._thread = self._worker, None, None
        prefetched, self._prefetching = self._prefetching, False
        if worker.cancelled:
            pass  # nothing failed: its context is computed again when it is wanted
        elif not prefetched:
            self._compute_seconds = worker.seconds
        elif worker.error is not None:
            self._prefetch_failed.add(id(worker.context))
        self.computed.emit(worker)
        if worker.error is not None and worker.context is self._context:
            views = self._window.views
            self._stale.discard(views.currentWidget())  # not retried until the model changes
            self._window.status.error(f"Could not compute “{views.tabText(views.currentIndex())}”: {worker.error}")
            return
        self._refresh_current()


class JobCloser(QObject):
    """Stops the views' own worker jobs (``view.jobs``) when the window closes."""

    def __init__(self, window, views: list) -> None:
        super().__init__(window)
        self._jobs = [job for view in views for job in view.jobs]
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Close:
            deadline = QDeadlineTimer(CLOSE_WAIT_MS)
            for job in self._jobs:
                job.close(deadline)
        return False


def install_views(window) -> None:
    """Create the views, add them as tabs of ``window`` and wire them together."""
    misclassified = MisclassifiedView()
    confusion = ConfusionView()
    weights = WeightsView()
    pad = DrawingPad()
    backprop = BackpropView()
    diagram = NetworkDiagram()
    lab = NeuronLab()
    embedding = EmbeddingView()
    my_digits = MyDigitsView()
    window.add_view(misclassified, "Misclassified")
    window.add_view(confusion, "Confusion matrix")
    window.add_view(weights, "Inside the network")
    window.add_view(diagram, "Network diagram")
    window.add_view(lab, "Neuron lab")
    window.add_view(embedding, "Hidden-layer map")
    window.add_view(pad, "Drawing pad")
    window.add_view(backprop, "Backprop")
    window.add_view(my_digits, "My digits")
    ViewRefresher(window, [misclassified, confusion, weights, diagram, lab, embedding, backprop], pad)
    fine_tuner = FineTuner(window, my_digits)
    JobCloser(window, [lab, embedding, weights, fine_tuner, my_digits])
    wire_my_digits(window, pad, my_digits)
    backprop_link = BackpropLink(window, backprop, misclassified, pad)
    embedding.detail.backprop_requested.connect(backprop_link.show_test_digit)

    @Slot(int, int)
    def browse_cell(true_class: int, predicted_class: int) -> None:
        # a diagonal cell holds no mistakes: show every mistake of that true class instead
        misclassified.set_filters(true_class, None if true_class == predicted_class else predicted_class)
        window.views.setCurrentWidget(misclassified)

    confusion.cell_chosen.connect(browse_cell)
    misclassified.digit_selected.connect(weights.select_test_digit)
    pad.digit_changed.connect(weights.set_drawn_digit)
    for source in (misclassified, embedding):
        source.digit_selected.connect(diagram.select_test_digit)
    embedding.digit_selected.connect(weights.select_test_digit)
    pad.digit_changed.connect(diagram.set_drawn_digit)

    @Slot()
    def follow_digit() -> None:
        lab.set_digit(diagram.digit(), diagram.digit_label())

    @Slot(int, int)
    def open_unit(layer: int, unit: int) -> None:
        lab.set_unit(layer, unit)
        window.views.setCurrentWidget(lab)

    @Slot(object)
    def keep(model) -> None:
        if window.is_running:
            lab.show_note("Keep is refused while a run trains: the run would replace the kept model at its "
                          "next epoch. Stop the run (or let it finish), then click Keep.")
            return
        window.controller.set_model(model, window.model_spec, window.controller.model_run)
        lab.show_note("Kept: the edited network is now the current model (File → Save model saves it; "
                      "tick “Continue” to train it further).")
        window.status.success("The Neuron lab's edited network is now the current model.")

    embedding.throttled = lambda: window.is_running  # a slider's moves are coalesced by its job instead
    diagram.digit_changed.connect(follow_digit)
    diagram.unit_clicked.connect(open_unit)
    lab.keep_requested.connect(keep)


def wire_my_digits(window, pad: DrawingPad, view: MyDigitsView) -> None:
    """The pad adds to My digits; the view follows the model; a changed store is loaded again."""

    @Slot(object, int)
    def add(digit, label: int) -> None:
        pad.show_note(view.add(digit, label))

    @Slot()
    def store_changed() -> None:
        chosen = window.run_config().dataset
        for name in MY_DIGITS_SETS:
            if name == chosen and not window.is_running:
                window.controller.reload_dataset(name)
            else:
                window.controller.datasets.forget(name)

    pad.add_requested.connect(add)
    view.changed.connect(store_changed)
    window.model_changed.connect(lambda: view.set_model(window.current_model))
    if view.store.problem:
        window.show_error(view.store.problem)


__all__ = ["BackpropView", "ConfusionView", "DrawingPad", "EmbeddingView", "MisclassifiedView", "MyDigitsView",
           "NetworkDiagram",
           "NeuronLab", "ViewRefresher", "WeightsView", "install_views"]
