"""The Run library dialog: the runs saved in the user's data folder (``scratchnet.run_store``).

Every run the window trains is saved as it goes, one folder each (``RunWriter``); on the next
start the runs list shows them again, their curves and checkpoints read only when selected. The
dialog lists them with their size and any warning (a damaged folder is listed with what is wrong;
the rest loads), renames, deletes, exports one as a .zip and imports one, shows the total size
and deletes the oldest runs beyond the size limit, after asking. Zips are written and read in a
worker thread; the dialog stays responsive.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime

import numpy as np
from PySide6.QtCore import QDeadlineTimer, QEvent, QObject, QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from scratchnet.errors import ScratchnetError
from scratchnet.run_store import RunStoreError, RunWriter

from .defaults import DEFAULT_CONFIG
from .run_record import OPTIMIZER_LABELS, RunRecord
from .settings import RunSpec
from .threads import start_in_thread, stop_thread
from .views.widgets import make_button
from .worker import blas_limit_for

CLOSE_WAIT_MS = 2000  # closing waits at most this for an export, import or check under way
LIMIT_KEY = "library/limitMB"
DEFAULT_LIMIT_MB = 2048
MAX_LIMIT_MB = 1_000_000
BUDGET_KEY = "runs/memoryBudgetMB"  # the checkpoints' memory budget, all runs together
DEFAULT_BUDGET_MB = 200
MAX_BUDGET_MB = 100_000
COUNT_KEY = "runs/checkpointCount"  # checkpoints through a run of under 10 epochs, besides epoch ends
DEFAULT_COUNT = 20
MAX_COUNT = 1000
COLUMNS = ("Name", "Created", "Status", "Size", "Warnings")
MB = 2**20


def size_text(nbytes: int) -> str:
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.2f} GB"
    if nbytes >= MB:
        return f"{nbytes / MB:.1f} MB"
    return f"{nbytes / 1024:.0f} KB"


def stored_int(settings: QSettings, key: str, default: int, low: int, high: int) -> int:
    """A remembered whole number within [low, high]; else (missing, edited into nonsense) ``default``."""
    try:
        value = int(settings.value(key, default))
    except (TypeError, ValueError):
        return default
    return value if low <= value <= high else default


def library_limit(settings: QSettings) -> int:
    """The library's size limit in bytes, as remembered (a bad value: the default)."""
    return stored_int(settings, LIMIT_KEY, DEFAULT_LIMIT_MB, 1, MAX_LIMIT_MB) * MB


def memory_budget(settings: QSettings) -> int:
    """The checkpoints' memory budget in bytes, as remembered."""
    return stored_int(settings, BUDGET_KEY, DEFAULT_BUDGET_MB, 1, MAX_BUDGET_MB) * MB


def checkpoint_count(settings: QSettings) -> int:
    """How many checkpoints a run of under 10 epochs takes through its epochs, as remembered."""
    return stored_int(settings, COUNT_KEY, DEFAULT_COUNT, 0, MAX_COUNT)


