"""The main window: settings on the left, views (training curves first) on the right.

Training runs in a ``TrainingWorker`` on its own ``QThread``; this window is the only object
that touches widgets. Other views plug in with ``add_view`` and follow ``model_changed``,
``current_model`` and ``dataset``.
"""

from __future__ import annotations

import math
import os

from PySide6.QtCore import QSettings, QSignalBlocker, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from scratchnet.control import TrainingControl
from scratchnet.data import Dataset, load_dataset
from scratchnet.errors import ModelFileError
from scratchnet.network import Sequential
from scratchnet.presets import PRESETS
from scratchnet.serialization import load_model_file, save_model
from scratchnet.threads import using_blas
from scratchnet.training import evaluate

from . import tooltips
from .about import AboutDialog, app_icon
from .datasets import DatasetCache, DatasetLoader, DatasetLoaderFn
from .defaults import DEFAULT_NETWORK, DEFAULT_TRAINING
from .first_paint import report_first_paint_if_asked
from .layer_editor import LayerEditor
from .model_metadata import network_from_metadata, training_from_metadata
from .persistence import StoredState, default_store, load_state, save_state
from .plots import PlotsPanel
from .presets_ui import PresetBar, descent_comparison, init_comparison, matching_preset, preset_spec
from .run_record import RunRecord
from .runs import RunsPanel, write_curves_csv
from .settings import RunSpec, architecture_matches
from .threads import start_in_thread, stop_thread
from .training_panel import TrainingPanel
from .views import install_views
from .views.widgets import make_button
from .worker import TrainingWorker

# plots and status: a redraw holds the GIL for ~10 ms, which the training worker then waits for
# (window throughput measured at 89.9% of headless with 4 redraws a second, 91.7% with 2)
REDRAW_MS = 500


