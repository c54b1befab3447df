"""The main window: settings on the left, views (training curves first) on the right.

The window lays out the panels and wires them: the ``RunController`` owns the data sets, the run
queue, the training worker and the current model; ``FileActions`` the File menu; the
``StatusPresenter`` the status line and the error banner. The window is the only object that
touches widgets. Other views plug in with ``add_view`` and follow ``model_changed``,
``current_model`` and ``dataset``.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QDeadlineTimer, QObject, QSettings, QSignalBlocker, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from scratchnet.data import Dataset
from scratchnet.network import Sequential
from scratchnet.presets import PRESETS, divergence_warning
from scratchnet.run_config import RunConfig
from scratchnet.run_store import RunStore

from . import tooltips
from .about import AboutDialog, app_icon
from .curve_options import CurveOptions
from .datasets import DatasetLoaderFn, load_any, with_my_digits
from .defaults import DEFAULT_CONFIG
from .download_ui import DatasetDownloads, downloadable
from .file_actions import FileActions
from .first_paint import report_first_paint_if_asked
from .import_dialog import ImportDialog
from .layer_editor import LayerEditor
from .pacing import WATCH_SPEED, is_slow_motion
from .persistence import (
    StoredState,
    default_store,
    load_import_options,
    load_state,
    save_import_options,
    save_state,
)
from .plots import PlotsPanel
from .presets_ui import PresetBar, descent_comparison, init_comparison, matching_preset, preset_spec
from .run_controller import CLOSE_WAIT_MS, KEPT_STATUSES, RunController
from .run_library import RunLibrary
from .run_record import RunRecord
from .runs import RunsPanel
from .settings import RunSpec
from .speed_control import BatchStrip, SpeedControl
from .status import StatusPresenter
from .step_panel import StepPanel
from .time_travel import TimeBar, TimeTravel
from .tour import TOUR_DONE_KEY, GuidedTour
from .training_panel import TrainingPanel
from .views import install_views
from .views.widgets import make_button

# plots and status: a redraw holds the GIL for ~10 ms, which the training worker then waits for
# (window throughput measured at 89.9% of headless with 4 redraws a second, 91.7% with 2)
REDRAW_MS = 500
FALLBACK_DATASET = "mnist"  # bundled: always there
DEFAULT_SIZE = QSize(1280, 800)
FRAME_ALLOWANCE = QSize(16, 48)  # the window manager's frame and title bar, outside the window's size


def first_window_size(available: QSize) -> QSize:
    """The size of a first window (no remembered geometry): 1280x800, or less to fit the screen's
    available geometry (``available``: without task bars) with its frame."""
    return DEFAULT_SIZE.boundedTo(available - FRAME_ALLOWANCE)


def scrolling(widget: QWidget, horizontal: bool) -> QScrollArea:
    """``widget`` in a frameless scroll area that scrolls only when it gets less than its minimum."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.NoFrame)
    if not horizontal:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    area.setWidget(widget)
    return area


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

    def __init__(self, dataset_loader: DatasetLoaderFn = load_any, parent=None,
                 settings: QSettings | None = None, run_store: RunStore | None = None) -> None:
        """``settings``: where to remember the state between launches (default: the user's file);
        ``run_store``: the run library (default: ``scratchnet.run_store.runs_root()``)."""
        super().__init__(parent)
        self.setWindowTitle("scratchnet")
        self.setWindowIcon(app_icon())
        self.store = settings if settings is not None else default_store()
        self._about: AboutDialog | None = None
        self.dataset: Dataset | None = None  # the data set the Training tab has chosen, once loaded
        self._dirty = self._progress_dirty = False
        # how each imported path was imported, so that a relaunch loads it the same way
        self._import_options: dict[str, dict] = load_import_options(self.store)
        self.controller = RunController(with_my_digits(dataset_loader, self._import_options), self)
        self.downloads = DatasetDownloads(self)
        self._failed_datasets: dict[str, str] = {}  # name -> why it could not be loaded
        self._fell_back_from: str | None = None  # the remembered data set replaced at start-up
        self.status = StatusPresenter()
        self.files = FileActions(self)
        self._import_dialog: ImportDialog | None = None

        self._build_widgets()
        self._build_menus()
        self._wire_controller()
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        self._redraw_timer.start()
        self._set_running(False)
        self.resize(first_window_size(self.screen().availableGeometry().size()))
        self._restore_state()
        install_views(self)
        self.time_travel = TimeTravel(self)
        self.library = RunLibrary(self, run_store if run_store is not None else RunStore())
        self.time_bar.library_requested.connect(self.library.open_dialog)
        self.library.add_stored_runs()
        self.tour = GuidedTour(self)
        self.tour.finished.connect(self._on_tour_finished)
        if not self.store.value(TOUR_DONE_KEY, False, type=bool):
            QTimer.singleShot(0, self, self.offer_tour)  # once the window has its size (cancelled with it)
        self.model_changed.connect(self._update_continue)
        self.dataset_changed.connect(self._update_continue)
        report_first_paint_if_asked(self)
        self._startup_dataset: str | None = self.run_config().dataset
        self.load_dataset_async(self._startup_dataset)

    # ------------------------------------------------------------------ layout
    def _build_widgets(self) -> None:
        self.layer_editor = LayerEditor(DEFAULT_CONFIG)
        self.training_panel = TrainingPanel(DEFAULT_CONFIG)
        self.training_panel.learning_rate_changed.connect(self.controller.set_learning_rate)
        self.training_panel.dataset_selected.connect(self.load_dataset_async)
        self.training_panel.download_requested.connect(self.download_dataset)
        self.training_panel.download_cancelled.connect(self.downloads.cancel)
        self.downloads.progress.connect(self._on_download_progress)
        self.downloads.finished.connect(self._on_download_finished)
        self.downloads.failed.connect(self._on_download_failed)
        self.downloads.cancelled.connect(self._on_download_cancelled)
        self.preset_bar = PresetBar()
        self.preset_bar.preset_chosen.connect(self.apply_preset)
        self.preset_bar.show_preset(matching_preset(DEFAULT_CONFIG))
        for panel in (self.layer_editor, self.training_panel):
            panel.changed.connect(self._on_settings_edited)

        self.settings_tabs = QTabWidget()
        self.settings_tabs.setObjectName("settingsTabs")
        # both tabs scroll, so that the Run buttons below them stay in view on a 600-pixel screen
        self.settings_tabs.addTab(scrolling(self.layer_editor, horizontal=False), "Network")
        self.settings_tabs.addTab(scrolling(self.training_panel, horizontal=False), "Training")

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
        self.speed_control = SpeedControl()
        self.speed_control.speed_changed.connect(self.controller.set_speed)
        self.speed_slider = self.speed_control.slider
        grid.addWidget(self.compare_button, 1, 0, 1, 2)
        grid.addWidget(self.compare_init_button, 1, 2, 1, 2)
        grid.addWidget(self.continue_check, 2, 0, 1, 4)
        grid.addWidget(self.speed_control, 3, 0, 1, 4)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addWidget(self.preset_bar)
        left_layout.addWidget(self.settings_tabs, 1)
        left_layout.addWidget(controls)
        self.time_bar = TimeBar()
        time_box = QGroupBox("Time travel")
        QVBoxLayout(time_box).addWidget(self.time_bar)
        left_layout.addWidget(time_box)

        self.plots = PlotsPanel()
        self.curve_options = CurveOptions()
        self.curve_options.raw_loss_toggled.connect(self.plots.set_raw_loss)
        self.curve_options.zoom_accuracy_toggled.connect(self.plots.set_zoom_accuracy)
        self.batch_strip = BatchStrip()
        self.runs_panel = RunsPanel()
        self.runs_panel.selection_changed.connect(self._on_runs_selected)
        self.runs_panel.x_unit_changed.connect(self.plots.set_x_unit)
        plots_area = QWidget()
        plots_layout = QVBoxLayout(plots_area)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.plots, 1)
        plots_layout.addWidget(self.batch_strip)
        plots_layout.addWidget(self.curve_options)
        self.step_panel = StepPanel()
        plots_layout.addWidget(self.step_panel)
        curves = QSplitter(Qt.Vertical)
        curves.addWidget(plots_area)
        curves.addWidget(self.runs_panel)
        curves.setStretchFactor(0, 3)
        curves.setStretchFactor(1, 1)
        curves.setSizes([470, 190])
        self.views = QTabWidget()
        self.views.setObjectName("viewTabs")
        # on a narrow window every tab stays in view (its title shortened) instead of behind scroll arrows
        self.views.setElideMode(Qt.ElideRight)
        self.views.setUsesScrollButtons(False)
        self.views.addTab(curves, "Training curves")
        self.views.setTabToolTip(0, "Training curves")
        self._view_policies: dict[QWidget, QSizePolicy] = {}  # each view's own, while it is current
        self.views.currentChanged.connect(self._size_to_current_view)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 6)
        right_layout.addWidget(self.status.error_banner)
        right_layout.addWidget(self.views, 1)

        # the views scroll when the window is smaller than the current one needs (a 1024x600 screen),
        # so that no view sets the window's minimum size
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(scrolling(right, horizontal=True))
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(0, False)
        splitter.setCollapsible(1, False)
        splitter.setSizes([390, 890])
        self.setCentralWidget(splitter)

        self.statusBar().addWidget(self.status.label, 1)
        self.statusBar().addPermanentWidget(self.status.epoch_bar)
        self.statusBar().addPermanentWidget(self.status.run_bar)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action(file_menu, "&Open model…", QKeySequence.Open, self.files.open_model_dialog,
                                        "Load a saved model and its settings.")
        self.save_action = self._action(file_menu, "&Save model…", QKeySequence.Save, self.files.save_model_dialog,
                                        "Save the current model with its settings.")
        self.import_action = self._action(file_menu, "&Import data…", None, self.import_data,
                                          "Use your own data: a CSV folder, one CSV, image folders or an .npz.")
        self.import_action.setObjectName("importDataAction")
        file_menu.addSeparator()
        self.export_csv_action = self._action(file_menu, "Export curves as &CSV…", None, self.files.export_csv_dialog,
                                              "Write every run's curves to a CSV file.")
        self.export_png_action = self._action(file_menu, "Export plots as &PNG…", None, self.files.export_png_dialog,
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
        self.getting_started_action = self._action(
            help_menu, "&Getting started", None, self.start_tour,
            "A short guided tour of the main controls, one step at a time.")
        self.getting_started_action.setObjectName("gettingStartedAction")
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

    def _wire_controller(self) -> None:
        c = self.controller
        c.dataset_loading.connect(self.status.loading)
        c.dataset_loaded.connect(self._on_dataset_loaded)
        c.dataset_failed.connect(self._on_dataset_failed)
        c.run_started.connect(self._on_run_started)
        c.note.connect(self.training_panel.show_note)
        c.curves_changed.connect(self._mark_curves)
        c.progress_changed.connect(self._mark_progress)
        c.run_failed.connect(self._on_run_failed)
        c.run_ended.connect(self._on_run_ended)
        c.idle.connect(self._on_idle)
        c.model_changed.connect(self.model_changed)
        c.stepped.connect(self._on_stepped)
        c.update_shown.connect(self._show_update)
        c.save_failed.connect(self._on_save_failed)

    def add_view(self, widget: QWidget, title: str) -> int:
        """Add an inspection view as a tab of the central area; returns its tab index."""
        index = self.views.addTab(widget, title)
        self.views.setTabToolTip(index, title)  # the whole title, when a narrow window shortens it
        self._size_to_current_view()
        return index

    @Slot()
    def _size_to_current_view(self) -> None:
        """The view tabs need the room of the current view only (a tab widget asks for the largest
        of all its pages): hidden pages ignore their size (the usual QStackedWidget idiom)."""
        current = self.views.currentWidget()
        for index in range(self.views.count()):
            page = self.views.widget(index)
            own = self._view_policies.setdefault(page, page.sizePolicy())
            page.setSizePolicy(own if page is current else QSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored))

    # ------------------------------------------------------------------ what the window shows
    def run_config(self) -> RunConfig:
        """The run the Network and Training tabs describe."""
        return RunConfig(**self.layer_editor.values(), **self.training_panel.values())

    def show_config(self, config: RunConfig) -> None:
        """Show ``config`` in the Network and Training tabs (a running loop keeps its rate)."""
        self.layer_editor.set_config(config)
        with QSignalBlocker(self.training_panel.learning_rate_spin):
            self.training_panel.set_config(config)

    @property
    def current_model(self) -> Sequential | None:
        return self.controller.current_model

    @property
    def model_spec(self) -> RunSpec | None:
        """The run that made ``current_model`` (for a loaded model: its file's settings)."""
        return self.controller.model_spec

    @property
    def runs(self) -> list[RunRecord]:
        return self.runs_panel.runs

    @property
    def progress(self) -> dict:
        """The latest progress report of the running (or last) run: epoch, update, samples_seen."""
        return self.controller.progress

    @property
    def is_running(self) -> bool:
        return self.controller.is_running

    @property
    def last_folder(self) -> str:
        return self.files.last_folder

    @property
    def status_label(self) -> QLabel:
        return self.status.label

    @property
    def error_label(self) -> QLabel:
        return self.status.error_label

    def show_error(self, message: str) -> None:
        self.status.error(message)

    # ------------------------------------------------------------------ data sets
    @Slot(str)
    def load_dataset_async(self, name: str) -> None:
        """Load ``name`` in a small thread (cached); ``dataset`` follows when it arrives."""
        self.controller.load_dataset(name)

    @Slot(str, object)
    def _on_dataset_loaded(self, name: str, dataset: Dataset) -> None:
        self._failed_datasets.pop(name, None)
        if name == self._startup_dataset:
            self._startup_dataset = None
        if name != self.run_config().dataset:
            return
        if dataset is not self.dataset:
            self.dataset = dataset
            self.layer_editor.set_io_sizes(dataset.x_train.shape[1], dataset.num_classes)
            self.training_panel.set_train_limit(len(dataset.y_train))
            self.dataset_changed.emit()
        if not self.is_running:
            self.status.dataset_ready(dataset)
            if self._fell_back_from is not None and name == FALLBACK_DATASET:
                self.status.say(f"{self._fell_back_from} could not be loaded: using the bundled MNIST "
                                f"(see the Training tab). {self.status_label.text()}")
                self._fell_back_from = None

    @Slot(str, str)
    def _on_dataset_failed(self, name: str, message: str) -> None:
        self._failed_datasets[name] = message
        remedy = " Click “Download” to fetch it." if downloadable(name) else ""
        if name == self._startup_dataset and name != FALLBACK_DATASET:
            # the data set remembered from the last session is gone: start on the bundled one
            self._startup_dataset = None
            self._fell_back_from = name
            self.training_panel.select_dataset(FALLBACK_DATASET)
            self.training_panel.set_dataset_note(
                f"{name} could not be loaded ({message}), so this session starts on the bundled MNIST. "
                f"Choose {name} again once it is available.{remedy}")
            return
        self.training_panel.set_dataset_note(f"Cannot load {name}: {message}.{remedy}")
        self.status.dataset_failed(name)

    @Slot()
    def import_data(self) -> ImportDialog:
        """File → Import data…: the import dialog (window-modal, without blocking); returns it."""
        if self._import_dialog is None:
            self._import_dialog = ImportDialog(self, self.last_folder)
            self._import_dialog.imported.connect(self.use_imported)
        self._import_dialog.open()
        return self._import_dialog

    def import_options_of(self, dataset: str) -> dict | None:
        """The ``load_dataset`` options the data set at path ``dataset`` was imported with (None:
        not an imported one)."""
        options = self._import_options.get(dataset)
        return dict(options) if options is not None else None

    @Slot(str, object, dict)
    def use_imported(self, path: str, dataset: Dataset, options: dict) -> None:
        """Make an imported data set the current one (the Training tab chooses it), and remember
        its import ``options`` (``load_dataset``'s) for the next launch."""
        if self.is_running:
            self.show_error("A run is training: stop it, then import again to use the data.")
            return
        self._import_options[path] = options
        save_import_options(self.store, self._import_options)
        self.controller.datasets.put(path, dataset)
        self.training_panel.set_dataset_note("")
        if self.run_config().dataset == path:
            self.load_dataset_async(path)
        else:
            self.training_panel.select_dataset(path)

    # ------------------------------------------------------------------ downloads
    @Slot(str)
    def download_dataset(self, name: str) -> None:
        """Download ``name`` off the GUI thread (progress in the Training tab), then load it."""
        if self.downloads.start(name):
            self.training_panel.set_downloading(True)
            self.status.say(f"Downloading {name}…")

    @Slot(str, int, int, str)
    def _on_download_progress(self, _name: str, done: int, total: int, filename: str) -> None:
        self.training_panel.show_download_progress(done, total, filename)

    @Slot(str, str)
    def _on_download_finished(self, name: str, folder: str) -> None:
        self.training_panel.set_downloading(False)
        self._failed_datasets.pop(name, None)
        self.training_panel.set_dataset_note("")
        self.status.success(f"Downloaded {name} into {folder}; every file's checksum matches. Loading it…")
        self.load_dataset_async(name)

    @Slot(str, str)
    def _on_download_failed(self, name: str, message: str) -> None:
        self.training_panel.set_downloading(False)
        self.status.error(f"Could not download {name}: {message}")

    @Slot(str)
    def _on_download_cancelled(self, name: str) -> None:
        self.training_panel.set_downloading(False)
        self.status.say(f"Download of {name} cancelled; nothing was kept.")

    # ------------------------------------------------------------------ runs
    @Slot()
    def start_training(self) -> None:
        if self.is_running or self._refuse_network():
            return
        name = self.run_config().dataset
        if name in self._failed_datasets and self.controller.datasets.cached(name) is None:
            remedy = "click “Download”, or" if downloadable(name) else ""
            self.status.error(f"{name} is not available ({self._failed_datasets[name]}): {remedy} choose "
                              "MNIST (bundled) in the Training tab.")
            return
        resume = self.continue_check.isEnabled() and self.continue_check.isChecked()
        self.controller.start(self._measured([RunSpec(self.run_config())]),
                              continue_from=self.current_model.copy() if resume else None)

    @Slot()
    def compare_descents(self) -> None:
        """Train the current network with full batch, mini-batch and SGD, same seed, in turn, each
        with its own learning rate (from the three-descents preset); x axis in samples seen."""
        self._compare(descent_comparison(self.run_config()), "samples")

    @Slot()
    def compare_initialisations(self) -> None:
        """Train the current settings from small normal and from He initial weights, in turn."""
        self._compare(init_comparison(self.run_config()), "epochs")

    def _compare(self, specs: list[RunSpec], x_unit: str) -> None:
        if self.is_running or self._refuse_network():
            return
        self.runs_panel.x_axis_combo.setCurrentIndex(self.runs_panel.x_axis_combo.findData(x_unit))
        self.controller.start(self._measured(specs))

    def _measured(self, specs: list[RunSpec]) -> list[RunSpec]:
        """``specs`` with the curve options' end-of-epoch train measurement."""
        return [replace(spec, train_eval_size=self.curve_options.train_eval_size) for spec in specs]

    def _refuse_network(self) -> bool:
        """Shows why the Network tab's network cannot be trained, if so (the editor says it too)."""
        problem = self.layer_editor.problem()
        if problem is not None:
            self.show_error(f"Cannot start: {problem}.")
        return problem is not None

    @Slot()
    def stop_training(self) -> None:
        self.controller.stop()

    @Slot()
    def toggle_pause(self) -> None:
        self.controller.toggle_pause()
        self._show_pause_state()

    @Slot()
    def step_once(self) -> None:
        self.controller.step()

    def _set_running(self, running: bool) -> None:
        self.layer_editor.set_editable(not running)
        self.training_panel.set_running(running)
        for widget in (self.start_button, self.compare_button, self.start_action, self.compare_action,
                       self.open_action, self.compare_init_button, self.compare_init_action, self.preset_bar,
                       self.import_action):
            widget.setEnabled(not running)
        self._update_start()
        self._update_continue()
        for widget in (self.pause_button, self.stop_button, self.pause_action, self.stop_action):
            widget.setEnabled(running)
        self._show_pause_state()

    def _show_pause_state(self) -> None:
        paused = self.controller.paused
        self.pause_button.setText("Resume" if paused else "Pause")
        self.step_button.setEnabled(paused)
        self.step_action.setEnabled(paused)
        if paused:
            self.status.paused()

    # ------------------------------------------------------------------ controller reports
    @Slot(object)
    def _on_run_started(self, run: RunRecord) -> None:
        self._set_running(True)
        self.step_panel.clear()
        self.runs_panel.select(self._runs_to_show(run))
        self.status.preparing(run)
        if divergence_warning(run.spec.config) is not None:
            self.status.say(f"{self.status_label.text()} These settings are known to fail: see the warning "
                            "in the Training tab.")

    def _runs_to_show(self, run: RunRecord) -> list[int]:
        """The runs the last start made, and the run a continued run goes on from (drawn on the
        epochs before it)."""
        return [*self.controller.batch_ids, *([run.parent.run_id] if run.parent is not None else []),
                *([run.fork_of.run_id] if run.fork_of is not None else [])]

    @Slot(object)
    def _on_stepped(self, report) -> None:
        names = list(self.dataset.class_names) if self.dataset is not None else []
        self.batch_strip.hide()  # the step panel shows the same digits, and more
        self.step_panel.show_report(report, names)

    @Slot()
    def _mark_curves(self) -> None:
        self._dirty = True

    @Slot()
    def _mark_progress(self) -> None:
        self._progress_dirty = True

    @Slot(int, dict)
    def _show_update(self, update: int, preview: dict) -> None:
        """Slow motion: this update's loss, mini-batch and weights, drawn now (not at the next redraw)."""
        if not is_slow_motion(self.controller.speed):
            return
        self._redraw()
        dataset = self.dataset
        if not self.step_panel.isVisible():  # one strip of digits at a time (a small screen has room for one)
            self.batch_strip.show_update(update, preview, dataset.class_names if dataset is not None else None)
        refresher = self.findChild(QObject, "viewRefresher")
        if refresher is not None:
            refresher.refresh()

    @Slot(str)
    def _on_save_failed(self, problem: str) -> None:
        self.status.error(f"The run trains on, but is not saved in the run library: {problem}")

    @Slot(object)
    def _on_run_failed(self, run: RunRecord) -> None:
        self.status.error(f"Run #{run.run_id} {run.status}: {run.error}")

    @Slot(object)
    def _on_run_ended(self, run: RunRecord) -> None:
        self._redraw()
        if run.status in KEPT_STATUSES:
            self.runs_panel.add_run(run)
        if run.status in ("finished", "stopped"):
            self.status.finished(run)
        else:  # after the last redraw, which may have moved the bars on
            self.status.ended_with_error()

    @Slot(object)
    def _on_idle(self, run: RunRecord) -> None:
        self._set_running(False)
        self.runs_panel.select(self._runs_to_show(run))
        self.training_finished.emit(run)

    # ------------------------------------------------------------------ presets and continuing
    @Slot(str)
    def apply_preset(self, name: str) -> None:
        """Fill the network and training panels with preset ``name`` (keeping the data set)."""
        preset = PRESETS[name]
        self.show_config(preset_spec(preset).config)
        self.preset_bar.show_preset(name)
        self.speed_control.set_speed(None if preset.fast else WATCH_SPEED)

    @Slot()
    def _on_settings_edited(self) -> None:
        self.preset_bar.show_preset(matching_preset(self.run_config()))
        self._update_start()
        self._update_continue()

    def _update_start(self) -> None:
        """Start and the comparisons are disabled, with the reason as their tooltip, while the
        Network tab's network cannot be trained (a layer that does not fit the images...)."""
        problem = None if self.is_running else self.layer_editor.problem()
        for widget, tip in ((self.start_button, tooltips.START), (self.start_action, tooltips.START),
                            (self.compare_button, tooltips.COMPARE), (self.compare_init_button, tooltips.COMPARE_INIT)):
            if not self.is_running:
                widget.setEnabled(problem is None)
            widget.setToolTip(tip if problem is None else f"Cannot start: {problem}.")

    @Slot()
    def _update_continue(self) -> None:
        """"Continue" is offered when the current model has the Network tab's layers and fits the data
        (not for a checkpoint the time slider shows: Fork continues from there, on the run's axes)."""
        model, dataset = self.current_model, self.dataset
        available = (
            not self.is_running and model is not None and dataset is not None
            and (model.input_size, model.output_size) == (dataset.x_train.shape[1], dataset.num_classes)
            and self.run_config().describes(model) and not self.controller.held
        )
        self.continue_check.setEnabled(available)
        self.continue_check.setToolTip(tooltips.CONTINUE if not self.controller.held else
                                       "The views show a checkpoint from the time slider: use Fork… to continue "
                                       "from it, or move the slider to the end.")
        if not available:
            self.continue_check.setChecked(False)

    # ------------------------------------------------------------------ remembered state
    def _restore_state(self) -> None:
        state = load_state(self.store)
        try:
            self._apply_state(state)
        except Exception as exc:  # the window always starts, on the defaults if need be
            state = StoredState(note=f"The remembered settings could not be applied ({exc}): using the defaults.")
            self._apply_state(state)
        if state.note:
            self.show_error(state.note)

    def _apply_state(self, state: StoredState) -> None:
        self.show_config(state.config)
        self.preset_bar.show_preset(matching_preset(self.run_config()))
        self.files.last_folder = state.last_folder
        self.training_panel.start_folder = state.last_folder
        if state.geometry is not None:
            self.restoreGeometry(state.geometry)

    def save_state(self) -> None:
        """Remember the settings, the last folder and the geometry for the next launch."""
        save_state(self.store, StoredState(self.run_config(), self.last_folder, self.saveGeometry()))

    # ------------------------------------------------------------------ help
    @Slot()
    def show_about(self) -> AboutDialog:
        """Open the About dialog (window-modal, without blocking); returns it."""
        if self._about is None:
            self._about = AboutDialog(self)
        self._about.open()
        return self._about

    @Slot()
    def start_tour(self) -> None:
        """Help → Getting started: the guided tour from its first step."""
        self.tour.start()

    @Slot()
    def offer_tour(self) -> None:
        """First launch: the tour's first step, with "Skip tour" on it."""
        if not self.tour.active:
            self.tour.start()

    @Slot(bool)
    def _on_tour_finished(self, _completed: bool) -> None:
        self.store.setValue(TOUR_DONE_KEY, True)  # finished or skipped: not offered again

    @Slot()
    def show_about_qt(self) -> None:
        QMessageBox.aboutQt(self, "About Qt")

    # ------------------------------------------------------------------ drawing
    @Slot(list)
    def _on_runs_selected(self, runs: list[RunRecord]) -> None:
        self.library.ensure_loaded(runs)
        runs = [run for run in runs if run.stored is None or run.stored.config is not None]
        live = [self.controller.run] if self.is_running else []
        self.plots.show_runs([run for run in runs if run not in live] + live)
        if not self.is_running:
            self.time_travel.follow(runs[-1] if runs else None)

    @Slot()
    def _redraw(self) -> None:
        if self._dirty:
            self._dirty = False
            self.plots.refresh()
        run = self.controller.run
        if self._progress_dirty and run is not None:
            self._progress_dirty = False
            self.status.progress(run, self.progress, self.controller.paused)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the state, stop the run and the loaders, and close without waiting more than
        ``run_controller.CLOSE_WAIT_MS`` for their threads."""
        self.save_state()
        self._redraw_timer.stop()
        self.controller.shutdown()
        self.downloads.shutdown(QDeadlineTimer(CLOSE_WAIT_MS))
        if self._import_dialog is not None:
            self._import_dialog.shutdown(QDeadlineTimer(CLOSE_WAIT_MS))
        super().closeEvent(event)