def created_text(created) -> str:
    try:
        return datetime.fromisoformat(str(created)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(created or "?")


class FileJob(QObject):
    """Runs ``work()`` in its own thread; ``done(object)`` with its result, or ``failed(str)``."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, work) -> None:
        super().__init__()
        self._work = work

    @Slot()
    def run(self) -> None:
        try:
            result = self._work()
        except (OSError, ScratchnetError, ValueError) as exc:
            self.failed.emit(str(exc))
            return
        self.done.emit(result)


class RunLibraryDialog(QDialog):
    """Signals: ``renamed(str, str)`` (run id, new name), ``deleted(list)`` (run ids),
    ``imported(object)`` (the new ``StoredRun``), ``job_ended(str)`` (an export or import is
    over: what the dialog says about it)."""

    renamed = Signal(str, str)
    deleted = Signal(list)
    checked = Signal()
    settings_changed = Signal()
    imported = Signal(object)
    job_ended = Signal(str)

    def __init__(self, store, settings: QSettings, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("runLibraryDialog")
        self.setWindowTitle("Run library")
        self.store = store
        self.settings = settings
        self._runs: list = []
        self._job = self._thread = None
        self._texts = ("", "")
        self._found: dict[str, list[str]] = {}  # run id -> what reading its checkpoints' headers found
        self._check_job = self._check_thread = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runLibraryTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        header.setSectionResizeMode(4, QHeaderView.Stretch)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("runNameEdit")
        self.name_edit.setPlaceholderText("New name for the selected run")
        self.rename_button = make_button("Rename", "renameRunButton", "Give the selected run this name.",
                                         self.rename_selected)
        self.delete_button = make_button("Delete…", "deleteRunButton", "Delete the selected run's folder (asks first).",
                                         self.delete_selected)
        self.export_button = make_button("Export .zip…", "exportRunButton",
                                         "Write the selected run's folder into a .zip file.", self.export_selected)
        self.import_button = make_button("Import .zip…", "importRunButton",
                                         "Add a run from a .zip made by Export.", self.import_dialog)
        self.size_label = QLabel()
        self.size_label.setObjectName("librarySizeLabel")
        self.limit_spin = QSpinBox()
        self.limit_spin.setObjectName("libraryLimitSpin")
        self.limit_spin.setRange(1, MAX_LIMIT_MB)
        self.limit_spin.setSuffix(" MB")
        self.limit_spin.setValue(library_limit(settings) // MB)
        self.limit_spin.setToolTip("The most room the saved runs may take; Clean up deletes the oldest beyond it.")
        self.limit_spin.valueChanged.connect(self._on_limit)
        self.budget_spin = QSpinBox()
        self.budget_spin.setObjectName("checkpointMemorySpin")
        self.budget_spin.setRange(1, MAX_BUDGET_MB)
        self.budget_spin.setSuffix(" MB")
        self.budget_spin.setValue(memory_budget(settings) // MB)
        self.budget_spin.setToolTip("How much memory all runs' checkpoints may take while the app runs; beyond "
                                    "it, the oldest are read back from the runs' folders when needed.")
        self.budget_spin.valueChanged.connect(self._on_budget)
        self.count_spin = QSpinBox()
        self.count_spin.setObjectName("checkpointCountSpin")
        self.count_spin.setRange(0, MAX_COUNT)
        self.count_spin.setValue(checkpoint_count(settings))
        self.count_spin.setToolTip("Checkpoints spread through a run of under 10 epochs, besides one at every "
                                   "epoch's end (0: epoch ends only). From the next run on.")
        self.count_spin.valueChanged.connect(self._on_count)
        self.cleanup_button = make_button("Clean up…", "cleanupButton",
                                          "Delete the oldest runs until the library fits its limit (asks first).",
                                          self.clean_up)
        self.message = QLabel()
        self.message.setObjectName("libraryMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)

        rename_row = QHBoxLayout()
        rename_row.addWidget(self.name_edit, 1)
        rename_row.addWidget(self.rename_button)
        rename_row.addWidget(self.delete_button)
        rename_row.addWidget(self.export_button)
        rename_row.addWidget(self.import_button)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_label, 1)
        size_row.addWidget(QLabel("Limit:"))
        size_row.addWidget(self.limit_spin)
        size_row.addWidget(self.cleanup_button)
        memory_row = QHBoxLayout()
        memory_row.addWidget(QLabel("Checkpoints in memory, all runs:"))
        memory_row.addWidget(self.budget_spin)
        memory_row.addWidget(QLabel("Through a short run:"))
        memory_row.addWidget(self.count_spin)
        memory_row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.button(QDialogButtonBox.Close).setToolTip("Close the library (exports and imports go on).")
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Saved runs, in {store.root}"))
        layout.addWidget(self.table, 1)
        layout.addLayout(rename_row)
        layout.addLayout(size_row)
        layout.addLayout(memory_row)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(760, 420)
        self.reload()

    # ---- listing
    def reload(self) -> None:
        """Read the library again (each run's run.json only)."""
        self._runs = self.store.list()
        self.table.setRowCount(len(self._runs))
        for row, run in enumerate(self._runs):
            cells = (run.name or run.id, created_text(run.created), run.status or "?", size_text(run.size_bytes),
                     "; ".join(run.warnings))
            warnings = [*run.warnings, *(w for w in self._found.get(run.id, []) if w not in run.warnings)]
            cells = (*cells[:4], "; ".join(warnings))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, run.id)
                item.setToolTip(text)
                if warnings:
                    item.setForeground(Qt.darkRed)
                self.table.setItem(row, column, item)
        self._show_size()
        self._on_selection()

    def check_checkpoints(self) -> None:
        """Read every run's checkpoint headers in a worker thread (a checkpoint cut short, or
        whose shapes no longer match its configuration, is a warning); ``checked`` when done."""
        if self._check_thread is not None:
            return
        runs = [run for run in self._runs if run.config is not None]
        self._check_job = FileJob(lambda: {run.id: run.check_checkpoints() for run in runs})
        self._check_job.done.connect(self._on_checked)
        self._check_thread = start_in_thread(self._check_job, [self._check_job.done, self._check_job.failed], self,
                                             self._check_thread_ended)

    @Slot(object)
    def _on_checked(self, found: dict) -> None:
        self._found = {run_id: warnings for run_id, warnings in found.items() if warnings}
        self.reload()
        if self._found:
            count = sum(len(w) for w in self._found.values())
            self._say(f"{count} checkpoint{'s' if count > 1 else ''} cannot be used: see the warnings.")

    @Slot()
    def _check_thread_ended(self) -> None:
        self._check_job = self._check_thread = None
        self.checked.emit()

    def shutdown(self, deadline) -> None:
        """The window closes: wait for the dialog's threads until ``deadline`` (see threads.stop_thread)."""
        for thread in (self._thread, self._check_thread):
            stop_thread(thread, deadline)

    def _show_size(self) -> None:
        total, limit = self.store.total_size(), library_limit(self.settings)
        over = " (over the limit: Clean up deletes the oldest)" if total > limit else ""
        self.size_label.setText(f"{len(self._runs)} runs, {size_text(total)} in all{over}")

    def run_ids(self) -> list[str]:
        return [run.id for run in self._runs]

    def select(self, run_id: str) -> None:
        self.table.selectRow(self.run_ids().index(run_id))

    def selected(self):
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return self._runs[min(rows)] if rows else None

    @Slot()
    def _on_selection(self) -> None:
        run = self.selected()
        for button in (self.rename_button, self.delete_button, self.export_button):
            button.setEnabled(run is not None)
        if run is not None:
            self.name_edit.setText(run.name or run.id)

    def _say(self, text: str) -> None:
        self.message.setText(text)

    def _ask(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.Yes

    # ---- actions
    @Slot()
    def rename_selected(self) -> None:
        run, name = self.selected(), self.name_edit.text().strip()
        if run is None:
            return
        if not name:
            self._say("A run needs a name: type one first.")
            return
        try:
            self.store.rename(run.id, name)
        except (OSError, ScratchnetError, ValueError) as exc:
            self._say(f"Could not rename {run.id}: {exc}")
            return
        self.reload()
        self.select(run.id)
        self._say(f"Renamed to “{name}”.")
        self.renamed.emit(run.id, name)

    @Slot()
    def delete_selected(self) -> None:
        run = self.selected()
        if run is None or not self._ask("Delete run", f"Delete “{run.name or run.id}” ({size_text(run.size_bytes)}) "
                                        "and its checkpoints? This cannot be undone."):
            return
        self._delete([run.id])

    def _delete(self, ids: list[str]) -> None:
        done = []
        for run_id in ids:
            try:
                self.store.delete(run_id)
                done.append(run_id)
            except (OSError, ScratchnetError, ValueError) as exc:
                self._say(f"Could not delete {run_id}: {exc}")
        self.reload()
        if done:
            self._say(f"Deleted {len(done)} run{'s' if len(done) > 1 else ''}.")
            self.deleted.emit(done)

    @Slot()
    def clean_up(self) -> None:
        limit = library_limit(self.settings)
        plan = self.store.cleanup_plan(limit)
        if not plan:
            self._say(f"The library fits its limit of {size_text(limit)}: nothing to delete.")
            return
        sizes = {run.id: run for run in self._runs}
        names = ", ".join(sizes[i].name or i if i in sizes else i for i in plan)
        freed = sum(sizes[i].size_bytes for i in plan if i in sizes)
        if not self._ask("Clean up the run library",
                         f"Delete the {len(plan)} oldest run{'s' if len(plan) > 1 else ''} ({names}, "
                         f"{size_text(freed)}) to fit the limit of {size_text(limit)}?"):
            self._say("Nothing deleted.")
            return
        self._delete(plan)

    @Slot(int)
    def _on_limit(self, megabytes: int) -> None:
        self.settings.setValue(LIMIT_KEY, megabytes)
        self._show_size()

    @Slot(int)
    def _on_budget(self, megabytes: int) -> None:
        self.settings.setValue(BUDGET_KEY, megabytes)
        self.settings_changed.emit()

    @Slot(int)
    def _on_count(self, count: int) -> None:
        self.settings.setValue(COUNT_KEY, count)
        self.settings_changed.emit()

    @Slot()
    def export_selected(self) -> None:
        run = self.selected()
        if run is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export run", f"{run.name or run.id}.zip", "Zip files (*.zip)")
        if path:
            self.export_to(run.id, path)

    def export_to(self, run_id: str, path: str) -> None:
        self._run_job(lambda: self.store.export_zip(run_id, path), f"Exported to {path}.",
                      f"Could not export {run_id}")

    @Slot()
    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import run", "", "Zip files (*.zip)")
        if path:
            self.import_from(path)

    def import_from(self, path: str) -> None:
        self._run_job(lambda: self.store.import_zip(path), "Imported {name}.", f"Could not import {path}")

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def _run_job(self, work, success: str, failure: str) -> None:
        if self.busy:
            self._say("Wait for the export or import under way to end.")
            return
        for button in (self.export_button, self.import_button):
            button.setEnabled(False)
        self._say("Working…")
        job = FileJob(work)
        self._texts = (success, failure)
        # slots of this dialog (GUI thread), not lambdas: those would run in the job's thread
        job.done.connect(self._job_done)
        job.failed.connect(self._job_failed)
        self._job = job
        self._thread = start_in_thread(job, [job.done, job.failed], self, self._job_thread_ended)

    @Slot()
    def _job_thread_ended(self) -> None:
        self._job = self._thread = None
        self.import_button.setEnabled(True)
        self._on_selection()
        self.job_ended.emit(self.message.text())

    @Slot(object)
    def _job_done(self, result) -> None:
        success = self._texts[0]
        if result is not None and hasattr(result, "id"):  # an imported StoredRun
            self.reload()
            self.imported.emit(result)
            success = success.format(name=f"“{result.name or result.id}”")
        self._show_size()
        self._say(success)

    @Slot(str)
    def _job_failed(self, problem: str) -> None:
        self._say(f"{self._texts[1]}: {problem}")


# a stored run's status as the runs list says it (a "running" run found on disk was cut short)
STATUS_OF = {"done": "finished", "stopped": "stopped", "diverged": "diverged", "running": "stopped"}


def stored_record(run_id: int, stored) -> RunRecord:
    """A RunRecord for a run of the library, its curves not read yet (``load_curves``)."""
    config = stored.config if stored.config is not None else DEFAULT_CONFIG
    record = RunRecord(run_id, RunSpec(config, label=stored.name), status=STATUS_OF.get(stored.status, "stopped"))
    record.stored, record.name, record.stored_id = stored, stored.name, stored.id
    record.curves_loaded = False
    return record


def load_curves(record: RunRecord) -> None:
    """Replay a stored run's logs (curves.jsonl) into its RunRecord, once."""
    if record.curves_loaded or record.stored is None:
        return
    record.curves_loaded = True
    done = None
    for log in record.stored.curves():
        try:
            event = log.get("event")
            if event == "start":
                record.on_start(log)
            elif event == "batch":
                losses = np.array([np.nan if v is None else v for v in log["losses"]], dtype=float)
                record.on_batch(dict(log, losses=losses))
            elif event == "epoch":
                record.on_epoch({k: (np.nan if v is None else v) for k, v in log.items()})
            elif event == "done":
                done = log
        except (KeyError, TypeError, ValueError) as exc:
            record.stored.warn(f"curves.jsonl has a log that cannot be drawn ({exc!r})")
            break
    status = record.status
    if done is not None and "test_accuracy" in done:
        record.on_done(done)
    record.status = status


class RunLibrary(QObject):
    """The window's side of the library: saves every run it trains (``writer_for``, given to the
    run controller), lists the stored runs in the runs list at start (their curves read when
    first selected), and opens the dialog, whose changes it passes on to the runs list.
    ``checked()``: the dialog has read every checkpoint's header (its warnings are shown)."""

    checked = Signal()

    def __init__(self, window, store) -> None:
        super().__init__(window)
        self.setObjectName("runLibrary")
        self._window = window
        self.store = store
        self.dialog: RunLibraryDialog | None = None
        window.controller.writer_factory = self.writer_for
        self.apply_settings()
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if watched is self._window and event.type() == QEvent.Close:
            if self.dialog is not None:
                self.dialog.shutdown(QDeadlineTimer(CLOSE_WAIT_MS))
            self._remove_spills()
        return False

    def _remove_spills(self) -> None:
        """The checkpoints spilled beyond the memory budget are copies of the run folders' own:
        gone with the session (the folders keep theirs)."""
        for run in self._window.runs:
            if run.spill_dir is not None:
                shutil.rmtree(run.spill_dir, ignore_errors=True)

    @Slot()
    def apply_settings(self) -> None:
        """The remembered checkpoint budget and count, into the run controller."""
        controller = self._window.controller
        controller.checkpoints.budget_bytes = memory_budget(self._window.store)
        controller.checkpoint_count = checkpoint_count(self._window.store)

    def records(self) -> dict[str, RunRecord]:
        """The runs list's runs that are in the library, by their folder name."""
        return {run.stored_id: run for run in self._window.runs if run.stored_id}

    def add_stored_runs(self) -> list[RunRecord]:
        """The library's runs, oldest first, into the runs list (run.json read, nothing else)."""
        added = [self._add(stored) for stored in self.store.list()]
        self._link_forks()
        return added

    def _add(self, stored) -> RunRecord:
        controller = self._window.controller
        record = stored_record(controller.take_run_id(), stored)
        self._window.runs_panel.add_run(record)
        return record

    def _link_forks(self) -> None:
        records = self.records()
        for record in records.values():
            if record.stored is None:
                continue
            fork, parent = record.stored.fork, record.stored.parent
            if record.fork_of is None and isinstance(fork, dict) and parent in records:
                try:
                    point = tuple(fork[k] for k in ("epoch", "update", "samples_seen", "seconds"))
                except KeyError:
                    continue
                if all(isinstance(v, (int, float)) for v in point):
                    record.fork_of, record.fork_point = records[parent], point
                    record.anchors.view()[0] = point[1:]
                    self._window.runs_panel.update_run(record)

    def ensure_loaded(self, runs: list[RunRecord]) -> None:
        for run in runs:
            if run.stored is not None and not run.curves_loaded:
                load_curves(run)
                self._window.runs_panel.update_run(run)

    # ---- saving runs as they train
    def writer_for(self, run: RunRecord):
        """For the run controller: a function the worker calls with the run's model, in its
        thread, to make the run's ``RunWriter`` (None: the run is not saved)."""
        config = run.spec.config
        name = run.spec.label or f"{run.descent_text} {OPTIMIZER_LABELS[config.optimizer]} {run.learning_rate_text}"
        folder = self.store.new_folder(name)
        run.stored_id, run.name = folder.name, name
        run.spill_dir = folder / "spill"
        source = run.fork_of or run.parent
        parent = source.stored_id if source is not None else None
        fork = None
        if run.fork_point is not None:
            fork = dict(zip(("epoch", "update", "samples_seen", "seconds"), run.fork_point, strict=True))

        data_import = self.data_import_now(config.dataset)  # how the data were read, for `scratchnet resume`

        def make(model) -> RunWriter:
            return RunWriter(folder, config, name=name, parent=parent, fork=fork, model=model,
                             data_import=data_import, blas_threads=blas_limit_for(config.descent))

        return make

    def data_import_now(self, dataset: str) -> dict | None:
        """The import options (as run.json keeps them) the window reads ``dataset`` with now;
        None when it is not an imported one."""
        options = self._window.import_options_of(dataset)
        if options is None:
            return None
        return {"image_size": options.get("image_size"), "held_out": options.get("held_out", 1 / 7), "seed": 0,
                "photo": options.get("photo", False)}

    def import_mismatch(self, run: RunRecord) -> str | None:
        """Why ``run`` cannot go on with the data as the window reads them now (its data set was
        imported again with other options since), or None."""
        if not run.stored_id:
            return None
        try:
            saved = self.store.get(run.stored_id).data_import()
        except RunStoreError as exc:
            return str(exc)
        if saved is None:
            return None
        now = self.data_import_now(run.spec.config.dataset) or {"image_size": None, "held_out": 1 / 7, "seed": 0,
                                                                "photo": False}
        same = (saved["image_size"], saved["seed"], saved["photo"]) == (now["image_size"], now["seed"], now["photo"]) \
            and abs(saved["held_out"] - now["held_out"]) < 1e-9
        if same:
            return None
        return (f"its data were imported with {_import_text(saved)}, but are now read with {_import_text(now)}; "
                "import them again with the run's options to go on from it")

    # ---- the dialog
    @Slot()
    def open_dialog(self) -> RunLibraryDialog:
        """The Run library dialog (window-modal, not blocking)."""
        if self.dialog is None:
            self.dialog = RunLibraryDialog(self.store, self._window.store, self._window)
            self.dialog.renamed.connect(self._on_renamed)
            self.dialog.deleted.connect(self._on_deleted)
            self.dialog.imported.connect(self._on_imported)
            self.dialog.settings_changed.connect(self.apply_settings)
            self.dialog.checked.connect(self.checked)
        else:
            self.dialog.reload()
        self.dialog.open()
        self.dialog.check_checkpoints()
        return self.dialog

    @Slot(str, str)
    def _on_renamed(self, run_id: str, name: str) -> None:
        record = self.records().get(run_id)
        if record is not None:
            record.spec = replace(record.spec, label=name)
            record.name = name
            if record.stored is not None:
                record.stored.name = name
            self._window.runs_panel.update_run(record)

    @Slot(list)
    def _on_deleted(self, run_ids: list) -> None:
        records = self.records()
        gone = [records[i] for i in run_ids if i in records and records[i] is not self._window.controller.run]
        for record in gone:
            self._window.controller.checkpoints.drop(record.run_id)
        self._window.runs_panel.remove_runs(gone)

    @Slot(object)
    def _on_imported(self, stored) -> None:
        self._add(stored)
        self._link_forks()


def _import_text(options: dict) -> str:
    size = f"{options['image_size']} px images" if options["image_size"] else "images at their own size"
    photo = {False: "no", True: "yes", "auto": "auto"}.get(options["photo"], options["photo"])
    return f"{options['held_out']:.0%} held out (split seed {options['seed']}), {size}, photo mode {photo}"

