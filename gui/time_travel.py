"""Time travel (issue 16): a slider over the selected run's checkpoints, Fork and the run library.

The ``TimeBar`` sits under the Run controls (a box of its own, in view while a run trains):
the slider (``timeSlider``) moves over the checkpoints of the run selected in the runs list (or
of the running one), its label says which epoch and update, ``forkButton`` continues from there
as a new run and ``runLibraryButton`` opens the library. Moving the slider sends ``moved`` once
the dragging pauses for ``SCRUB_COALESCE_MS`` (or every ``SCRUB_MAX_WAIT_MS`` of a drag that never
pauses): a drag emits one request per pause, never a queue of them, and the window's view
refresher then computes only the newest model off the GUI thread (``gui.views.ViewRefresher``).

While a run trains, the slider follows its newest checkpoint; once the user moves it back, it
stays where it was put (``following`` is False) until it is moved to the end again.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from scratchnet.checkpoints import CheckpointError
from scratchnet.network import Sequential

from .fork_dialog import ForkDialog
from .run_record import RunRecord
from .settings import RunSpec
from .views.predictions import ModelContext
from .views.widgets import make_button

SCRUB_COALESCE_MS = 25  # a drag's positions within this are one request: the last one
SCRUB_MAX_WAIT_MS = 150  # a drag that never pauses still sends its position this often
# what the checkpoints' kept ModelContexts may take (their models; what the views computed adds
# about half as much again for 784-256-128-10)
CONTEXT_CACHE_BYTES = 64 * 2**20

TIP_SLIDER = ("Move back in time: every view shows the selected run's model at this checkpoint, and the "
              "curves mark where it is. Checkpoints are taken at every epoch's end (and about 20 times "
              "through runs of under 10 epochs).")
TIP_FORK = ("Continue from this checkpoint as a new run, with another learning rate, optimiser, batch size, "
            "descent, number of epochs or augmentation. The fork's curves start at this point.")
TIP_LIBRARY = ("Every run is saved as it trains, in your data folder: rename, delete, export or import runs, "
               "and see how much room they take.")


def point_text(epoch: int, update: int, updates_per_epoch: int) -> str:
    """"epoch 2.40 (update 1,234)": where a checkpoint sits, in epochs (fractional mid-epoch)."""
    if updates_per_epoch > 0 and update % updates_per_epoch:
        return f"epoch {update / updates_per_epoch:.2f} (update {update:,})"
    return f"epoch {epoch} (update {update:,})"


class TimeBar(QWidget):
    """Signals: ``moved(int)`` (the checkpoint index the user chose, coalesced while dragging),
    ``fork_requested()``, ``library_requested()``."""

    moved = Signal(int)
    fork_requested = Signal()
    library_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("timeBar")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("timeSlider")
        self.slider.setToolTip(TIP_SLIDER)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setEnabled(False)
        self.label = QLabel("No checkpoints yet")
        self.label.setObjectName("timeLabel")
        self.label.setWordWrap(True)
        self.fork_button = make_button("Fork…", "forkButton", TIP_FORK, self.fork_requested)
        self.fork_button.setEnabled(False)
        self.library_button = make_button("Run library…", "runLibraryButton", TIP_LIBRARY, self.library_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.label, 1)
        buttons.addWidget(self.fork_button)
        buttons.addWidget(self.library_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.slider)
        layout.addLayout(buttons)
        self._points: list[tuple[int, int, int]] = []
        self._updates_per_epoch = 1
        self._run_label = ""
        self.following = True  # at the newest checkpoint, and staying there as new ones come
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SCRUB_COALESCE_MS)
        self._timer.timeout.connect(self._emit_moved)
        self._pending_since = 0.0
        self.slider.valueChanged.connect(self._on_value)

    @property
    def index(self) -> int:
        return self.slider.value()

    @property
    def points(self) -> list[tuple[int, int, int]]:
        return list(self._points)

    def set_points(self, points: list[tuple[int, int, int]], updates_per_epoch: int, run_label: str,
                   index: int | None = None) -> None:
        """Show these checkpoints ((epoch, update, samples_seen) each). The slider goes to
        ``index`` when given, else stays put, or to the newest when ``following``. Emits nothing."""
        self._points = list(points)
        self._updates_per_epoch = max(1, updates_per_epoch)
        self._run_label = run_label
        last = len(points) - 1
        if index is None:
            index = last if self.following else min(self.slider.value(), last)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(last, 0))
        self.slider.setValue(max(index, 0))
        self.slider.setTickInterval(max(1, len(points) // 20))
        self.slider.blockSignals(False)
        self.following = index >= last
        self.slider.setEnabled(len(points) > 1)
        self.fork_button.setEnabled(bool(points))
        self._show_label()

    def clear(self, text: str = "No checkpoints yet") -> None:
        self.set_points([], 1, "")
        self.following = True
        self.label.setText(text)

    def choose(self, index: int) -> None:
        """Move the slider as the user would; ``moved`` follows (coalesced)."""
        self.slider.setValue(index)

    @Slot(int)
    def _on_value(self, value: int) -> None:
        self.following = value >= len(self._points) - 1
        self._show_label()
        now = time.perf_counter()
        if not self._timer.isActive():
            self._pending_since = now
        if now - self._pending_since >= SCRUB_MAX_WAIT_MS / 1000:  # a long drag still shows where it is
            self._timer.stop()
            self._emit_moved()
            return
        self._timer.start()  # restarted by every move: one request when the drag pauses

    @Slot()
    def _emit_moved(self) -> None:
        if self._points:
            self.moved.emit(self.slider.value())

    def flush(self) -> None:
        """Emit a pending move now (tests, and a click that must not wait)."""
        if self._timer.isActive():
            self._timer.stop()
            self._emit_moved()

    def _show_label(self) -> None:
        if not self._points:
            return
        epoch, update, _samples = self._points[self.slider.value()]
        text = point_text(epoch, update, self._updates_per_epoch)
        self.label.setText(f"{text} of {self._run_label}" if self._run_label else text)


class TimeTravel(QObject):
    """Wires the ``TimeBar`` to the window: which run it is on, the model at the chosen
    checkpoint (the views then show it), the curves' cursor, and Fork.

    A run's checkpoints come from the controller's ``CheckpointMemory`` (runs of this session)
    or from its folder in the run library (``RunRecord.stored``, runs of earlier sessions).
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.setObjectName("timeTravel")
        self._window = window
        self._bar: TimeBar = window.time_bar
        self._controller = window.controller
        self.run: RunRecord | None = None  # the run the slider is on
        self._templates: dict[int, Sequential] = {}  # per run: a model of its shape, to load checkpoints into
        self.fork_dialog: ForkDialog | None = None
        # (run number, checkpoint index) -> its ModelContext, most recently used last: what the
        # views computed for a checkpoint stays, so moving back there draws at once
        self._contexts: OrderedDict[tuple[int, int], ModelContext] = OrderedDict()
        self._context_bytes = 0
        self._stored_points: dict[int, list[tuple[int, int, int]]] = {}  # per stored run, read once
        self._bar.moved.connect(self.show_checkpoint)
        self._bar.fork_requested.connect(self.open_fork_dialog)
        self._controller.checkpoint_added.connect(self._on_checkpoint)
        self._controller.run_started.connect(self.follow)
        refresher = window.findChild(QObject, "viewRefresher")
        if refresher is not None:
            refresher.known_context = self.known_context
            refresher.prefetch = self.prefetch

    # ---- which run
    @Slot(object)
    def follow(self, run: RunRecord | None) -> None:
        """Put the slider on ``run``, at its newest checkpoint."""
        if run is not self.run:
            self._bar.following = True
        self.run = run
        self._show_points(index=None)
        if run is None or not self._bar.points:
            self._window.plots.set_cursor(None)

    def points(self, run: RunRecord) -> list[tuple[int, int, int]]:
        if run.run_id in self._controller.checkpoints.runs():
            return self._controller.checkpoints.list(run.run_id)
        if run.stored is not None and run.stored.config is not None:
            if run.run_id not in self._stored_points:  # the file names say (nothing is opened)
                self._stored_points[run.run_id] = [(c.epoch, c.update, c.samples_seen)
                                                   for c in run.stored.checkpoints()]
            return self._stored_points[run.run_id]
        return []

    def checkpoint(self, run: RunRecord, index: int):
        """The ``index``-th checkpoint of ``run``; may raise ``CheckpointError`` (a damaged file)."""
        if run.run_id in self._controller.checkpoints.runs():
            return self._controller.checkpoints.get(run.run_id, index)
        return run.stored.load_checkpoint(index)

    def _show_points(self, index: int | None) -> None:
        run = self.run
        if run is None:
            self._bar.clear("Select a run to move through its checkpoints")
            return
        points = self.points(run)
        if not points:
            self._bar.clear(f"{run.label}: no checkpoints" if run.status != "running" else "No checkpoints yet")
            return
        self._bar.set_points(points, run.updates_per_epoch, f"#{run.run_id}", index)

    @Slot(object)
    def _on_checkpoint(self, run: RunRecord) -> None:
        if run is not self.run:
            return
        self._show_points(index=None)
        if self._bar.following:
            self._window.plots.set_cursor(run, self._bar.points[-1][1])

    # ---- the chosen checkpoint
    @Slot(int)
    def show_checkpoint(self, index: int) -> None:
        """The views show ``self.run`` at its ``index``-th checkpoint, the curves a cursor there.
        At the newest point of the running run, the views follow training again."""
        run, controller = self.run, self._controller
        points = self._bar.points
        if run is None or not 0 <= index < len(points):
            return
        self._window.plots.set_cursor(run, points[index][1])
        if index == len(points) - 1 and controller.held and controller.newest_run is run:
            controller.release()  # the run's own newest weights: training goes on showing, Continue works
            return
        try:
            context = self.context_at(run, index)
        except (CheckpointError, OSError, ValueError) as exc:
            self._window.status.error(f"Cannot show that checkpoint of run #{run.run_id}: {exc}")
            return
        controller.hold(context.model, run)  # the refresher finds this context (known_context)
        if controller.is_running:
            refresher = self._window.findChild(QObject, "viewRefresher")
            if refresher is not None:
                refresher.refresh()  # now: while a run trains, its own refreshes are throttled

    # ---- what the views computed for each checkpoint
    def context_at(self, run: RunRecord, index: int) -> ModelContext:
        """The ModelContext of ``run``'s ``index``-th checkpoint: made once, then kept (within
        ``CONTEXT_CACHE_BYTES``) with whatever the views computed for it."""
        key = (run.run_id, index)
        context = self._contexts.get(key)
        if context is not None and context.dataset is self._window.dataset:
            self._contexts.move_to_end(key)
            return context
        model = self.model_at(run, self.checkpoint(run, index))
        context = ModelContext(model, self._window.dataset)
        self._contexts[key] = context
        self._context_bytes += _model_bytes(model)
        while self._context_bytes > CONTEXT_CACHE_BYTES and len(self._contexts) > 1:
            _key, dropped = self._contexts.popitem(last=False)
            self._context_bytes -= _model_bytes(dropped.model)
        return context

    def known_context(self, model, dataset) -> ModelContext | None:
        """The kept context of ``model`` when it is one of the checkpoints' models (for the view
        refresher: it then reuses what was computed)."""
        for context in reversed(self._contexts.values()):
            if context.model is model and context.dataset is dataset:
                return context
        return None

    def prefetch(self):
        """The contexts worth preparing while idle: the slider's run's checkpoints, nearest to
        the slider first, as many as the cache keeps."""
        run, points = self.run, self._bar.points
        if run is None or not points or self._window.dataset is None:
            return
        here = self._bar.index
        order = sorted(range(len(points)), key=lambda i: (abs(i - here), i))
        budget = CONTEXT_CACHE_BYTES
        for index in order:
            try:
                context = self.context_at(run, index)
            except (CheckpointError, OSError, ValueError):
                continue
            budget -= _model_bytes(context.model)
            if budget < 0:
                return
            yield context

    def model_at(self, run: RunRecord, checkpoint) -> Sequential:
        """A new model of ``run``'s shape holding ``checkpoint``'s weights."""
        template = self._templates.get(run.run_id)
        if template is None:
            dataset = self._window.dataset
            if dataset is None:
                raise ValueError("the data set is still loading")
            config = run.spec.config
            template = config.build_model(dataset.x_train.shape[1], dataset.num_classes)
            self._templates[run.run_id] = template
        model = template.copy()
        model.load_state_dict(checkpoint.params)
        return model

    # ---- fork
    @Slot()
    def open_fork_dialog(self) -> ForkDialog | None:
        """The Fork dialog for the slider's checkpoint (window-modal, not blocking); None when
        there is nothing to fork or a run is training."""
        run = self.run
        if run is None or not self._bar.points:
            return None
        if self._controller.is_running:
            self._window.status.error("Fork is refused while a run trains: stop it or let it finish first.")
            return None
        if problem := self._window.library.import_mismatch(run):
            self._window.status.error(f"Cannot fork run #{run.run_id}: {problem}.")
            return None
        index = self._bar.index
        try:
            checkpoint = self.checkpoint(run, index)
        except (CheckpointError, OSError, ValueError) as exc:
            self._window.status.error(f"Cannot fork from that checkpoint of run #{run.run_id}: {exc}")
            return None
        epoch, update, _samples = self._bar.points[index]
        where = f"run {run.label} at {point_text(epoch, update, run.updates_per_epoch)}"
        if self.fork_dialog is not None:  # the last one: out of the window's children now, deleted soon
            self.fork_dialog.setParent(None)
            self.fork_dialog.deleteLater()
        self.fork_dialog = ForkDialog(run.spec.config, checkpoint.epoch, where, self._window)
        self.fork_dialog.accepted.connect(lambda: self._start_fork(run, checkpoint))
        self.fork_dialog.open()
        return self.fork_dialog

    def _start_fork(self, run: RunRecord, checkpoint) -> None:
        config = self.fork_dialog.config()
        self._bar.following = True
        self._controller.release()
        self._controller.fork(RunSpec(config, label=run.spec.label,
                                      train_eval_size=run.spec.train_eval_size), run, checkpoint)


def _model_bytes(model) -> int:
    return sum(value.nbytes for value in model.parameters().values())