class MainWindow(QMainWindow):
    """Signals, all emitted on the GUI thread:

    - ``model_changed()``: ``current_model`` changed (run finished, epoch finished at most about
      once a second, model loaded).
    - ``dataset_changed()``: ``dataset`` holds a newly loaded Dataset.
    - ``training_finished(object)``: the window is idle again after a run (or after the last run
      of "Compare descents"); carries the last RunRecord.
    """

    model_changed = Signal()
    dataset_changed = Signal()
    training_finished = Signal(object)

    def __init__(self, dataset_loader: DatasetLoaderFn = load_dataset, parent=None,
                 settings: QSettings | None = None) -> None:
        """``settings``: where to remember the state between launches (default: the user's file)."""
        super().__init__(parent)
        self.setWindowTitle("scratchnet")
        self.setWindowIcon(app_icon())
        self.store = settings if settings is not None else default_store()
        self.last_folder = ""
        self._continue_from: Sequential | None = None
        self._about: AboutDialog | None = None
        self.datasets = DatasetCache(dataset_loader)
        self.dataset: Dataset | None = None
        self.current_model: Sequential | None = None
        self.model_spec: RunSpec | None = None
        self._control: TrainingControl | None = None
        self._thread = None
        self._worker: TrainingWorker | None = None
        self._run: RunRecord | None = None
        self._queue: list[RunSpec] = []
        self._batch_ids: list[int] = []
        self._next_run_id = 1
        self._loaders: dict[str, tuple[QThread, DatasetLoader]] = {}
        self._dirty = self._progress_dirty = False
        self._progress: dict = {}

        self._build_widgets()
        self._build_menus()
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        self._redraw_timer.start()
        self._set_running(False)
        self.resize(1280, 800)
        self._restore_state()
        install_views(self)
        self.model_changed.connect(self._update_continue)
        self.dataset_changed.connect(self._update_continue)
        report_first_paint_if_asked(self)
        self.load_dataset_async(self.training_panel.settings().dataset)

    # ------------------------------------------------------------------ layout
    def _build_widgets(self) -> None:
        self.layer_editor = LayerEditor(DEFAULT_NETWORK)
        self.training_panel = TrainingPanel(DEFAULT_TRAINING)
        self.training_panel.learning_rate_changed.connect(self._on_learning_rate)
        self.training_panel.dataset_selected.connect(self.load_dataset_async)
        self.preset_bar = PresetBar()
        self.preset_bar.preset_chosen.connect(self.apply_preset)
        self.preset_bar.show_preset(matching_preset(DEFAULT_NETWORK, DEFAULT_TRAINING))
        for panel in (self.layer_editor, self.training_panel):
            panel.changed.connect(self._on_settings_edited)

        self.settings_tabs = QTabWidget()
        self.settings_tabs.setObjectName("settingsTabs")
        self.settings_tabs.addTab(self.layer_editor, "Network")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.training_panel)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.settings_tabs.addTab(scroll, "Training")

        self.start_button = make_button("Start", "startButton", tooltips.START, self.start_training)
        self.pause_button = make_button("Pause", "pauseButton", tooltips.PAUSE, self.toggle_pause)
        self.stop_button = make_button("Stop", "stopButton", tooltips.STOP, self.stop_training)
        self.step_button = make_button("Step", "stepButton", tooltips.STEP, self.step_once)
        self.compare_button = make_button(
            "Compare descents", "compareButton", tooltips.COMPARE, self.compare_descents
        )
        controls = QGroupBox("Run")
        grid = QGridLayout(controls)
        for column, button in enumerate((self.start_button, self.pause_button, self.stop_button, self.step_button)):
            grid.addWidget(button, 0, column)
        self.compare_init_button = make_button(
            "Compare initialisations", "compareInitButton", tooltips.COMPARE_INIT, self.compare_initialisations
        )
        self.continue_check = QCheckBox("Continue from the current weights")
        self.continue_check.setObjectName("continueCheck")
        self.continue_check.setToolTip(tooltips.CONTINUE)
        grid.addWidget(self.compare_button, 1, 0, 1, 2)
        grid.addWidget(self.compare_init_button, 1, 2, 1, 2)
        grid.addWidget(self.continue_check, 2, 0, 1, 4)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addWidget(self.preset_bar)
        left_layout.addWidget(self.settings_tabs, 1)
        left_layout.addWidget(controls)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(
            "background: #fde8e8; color: #8a1010; border: 1px solid #e0a0a0; padding: 6px;"
        )
        self.error_label.hide()
        self.plots = PlotsPanel()
        self.runs_panel = RunsPanel()
        self.runs_panel.selection_changed.connect(self._on_runs_selected)
        self.runs_panel.x_unit_changed.connect(self.plots.set_x_unit)
        curves = QSplitter(Qt.Vertical)
        curves.addWidget(self.plots)
        curves.addWidget(self.runs_panel)
        curves.setStretchFactor(0, 3)
        curves.setStretchFactor(1, 1)
        curves.setSizes([470, 190])
        self.views = QTabWidget()
        self.views.setObjectName("viewTabs")
        self.views.addTab(curves, "Training curves")

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 6)
        right_layout.addWidget(self.error_label)
        right_layout.addWidget(self.views, 1)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([390, 890])
        self.setCentralWidget(splitter)

        self.status_label = QLabel("Ready.")
        self.status_label.setObjectName("statusLabel")
        self.epoch_bar = self._progress_bar("epochProgress", "epoch %p%", "Progress through the current epoch.")
        self.run_bar = self._progress_bar("runProgress", "run %p%", "Progress through the whole run.")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.epoch_bar)
        self.statusBar().addPermanentWidget(self.run_bar)

    @staticmethod
    def _progress_bar(name: str, text: str, tip: str) -> QProgressBar:
        bar = QProgressBar()
        bar.setObjectName(name)
        bar.setFormat(text)
        bar.setFixedWidth(150)
        bar.setToolTip(tip)
        bar.setRange(0, 1000)
        bar.setValue(0)
        return bar

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action(file_menu, "&Open model…", QKeySequence.Open, self.open_model_dialog,
                                        "Load a saved model and its settings.")
        self.save_action = self._action(file_menu, "&Save model…", QKeySequence.Save, self.save_model_dialog,
                                        "Save the current model with its settings.")
        file_menu.addSeparator()
        self.export_csv_action = self._action(file_menu, "Export curves as &CSV…", None, self.export_csv_dialog,
                                              "Write every run's curves to a CSV file.")
        self.export_png_action = self._action(file_menu, "Export plots as &PNG…", None, self.export_png_dialog,
                                              "Save both plots as PNG images.")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.Quit, self.close, "Close scratchnet.")
        run_menu = self.menuBar().addMenu("&Run")
        self.start_action = self._action(run_menu, "&Start", None, self.start_training, tooltips.START)
        self.start_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.pause_action = self._action(run_menu, "&Pause / Resume", QKeySequence("Ctrl+P"), self.toggle_pause,
                                         tooltips.PAUSE)
        self.step_action = self._action(run_menu, "S&tep", QKeySequence("Ctrl+T"), self.step_once, tooltips.STEP)
        self.stop_action = self._action(run_menu, "St&op", QKeySequence(Qt.Key_Escape), self.stop_training,
                                        tooltips.STOP)
        self.compare_action = self._action(run_menu, "&Compare descents", None, self.compare_descents,
                                           tooltips.COMPARE)
        self.compare_init_action = self._action(run_menu, "Compare &initialisations", None,
                                                self.compare_initialisations, tooltips.COMPARE_INIT)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = self._action(help_menu, "&About scratchnet", None, self.show_about, tooltips.ABOUT)
        self.about_qt_action = self._action(help_menu, "About &Qt", None, self.show_about_qt,
                                            "The Qt version and licence.")
        for menu in (file_menu, run_menu, help_menu):
            menu.setToolTipsVisible(True)

    def _action(self, menu, text: str, shortcut, slot, tip: str) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.setToolTip(tip)
        action.setShortcutContext(Qt.WindowShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def add_view(self, widget: QWidget, title: str) -> int:
        """Add an inspection view as a tab of the central area; returns its tab index."""
        return self.views.addTab(widget, title)

    @property
    def runs(self) -> list[RunRecord]:
        return self.runs_panel.runs

    @property
    def progress(self) -> dict:
        """The latest progress report of the running (or last) run: epoch, update, samples_seen."""
        return dict(self._progress)

    @property
    def is_running(self) -> bool:
        return self._thread is not None

    # ------------------------------------------------------------------ data sets
    @Slot(str)
    def load_dataset_async(self, name: str) -> None:
        """Load ``name`` in a small thread (cached); ``dataset`` follows when it arrives."""
        cached = self.datasets.cached(name)
        if cached is not None:
            self._on_dataset_loaded(name, cached)
            return
        self._forget_finished_loaders()
        if name in self._loaders:
            return
        self.status_label.setText(f"Loading {name}…")
        loader = DatasetLoader(self.datasets, name)
        loader.loaded.connect(self._on_dataset_loaded)
        loader.failed.connect(self._on_dataset_failed)
        self._loaders[name] = (start_in_thread(loader, [loader.done], self), loader)

    @Slot(str, object)
    def _on_dataset_loaded(self, name: str, dataset: Dataset) -> None:
        if name != self.training_panel.settings().dataset:
            return
        if dataset is not self.dataset:
            self.dataset = dataset
            self.layer_editor.set_io_sizes(dataset.x_train.shape[1], dataset.num_classes)
            self.training_panel.set_train_limit(len(dataset.y_train))
            self.dataset_changed.emit()
        if not self.is_running:
            self.status_label.setText(
                f"{dataset.name}: {len(dataset.y_train):,} training and {len(dataset.y_test):,} test images."
            )

    @Slot(str, str)
    def _on_dataset_failed(self, name: str, message: str) -> None:
        self.training_panel.show_note(f"Cannot load {name}: {message}")
        self.status_label.setText(f"Cannot load {name}.")

    def _forget_finished_loaders(self) -> None:
        for name, (thread, _loader) in list(self._loaders.items()):
            try:
                done = thread.isFinished()
            except RuntimeError:  # already deleted by deleteLater
                done = True
            if done:
                del self._loaders[name]

    # ------------------------------------------------------------------ runs
    @Slot()
    def start_training(self) -> None:
        if not self.is_running:
            self._batch_ids = []
            self._queue = [RunSpec(self.layer_editor.settings(), self.training_panel.settings())]
            if self.continue_check.isEnabled() and self.continue_check.isChecked():
                self._continue_from = self.current_model.copy()
            self._start_next()

    @Slot()
    def compare_descents(self) -> None:
        """Train the current network with full batch, mini-batch and SGD, same seed, in turn, each
        with its own learning rate (from the three-descents preset); x axis in samples seen."""
        self._compare(descent_comparison(self.layer_editor.settings(), self.training_panel.settings()), "samples")

    @Slot()
    def compare_initialisations(self) -> None:
        """Train the current settings from small normal and from He initial weights, in turn."""
        self._compare(init_comparison(self.layer_editor.settings(), self.training_panel.settings()), "epochs")

    def _compare(self, specs: list[RunSpec], x_unit: str) -> None:
        if self.is_running:
            return
        self._batch_ids = []
        self._queue = specs
        self.runs_panel.x_axis_combo.setCurrentIndex(self.runs_panel.x_axis_combo.findData(x_unit))
        self._start_next()

    def _start_next(self) -> None:
        spec = self._queue.pop(0)
        self._run = RunRecord(self._next_run_id, spec)
        self._next_run_id += 1
        self._progress = {}
        self.error_label.hide()
        self._control = TrainingControl()
        worker = TrainingWorker(spec, self._control, self.datasets, initial_model=self._continue_from)
        self._continue_from = None
        worker.dataset_ready.connect(self._on_worker_dataset)
        worker.progress.connect(self._on_progress)
        worker.batch_logged.connect(self._on_batch)
        worker.epoch_finished.connect(self._on_epoch)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self._thread = start_in_thread(
            worker, [worker.finished, worker.failed], self, on_finished=self._on_thread_finished, start=False
        )
        # the window's own set-up (controls, new curves: ~0.1 s of Python) runs before the worker
        # starts, so that it does not hold the GIL against the run's first updates
        self._set_running(True)
        self.runs_panel.select(self._batch_ids)
        self.status_label.setText(f"Run #{self._run.run_id}: preparing {spec.training.dataset}…")
        self._thread.start()

    @Slot()
    def stop_training(self) -> None:
        self._queue = []
        if self._control is not None:
            self._control.stop()

    @Slot()
    def toggle_pause(self) -> None:
        if self._control is None:
            return
        if self._control.paused:
            self._control.resume()
        else:
            self._control.pause()
        self._show_pause_state()

    @Slot()
    def step_once(self) -> None:
        if self._control is not None and self._control.paused:
            self._control.step()

    @Slot(float)
    def _on_learning_rate(self, lr: float) -> None:
        if self._control is not None:
            self._control.set_learning_rate(lr)

    def _set_running(self, running: bool) -> None:
        self.layer_editor.set_editable(not running)
        self.training_panel.set_running(running)
        for widget in (self.start_button, self.compare_button, self.start_action, self.compare_action,
                       self.open_action, self.compare_init_button, self.compare_init_action, self.preset_bar):
            widget.setEnabled(not running)
        self._update_continue()
        for widget in (self.pause_button, self.stop_button, self.pause_action, self.stop_action):
            widget.setEnabled(running)
        self._show_pause_state()

    def _show_pause_state(self) -> None:
        paused = self._control is not None and self._control.paused and self.is_running
        self.pause_button.setText("Resume" if paused else "Pause")
        self.step_button.setEnabled(paused)
        self.step_action.setEnabled(paused)
        if paused:
            self.status_label.setText(self.status_label.text().split(" · paused")[0] + " · paused")

    # ------------------------------------------------------------------ worker reports
    @Slot(object)
    def _on_worker_dataset(self, dataset: Dataset) -> None:
        self._on_dataset_loaded(self._run.spec.training.dataset, dataset)

    @Slot(dict)
    def _on_progress(self, progress: dict) -> None:
        if progress["event"] == "start":
            self._run.on_start(progress)
            if progress["notes"]:
                self.training_panel.show_note("\n".join(progress["notes"]))
            return
        self._progress.update({key: progress[key] for key in ("epoch", "update", "samples_seen")})
        self._progress_dirty = True

    @Slot(dict)
    def _on_batch(self, log: dict) -> None:
        self._run.on_batch(log)
        self._dirty = True
        self._on_progress(log)
        if "model" in log:
            self._set_model(log["model"], self._run.spec)

    @Slot(dict)
    def _on_epoch(self, log: dict) -> None:
        self._run.on_epoch(log)
        self._dirty = True
        if "model" in log:
            self._set_model(log["model"], self._run.spec)

    @Slot(dict)
    def _on_finished(self, log: dict) -> None:
        self._run.on_done(log)
        self._set_model(log["model"], self._run.spec)
        self._dirty = True

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._queue = []
        self._run.on_failed(message)
        self.show_error(f"Run #{self._run.run_id} failed: {message}")

    @Slot()
    def _on_thread_finished(self) -> None:
        run = self._run
        self._thread = self._worker = self._control = None
        self._redraw()
        if run.status in ("finished", "stopped"):
            self.runs_panel.add_run(run)
            self._batch_ids.append(run.run_id)
            self._show_final(run)
            if not math.isfinite(run.result["test_loss"]):
                self.show_error(
                    f"Run #{run.run_id}: the network's outputs on the test images are no longer finite "
                    f"(test loss {run.result['test_loss']}). Lower the learning rate."
                )
        if self._queue:
            self._start_next()
            return
        self._set_running(False)
        self.runs_panel.select(self._batch_ids)
        self.training_finished.emit(run)

    def _set_model(self, model: Sequential, spec: RunSpec | None) -> None:
        self.current_model = model
        self.model_spec = spec
        self.model_changed.emit()

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.status_label.setText("Error: see the message above the plots.")

    # ------------------------------------------------------------------ presets and continuing
    @Slot(str)
    def apply_preset(self, name: str) -> None:
        """Fill the network and training panels with preset ``name`` (keeping the data set)."""
        spec = preset_spec(PRESETS[name], self.training_panel.settings().dataset)
        self.layer_editor.set_settings(spec.network)
        self.training_panel.set_settings(spec.training)
        self.preset_bar.show_preset(name)

    @Slot()
    def _on_settings_edited(self) -> None:
        self.preset_bar.show_preset(matching_preset(self.layer_editor.settings(), self.training_panel.settings()))
        self._update_continue()

    @Slot()
    def _update_continue(self) -> None:
        """"Continue" is offered when the current model has the Network tab's layers and fits the data."""
        model, dataset = self.current_model, self.dataset
        available = (
            not self.is_running and model is not None and dataset is not None
            and architecture_matches(model, self.layer_editor.settings(), dataset.x_train.shape[1],
                                     dataset.num_classes)
        )
        self.continue_check.setEnabled(available)
        if not available:
            self.continue_check.setChecked(False)

    # ------------------------------------------------------------------ remembered state
    def _restore_state(self) -> None:
        state = load_state(self.store)
        self.layer_editor.set_settings(state.network)
        with QSignalBlocker(self.training_panel.learning_rate_spin):
            self.training_panel.set_settings(state.training)
        self.preset_bar.show_preset(matching_preset(state.network, state.training))
        self.last_folder = state.last_folder
        self.training_panel.start_folder = state.last_folder
        if state.geometry is not None:
            self.restoreGeometry(state.geometry)

    def save_state(self) -> None:
        """Remember the settings, the last folder and the geometry for the next launch."""
        save_state(self.store, StoredState(
            self.layer_editor.settings(), self.training_panel.settings(), self.last_folder, self.saveGeometry(),
        ))

    def _remember_folder(self, path: str) -> None:
        self.last_folder = os.path.dirname(os.path.abspath(path))
        self.training_panel.start_folder = self.last_folder

    # ------------------------------------------------------------------ help
    @Slot()
    def show_about(self) -> AboutDialog:
        """Open the About dialog (window-modal, without blocking); returns it."""
        if self._about is None:
            self._about = AboutDialog(self)
        self._about.open()
        return self._about

    @Slot()
    def show_about_qt(self) -> None:
        QMessageBox.aboutQt(self, "About Qt")

    # ------------------------------------------------------------------ drawing
    @Slot(list)
    def _on_runs_selected(self, runs: list[RunRecord]) -> None:
        live = [self._run] if self.is_running else []
        self.plots.show_runs([run for run in runs if run not in live] + live)

    @Slot()
    def _redraw(self) -> None:
        if self._dirty:
            self._dirty = False
            self.plots.refresh()
        if self._progress_dirty and self._run is not None:
            self._progress_dirty = False
            self._show_progress()

    def _show_progress(self) -> None:
        run, p = self._run, self._progress
        epochs = run.spec.training.epochs
        per_epoch = max(run.updates_per_epoch, 1)
        within = p["update"] - (p["epoch"] - 1) * per_epoch
        self.epoch_bar.setValue(int(1000 * min(within / per_epoch, 1.0)))
        total = max(epochs * run.n_train, 1)
        self.run_bar.setValue(int(1000 * min(p["samples_seen"] / total, 1.0)))
        seconds = run.training_seconds
        rate = p["samples_seen"] / seconds if seconds > 0 else math.nan
        parts = [f"Run #{run.run_id}", f"epoch {p['epoch']}/{epochs}", f"update {p['update']:,}"]
        if math.isfinite(rate):
            remaining = max(total - p["samples_seen"], 0) / rate
            parts += [f"{rate:,.0f} samples/s", f"{_clock(remaining)} left"]
        if self._control is not None and self._control.paused:
            parts.append("paused")
        self.status_label.setText(" · ".join(parts))

    def _show_final(self, run: RunRecord) -> None:
        r = run.result
        self.epoch_bar.setValue(1000 if not r["stopped"] else self.epoch_bar.value())
        self.run_bar.setValue(1000 if not r["stopped"] else self.run_bar.value())
        self.status_label.setText(
            f"Run #{run.run_id} {run.status}: test accuracy {100 * r['test_accuracy']:.2f}%, "
            f"test loss {r['test_loss']:.4f}, {r['update']:,} updates in {r['seconds']:.1f} s."
        )

    # ------------------------------------------------------------------ files
    def save_model_to(self, path: str) -> None:
        if self.current_model is None:
            raise ModelFileError("there is no model to save yet: train one first")
        spec = self.model_spec or RunSpec(self.layer_editor.settings(), self.training_panel.settings())
        metadata = {
            "network": spec.network.to_dict(), "training": spec.training.to_dict(),
            "dataset": spec.training.dataset,
            "class_names": list(self.dataset.class_names) if self.dataset else [],
        }
        save_model(self.current_model, path, metadata)
        self.status_label.setText(f"Saved the model to {path}.")

    def open_model_from(self, path: str) -> None:
        """Load a model file; a bad file raises ModelFileError and changes nothing. Refused while
        a run trains, which would otherwise replace the model under it."""
        if self.is_running:
            raise ModelFileError("a run is training: stop it before opening a model")
        loaded = load_model_file(path)
        # metadata is free-form JSON: use only settings that are valid and fit the weights
        network = network_from_metadata(loaded.metadata, loaded.model)
        training = training_from_metadata(loaded.metadata, self.training_panel.settings())
        self.layer_editor.set_settings(network)
        with QSignalBlocker(self.training_panel.learning_rate_spin):
            self.training_panel.set_settings(training)
        self._set_model(loaded.model, RunSpec(network, training))
        text = f"Loaded {path}."
        if self.dataset is not None and (self.dataset.x_test.shape[1], self.dataset.num_classes) == (
            loaded.model.input_size, loaded.model.output_size
        ):
            with using_blas():  # a run may be changing the BLAS thread count meanwhile
                _, accuracy = evaluate(loaded.model, self.dataset.x_test, self.dataset.y_test)
            text += f" Test accuracy {100 * accuracy:.2f}%."
        self.status_label.setText(text)

    @Slot()
    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self.last_folder, "scratchnet models (*.npz)")
        if path:
            self._remember_folder(path)
            self._report_errors(self.open_model_from, path)

    @Slot()
    def save_model_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", os.path.join(self.last_folder, "model.npz"), "scratchnet models (*.npz)"
        )
        if path:
            self._remember_folder(path)
            self._report_errors(self.save_model_to, path)

    @Slot()
    def export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export curves", os.path.join(self.last_folder, "curves.csv"), "CSV files (*.csv)"
        )
        if path:
            self._remember_folder(path)
            self._report_errors(write_curves_csv, self.runs_panel.runs, path)

    @Slot()
    def export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export plots", os.path.join(self.last_folder, "plots.png"), "PNG images (*.png)"
        )
        if path:
            self._remember_folder(path)
            self._report_errors(self.plots.export_png, path)

    def _report_errors(self, function, *args) -> None:
        try:
            function(*args)
        except (OSError, ValueError) as exc:  # ModelFileError is a ValueError
            self.show_error(str(exc))

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self._queue = []
        if self._control is not None:
            self._control.stop()
        stop_thread(self._thread)
        for thread, _loader in self._loaders.values():
            stop_thread(thread)
        self._redraw_timer.stop()
        super().closeEvent(event)


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"
