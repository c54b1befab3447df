"""The run controller: data sets, the run queue, the training worker and the current model.

It owns everything between a click and the engine: the data set cache and its loader threads,
the queue of runs (one, or the runs of a comparison), the ``TrainingControl`` of the running one,
its ``TrainingWorker`` on a ``QThread``, the ``RunRecord`` the worker's reports fill in, and the
model the views show. It touches no widget: the window listens to its signals, all emitted on
the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal, Slot

from scratchnet.checkpoints import DEFAULT_BUDGET, DEFAULT_COUNT, Checkpoint, CheckpointMemory
from scratchnet.control import TrainingControl
from scratchnet.data import Dataset
from scratchnet.network import Sequential

from .datasets import DatasetCache, DatasetLoader, DatasetLoaderFn
from .run_record import RunRecord
from .settings import RunSpec
from .threads import start_in_thread, stop_thread
from .worker import TrainingWorker

# how long closing waits for the worker and loader threads in all; a thread still busy then
# (one long step, a slow disk) is left to end on its own, see threads.stop_thread
CLOSE_WAIT_MS = 2000
# the runs the runs list keeps: a failed run (bad data...) has nothing to show
KEPT_STATUSES = ("finished", "stopped", "diverged")


class RunController(QObject):
    """Signals:

    - ``dataset_loading(str)``: a data set started loading in its thread.
    - ``dataset_loaded(str, object)``: a data set (name, Dataset) is ready, from the cache, a loader
      or the running worker.
    - ``dataset_failed(str, str)``: a data set (name) could not be loaded (message).
    - ``run_started(object)``: a RunRecord is about to train (its thread starts right after).
    - ``note(str)``: what the training loop notes at the start of a run.
    - ``curves_changed()``: a batch, epoch or final report arrived.
    - ``progress_changed()``: ``progress`` moved on.
    - ``run_failed(object)``: the run (RunRecord, with its ``error``) failed or diverged; a diverged
      run keeps its curves up to the blow-up, and its last finite model becomes the current one.
    - ``run_ended(object)``: the run's thread is over (finished, stopped or failed).
    - ``idle(object)``: nothing is queued any more; carries the last RunRecord.
    - ``model_changed()``: ``current_model`` changed.
    - ``stepped(object)``: a single step ran; carries its ``StepReport`` (the stepped weights
      are the current model by then).
    - ``update_shown(int, dict)``: in slow motion, an update (its number) and what it did
      (``pacing.batch_preview``).
    - ``checkpoint_added(object)``: the running RunRecord has a new checkpoint in ``checkpoints``.
    - ``save_failed(str)``: the run could not be saved to its folder (it trains on in memory).

    Checkpoints of every run go to one ``CheckpointMemory`` (``checkpoints``) under the run's
    number. While ``held`` (the time slider shows an earlier checkpoint), the running run's
    newer weights do not replace the model the views show; ``release`` shows the newest.
    """

    dataset_loading = Signal(str)
    dataset_loaded = Signal(str, object)
    dataset_failed = Signal(str, str)
    run_started = Signal(object)
    note = Signal(str)
    curves_changed = Signal()
    progress_changed = Signal()
    run_failed = Signal(object)
    run_ended = Signal(object)
    idle = Signal(object)
    model_changed = Signal()
    stepped = Signal(object)
    update_shown = Signal(int, dict)
    checkpoint_added = Signal(object)
    save_failed = Signal(str)

    def __init__(self, dataset_loader: DatasetLoaderFn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.datasets = DatasetCache(dataset_loader)
        self.current_model: Sequential | None = None
        self.model_spec: RunSpec | None = None
        self.model_run: RunRecord | None = None  # the run that made current_model, if one did
        self.run: RunRecord | None = None  # the running (or last) run
        self.training_thread: QThread | None = None
        self.batch_ids: list[int] = []  # the runs started by the last start(), in order
        self._control: TrainingControl | None = None
        self._worker: TrainingWorker | None = None
        self._queue: list[RunSpec] = []
        self._continue_from: Sequential | None = None
        self._next_run_id = 1
        self._progress: dict = {}
        self._loaders: dict[str, tuple[QThread, DatasetLoader]] = {}
        self._ending_loaders: list[QThread] = []  # loaders replaced by a reload; shutdown waits for them
        self.speed: float | None = None  # updates per second of window runs; None: full speed
        self.checkpoints = CheckpointMemory(DEFAULT_BUDGET)
        self.checkpoint_count: int | None = DEFAULT_COUNT  # train(checkpoints=); None: no checkpoints
        self.writer_factory = None  # (RunRecord) -> RunWriter or None: where runs are saved
        self.held = False
        self._newest: tuple[Sequential, RunRecord] | None = None  # what set_model got while held
        self._fork: tuple[RunRecord, Checkpoint] | None = None

    def take_run_id(self) -> int:
        """A run number nobody has (for a run read from the library)."""
        self._next_run_id += 1
        return self._next_run_id - 1

    @property
    def is_running(self) -> bool:
        return self.training_thread is not None

    @property
    def paused(self) -> bool:
        return self._control is not None and self._control.paused and self.is_running

    @property
    def progress(self) -> dict:
        """The latest progress report of the running (or last) run: epoch, update, samples_seen."""
        return dict(self._progress)

    # ---- data sets
    def load_dataset(self, name: str) -> None:
        """``dataset_loaded`` follows, at once when ``name`` is cached, else from a loader thread."""
        cached = self.datasets.cached(name)
        if cached is not None:
            self.dataset_loaded.emit(name, cached)
            return
        self._forget_finished_loaders()
        if name in self._loaders:
            return
        self.dataset_loading.emit(name)
        loader = DatasetLoader(self.datasets, name)
        loader.loaded.connect(self.dataset_loaded)
        loader.failed.connect(self.dataset_failed)
        self._loaders[name] = (start_in_thread(loader, [loader.done], self), loader)

    def reload_dataset(self, name: str) -> None:
        """Load ``name`` again (its files changed): ``dataset_loaded`` follows with the new data set."""
        self.datasets.forget(name)
        if name in self._loaders and self._loaders[name][1].ended:  # its thread is only ending
            self._ending_loaders.append(self._loaders.pop(name)[0])
        self.load_dataset(name)

    def _forget_finished_loaders(self) -> None:
        for name, (thread, _loader) in list(self._loaders.items()):
            try:
                done = thread.isFinished()
            except RuntimeError:  # already deleted by deleteLater
                done = True
            if done:
                del self._loaders[name]

    # ---- runs
    def start(self, specs: list[RunSpec], continue_from: Sequential | None = None) -> bool:
        """Train ``specs`` one after the other (the first from ``continue_from``'s weights when
        given: pass a copy). False, and nothing happens, while a run is training."""
        if self.is_running:
            return False
        self.batch_ids = []
        self._queue = list(specs)
        self._continue_from = continue_from
        self._start_next()
        return True

    def fork(self, spec: RunSpec, parent: RunRecord, checkpoint: Checkpoint) -> bool:
        """Train ``spec`` from ``checkpoint`` of ``parent`` (``train(resume=...)``) as a new run
        linked to it. False, and nothing happens, while a run is training."""
        if self.is_running:
            return False
        self.batch_ids = []
        self._queue = [spec]
        self._continue_from = None
        self._fork = (parent, checkpoint)
        self._start_next()
        return True

    def _start_next(self) -> None:
        spec = self._queue.pop(0)
        parent = self.model_run if self._continue_from is not None else None
        self.run = RunRecord(self._next_run_id, spec, parent=parent)
        self._next_run_id += 1
        resume = None
        if self._fork is not None:
            fork_of, resume = self._fork
            self.run.fork_from(fork_of, resume)
            self._fork = None
        self._progress = {}
        self.held, self._newest = False, None  # a new run: the views follow it
        self._control = TrainingControl()
        self._control.set_speed(self.speed)
        writer = self.writer_factory(self.run) if self.writer_factory is not None else None  # (model) -> RunWriter
        worker = TrainingWorker(spec, self._control, self.datasets, initial_model=self._continue_from,
                                checkpoints=self.checkpoint_count, resume=resume, writer=writer)
        self._continue_from = None
        worker.dataset_ready.connect(self._on_worker_dataset)
        worker.progress.connect(self._on_progress)
        worker.batch_logged.connect(self._on_batch)
        worker.epoch_finished.connect(self._on_epoch)
        worker.finished.connect(self._on_finished)
        worker.diverged.connect(self._on_diverged)
        worker.stepped.connect(self._on_stepped)
        worker.checkpointed.connect(self._on_checkpoint)
        worker.saved.connect(self.save_failed)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self.training_thread = start_in_thread(
            worker, [worker.finished, worker.diverged, worker.failed], self, on_finished=self._on_thread_finished,
            start=False,
        )
        # the window's own set-up (controls, new curves: ~0.1 s of Python) runs before the worker
        # starts, so that it does not hold the GIL against the run's first updates
        self.run_started.emit(self.run)
        self.training_thread.start()

    def stop(self) -> None:
        """Stop the running run and forget the queued ones."""
        self._queue = []
        if self._control is not None:
            self._control.stop()

    def toggle_pause(self) -> None:
        if self._control is None:
            return
        if self._control.paused:
            self._control.resume()
        else:
            self._control.pause()

    def step(self) -> None:
        """One update, while paused."""
        if self._control is not None and self._control.paused:
            self._control.step()

    def set_learning_rate(self, lr: float) -> None:
        if self._control is not None:
            self._control.set_learning_rate(lr)

    def set_speed(self, speed: float | None) -> None:
        """Updates per second for this run (from its next update) and the next ones; None: full speed."""
        self.speed = speed
        if self._control is not None:
            self._control.set_speed(speed)

    def set_model(self, model: Sequential, spec: RunSpec | None, run: RunRecord | None = None) -> None:
        """``run``: the run that made ``model`` (None for a model from a file)."""
        self.current_model = model
        self.model_spec = spec
        self.model_run = run
        self.model_changed.emit()

    def _offer_model(self, model: Sequential) -> None:
        """The running run's newer weights: shown, unless the time slider holds an earlier point."""
        if self.held:
            self._newest = (model, self.run)
            return
        self.set_model(model, self.run.spec, self.run)

    def hold(self, model: Sequential, run: RunRecord) -> None:
        """Show ``model`` (a checkpoint of ``run``) and keep showing it while ``run`` trains on."""
        if not self.held and self.model_run is run and self.current_model is not None:
            self._newest = (self.current_model, run)
        self.held = True
        self.set_model(model, run.spec, run)

    @property
    def newest_run(self) -> RunRecord | None:
        """While ``held``: the run whose newest weights ``release`` would show again."""
        return self._newest[1] if self._newest is not None else None

    def release(self) -> None:
        """Back to the newest weights of the running (or last) run after ``hold``."""
        self.held = False
        newest, self._newest = self._newest, None
        if newest is not None:
            self.set_model(newest[0], newest[1].spec, newest[1])

    def shutdown(self) -> bool:
        """Stop everything and wait at most ``CLOSE_WAIT_MS`` in all for the threads; True when they
        all ended (the others end on their own: see ``threads.stop_thread``)."""
        self.stop()
        deadline = QDeadlineTimer(CLOSE_WAIT_MS)
        threads = [self.training_thread, *(thread for thread, _loader in self._loaders.values()),
                   *self._ending_loaders]
        return all([stop_thread(thread, deadline) for thread in threads])

    # ---- worker reports
    @Slot(object)
    def _on_worker_dataset(self, dataset: Dataset) -> None:
        self.dataset_loaded.emit(self.run.spec.config.dataset, dataset)

    @Slot(dict)
    def _on_progress(self, progress: dict) -> None:
        if progress["event"] == "start":
            self.run.on_start(progress)
            if progress["notes"]:
                self.note.emit("\n".join(progress["notes"]))
            return
        self._progress.update({key: progress[key] for key in ("epoch", "update", "samples_seen")})
        self.progress_changed.emit()

    @Slot(dict)
    def _on_batch(self, log: dict) -> None:
        self.run.on_batch(log)
        self._take_rate_changes()
        self.curves_changed.emit()
        self._on_progress(log)
        if "model" in log:
            self._offer_model(log["model"])
        if "preview" in log:
            self.update_shown.emit(log["update"], log["preview"])

    @Slot(dict)
    def _on_epoch(self, log: dict) -> None:
        self.run.on_epoch(log)
        self.curves_changed.emit()
        if "model" in log:
            self._offer_model(log["model"])

    @Slot(dict)
    def _on_finished(self, log: dict) -> None:
        self.run.on_done(log)
        self._take_rate_changes()
        self._offer_model(log["model"])
        self.curves_changed.emit()

    @Slot(dict)
    def _on_diverged(self, info: dict) -> None:
        """The run stays, with its curve up to the blow-up, and its last finite weights become the
        model the views show; the queued runs (a comparison) still train."""
        self.run.on_diverged(info)
        self._take_rate_changes()
        self._offer_model(info["model"])
        self.curves_changed.emit()
        self.run_failed.emit(self.run)

    @Slot(dict)
    def _on_stepped(self, info: dict) -> None:
        self._offer_model(info["model"])
        self.stepped.emit(info["report"])

    @Slot(dict)
    def _on_checkpoint(self, log: dict) -> None:
        run = self.run
        self.checkpoints.add(run.run_id, log["checkpoint"], spill_dir=run.spill_dir, saved=log.get("saved"))
        self.checkpoint_added.emit(run)

    def _take_rate_changes(self) -> None:
        if self._control is not None:
            self.run.lr_changes = self._control.rate_changes()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._queue = []
        self.run.on_failed(message)
        self.run_failed.emit(self.run)

    @Slot()
    def _on_thread_finished(self) -> None:
        run = self.run
        self.training_thread = self._worker = self._control = None
        if run.status in KEPT_STATUSES:
            self.batch_ids.append(run.run_id)
        self.run_ended.emit(run)
        if self._queue:
            self._start_next()
            return
        self.idle.emit(run)
