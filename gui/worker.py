"""The training worker: a QObject, moved to a QThread, that drives ``scratchnet.training.train``.

It loads the data set through the shared cache, builds the model from the run's settings and
forwards the loop's logs as signals. Every emitted dict is a fresh object the loop no longer
touches (the loop creates a new dict and loss array for each log), so the GUI thread may keep it.
Per-update Python work stays tiny: the loop itself throttles batch logs to ``log_interval``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from PySide6.QtCore import QObject, Signal, Slot

from scratchnet.control import TrainingControl
from scratchnet.errors import TrainingDiverged
from scratchnet.network import Sequential
from scratchnet.step_report import StepRecorder
from scratchnet.threads import blas_thread_limit
from scratchnet.training import params_finite, train

from .datasets import DatasetCache
from .pacing import PREVIEW_FEATURES, batch_preview, is_slow_motion
from .settings import RunSpec

SNAPSHOT_INTERVAL = 1.0  # seconds between model copies sent with batch and epoch logs
# seconds between batch logs: 4 a second are plenty for plots redrawn twice a second, and each
# log makes the GUI thread take the GIL from the training loop once more. Every update's loss still
# reaches the plot: a log carries all the losses since the previous one.
BATCH_LOG_INTERVAL = 0.25


class TrainingWorker(QObject):
    """Signals (all carry data the worker will not touch again):

    - ``dataset_ready(object)``: the full Dataset the run uses, once loaded.
    - ``progress(dict)``: the "start" log, then epoch, update and samples_seen at each epoch's end
      (between epochs, a "batch" log carries the same keys).
    - ``batch_logged(dict)``: the loop's "batch" logs (4 per second at most at full speed; one per
      update when the control asks for a pace, which the worker then keeps between updates). In
      slow motion each carries ``preview`` (``pacing.batch_preview``) and a copy of the weights.
    - ``epoch_finished(dict)``: "epoch" logs.
      Batch and epoch logs carry ``model``, a copy of the weights, at most once a second.
    - ``finished(dict)``: the "done" log plus ``model``, the trained network itself.
    - ``diverged(dict)``: the loss became non-finite: ``message``, ``losses`` (every update's loss
      since the last batch log, the last one not finite), ``first_update`` (the update number
      before ``losses[0]``), ``update`` (updates applied), ``epoch``, and ``model``, the network
      itself with its last finite weights.
    - ``stepped(dict)``: after a single step (Step while paused): ``report``, the
      ``scratchnet.step_report.StepReport`` of that update, and ``model``, a copy of the weights.
    - ``checkpointed(dict)``: the loop's "checkpoint" logs (epoch, update, samples_seen and
      ``checkpoint``, a ``scratchnet.checkpoints.Checkpoint`` the loop took as a copy; with a
      writer, ``saved``: the file it was saved in, or None).
    - ``saved(str)``: a problem saving the run to its folder (disk full...); it trains on.
    - ``failed(str)``: a message for the user (bad data, ...).

    With a ``writer`` (a function of the run's model that makes its ``scratchnet.run_store.RunWriter``),
    the worker saves every log and checkpoint into the run's folder as they come, in its own thread.
    """

    dataset_ready = Signal(object)
    progress = Signal(dict)
    batch_logged = Signal(dict)
    epoch_finished = Signal(dict)
    finished = Signal(dict)
    diverged = Signal(dict)
    stepped = Signal(dict)
    checkpointed = Signal(dict)
    saved = Signal(str)
    failed = Signal(str)

    def __init__(self, spec: RunSpec, control: TrainingControl, datasets: DatasetCache,
                 initial_model: Sequential | None = None, *, checkpoints: int | None = None,
                 resume=None, writer=None) -> None:
        """``initial_model``, if given, is trained further instead of fresh weights from the spec;
        the worker owns it from now on (pass a ``copy()``). ``checkpoints``: how many checkpoints
        to take through a short run (``train(checkpoints=)``; None: none). ``resume``: a
        ``Checkpoint`` to go on from (a fork). ``writer``: ``(model) -> RunWriter`` for the run's
        folder, called in the worker's thread."""
        super().__init__()
        self._spec = spec
        self._initial_model = initial_model
        self._control = control
        self._datasets = datasets
        self._checkpoints = checkpoints
        self._resume = resume
        self._make_writer = writer
        self._writer = None
        self._reported = False  # a save problem is reported once

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except TrainingDiverged as exc:
            self.diverged.emit({
                "message": str(exc), "losses": exc.losses, "first_update": exc.first_update,
                "update": exc.update, "epoch": exc.epoch, "model": exc.model,
            })
        except Exception as exc:  # must reach the window, not end the thread silently
            self.failed.emit(f"{type(exc).__name__}: {exc}")

    def _run(self) -> None:
        config = self._spec.config
        dataset = self._datasets.get(config.dataset)
        self.dataset_ready.emit(dataset)
        data = dataset.subset(config.n_train(len(dataset.y_train)))
        model = self._initial_model
        if model is None:
            model = config.build_model(data.x_train.shape[1], dataset.num_classes)
        with limit_blas_threads(config.descent):
            train_config = config.train_config(log_interval=BATCH_LOG_INTERVAL,
                                               train_eval_size=min(self._spec.train_eval_size, len(data.y_train)))
            self._train(model, config.build_optimizer(), data, train_config,
                        config.build_augmenter(dataset.image_shape[0]))

    def _train(self, model, optimizer, data, config, augment) -> None:
        if self._make_writer is not None:
            self._writer = self._make_writer(model)
        recorder = StepRecorder(model, data.x_train, data.y_train)
        augment = recorder.augment(augment)
        self._control.between_updates = lambda stepping: self._between_updates(recorder, config, stepping)
        logs = train(
            model, optimizer, data.x_train, data.y_train, config,
            x_test=data.x_test, y_test=data.y_test, control=self._control, augment=augment,
            checkpoints=self._checkpoints, resume=self._resume,
        )
        try:
            self._emit_logs(logs, model, config, data, recorder)
        except TrainingDiverged as exc:
            exc.model = model  # the loop left it with its last finite weights; nobody else holds it
            self._save_end("diverged")
            raise

    def _between_updates(self, recorder: StepRecorder, config, stepping: bool) -> None:
        """In the loop, paused between updates: just before a single step runs, arm the recorder
        and ask for a batch log right after the step (it names the rows the step used)."""
        if stepping:
            recorder.arm(self._control.updates_started + 1)
            config.log_interval = 0.0  # _emit_logs sets it back after that log
        else:
            recorder.disarm()

    def _emit_logs(self, logs, model, config, data, recorder: StepRecorder) -> None:
        """Send the loop's logs to the window: copies of the model at most once a second (every
        update in slow motion), the batch's digits in slow motion, and the pace between updates."""
        last_snapshot = time.perf_counter()
        for log in logs:
            event = log["event"]
            self._save(log)
            if event == "checkpoint":
                self.checkpointed.emit(log)
                continue
            speed = self._control.speed
            slow_motion = is_slow_motion(speed)
            # paced: a batch log after every update (the loop reads log_interval at each update)
            config.log_interval = BATCH_LOG_INTERVAL if speed is None else 0.0
            interval = 0.0 if slow_motion else SNAPSHOT_INTERVAL
            if event in ("batch", "epoch") and time.perf_counter() - last_snapshot >= interval:
                copy = model.copy()
                # an update can overflow the weights after the log's last (finite) loss; the loop
                # only notices at the next loss, so a copy sent now could show NaN in the window
                if params_finite(copy):
                    log["model"] = copy
                last_snapshot = time.perf_counter()
            if event == "batch":
                report = recorder.report_from(log)
                if report is not None:
                    copy = log["model"] if "model" in log else model.copy()
                    self.stepped.emit({"report": report, "model": copy})
                if slow_motion and log["rows"] is not None and data.x_train.shape[1] == PREVIEW_FEATURES:
                    log["preview"] = batch_preview(log.get("model", model), data.x_train, data.y_train, log["rows"],
                                                   log["losses"][-1])
                self.batch_logged.emit(log)
                if speed is not None:
                    self._control.wait_for_pace()  # between updates: the loop resumes after it
            elif event == "epoch":
                self.epoch_finished.emit(log)
                self.progress.emit(_progress_of(log))
            elif event == "start":
                self.progress.emit(log)
            elif event == "done":
                log["model"] = model
                self.finished.emit(log)

    def _save(self, log: dict) -> None:
        """The log (and its checkpoint) into the run's folder; a failure is reported once, and
        the run trains on in memory."""
        if self._writer is None:
            return
        if log["event"] == "checkpoint":
            # where it was saved: the window's checkpoint memory then forgets it rather than
            # writing it again when over its budget
            log["saved"] = self._writer.checkpoint(log["checkpoint"])
        else:
            self._writer.log(log)
        self._report_save_problem()

    def _save_end(self, status: str) -> None:
        """A run that ended without a "done" log (diverged) says so in its folder."""
        if self._writer is not None:
            self._writer.finish(status)
            self._report_save_problem()

    def _report_save_problem(self) -> None:
        if self._writer.problem and not self._reported:
            self._reported = True
            self.saved.emit(self._writer.problem)


@contextmanager
def limit_blas_threads(descent: str):
    """One BLAS thread for mini-batch and stochastic runs, so that a core stays free for the GUI.

    With 2 cores, OpenBLAS's second thread spins between the small matmuls of a mini-batch and
    starves the GUI thread, which then holds up the worker on the GIL (measured: 10x slower).
    Small batches gain nothing from a second thread anyway (PERF_NOTES.md). Full-batch chunks
    of 2,048 rows do, and full batch only logs once an epoch, so it keeps the default. Inside this
    limit, the engine's own ``BlasThreads`` probe sees 1 as "the default" and keeps it. The
    count is process-wide, so the window predicts inside ``scratchnet.threads.using_blas()``, and
    the change waits for such predictions to end.
    """
    limit = blas_limit_for(descent)
    if limit is None:
        yield
        return
    with blas_thread_limit(limit):
        yield


def blas_limit_for(descent: str) -> int | None:
    """The BLAS thread limit of the window's runs of this descent (None: the engine's choice). It
    is saved with the run: OpenBLAS sums in another order with one thread than with two, so a
    resume on the command line takes the same limit to repeat the run's numbers exactly."""
    return None if descent == "full" else 1


def _progress_of(log: dict) -> dict:
    return {key: log[key] for key in ("event", "epoch", "update", "samples_seen")}
