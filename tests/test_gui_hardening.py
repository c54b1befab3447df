"""Rough handling of the window: what was tried, grouped by kind.

- TestRapidStartStop: 50 start/stop cycles (stop at once, after a few events, after the first
  updates, while paused), double starts; threads back to the baseline and a full run afterwards.
- TestCloseMidRun: closing during full, mini and SGD runs, and mid-step in full batch, in this
  process and in a subprocess that would abort on "QThread: Destroyed while thread is still running".
- TestModelFilesInTheWindow: opening a model while training; opening each kind of malformed file
  (the model and every view stay untouched); metadata that lies; saving where it cannot be written.
- TestDatasetChangesDuringTraining: the data controls are locked during a run; a change made anyway
  takes effect for the next run only.
- TestInvalidSettingsInTheWindow: every numeric widget's range, junk typed into spin boxes, and
  the combinations the panel disables.
- TestDivergenceInTheWindow: a learning rate that diverges, and lr 10 with every optimiser: a clear
  message, finite weights, and a window that trains again.
- TestLongRunMemory: 30 epochs with live plots keep the process RSS flat.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QFileDialog, QMessageBox, QSpinBox

from gui.settings import RunSpec
from scratchnet.data import Dataset
from scratchnet.errors import DatasetError
from scratchnet.optimizers import OPTIMIZER_NAMES
from scratchnet.run_config import RunConfig, hidden_layers
from scratchnet.serialization import CONFIG_KEY, load_model_file, save_model

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 90_000
CLOSE_LIMIT_S = 3.0


def configure(window, *, descent="mini", train_size=2000, epochs=1, batch_size=64, lr=None, optimizer=None):
    panel = window.training_panel
    panel.descent_radios[descent].setChecked(True)
    panel.train_size_spin.setValue(train_size)
    panel.batch_size_spin.setValue(batch_size)
    panel.epochs_spin.setValue(epochs)
    if optimizer is not None:
        panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData(optimizer))
    if lr is not None:
        panel.learning_rate_spin.setValue(lr)


def run_to_the_end(qtbot, window, click):
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        click("startButton")
    return finished.args[0]


def flush_deletions() -> None:
    """Run the pending deleteLater calls, so finished threads are really gone."""
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
        QCoreApplication.processEvents()


def live_qthreads(window) -> int:
    flush_deletions()
    return len(window.findChildren(QThread))


def os_thread_count() -> int:
    """Threads of this process as the kernel sees them (Qt's and BLAS's included)."""
    return len(os.listdir("/proc/self/task"))


def weights_of(model) -> dict[str, np.ndarray]:
    return {name: value.copy() for name, value in model.parameters().items()}


def assert_same_weights(model, expected: dict[str, np.ndarray]) -> None:
    actual = model.parameters()
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


def assert_finite(model) -> None:
    for name, value in model.parameters().items():
        assert np.isfinite(value).all(), name


def view_context_model(window):
    return window.findChild(QObject, "viewRefresher").context.model


def make_window(qtbot, datasets: dict[str, Dataset]):
    """A shown MainWindow whose data sets come from ``datasets`` (other names fail)."""
    from gui.main_window import MainWindow

    def loader(name: str) -> Dataset:
        if name in datasets:
            return datasets[name]
        raise DatasetError(f"{name}: not available in tests")

    window = MainWindow(dataset_loader=loader)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=10_000)
    return window


class TestRapidStartStop:
    CYCLES = 50

    def start_and_stop(self, qtbot, window, click, cycle: int) -> str:
        with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
            click("startButton")
            if cycle % 3 == 1:
                qtbot.wait(5)  # a few events: the worker is loading or making its first updates
            elif cycle % 3 == 2:
                qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)
            click("stopButton")
        assert not window.is_running and window.start_button.isEnabled()
        return finished.args[0].status

    def test_fifty_start_stop_cycles_leave_no_thread_behind(self, qtbot, window, click):
        configure(window, train_size=3000, epochs=3, batch_size=32)
        # one cycle first: BLAS starts its pool and Python registers a (reused) dummy entry for
        # the first QThread that runs Python code; neither is a leak
        self.start_and_stop(qtbot, window, click, 2)
        baseline = (threading.active_count(), os_thread_count(), live_qthreads(window))
        statuses = [self.start_and_stop(qtbot, window, click, cycle) for cycle in range(self.CYCLES)]
        # a stop always wins: no cycle may run its 3 epochs to the end
        assert set(statuses) == {"stopped"}, statuses
        assert window.runs_panel.list.count() == self.CYCLES + 1
        assert (threading.active_count(), os_thread_count(), live_qthreads(window)) == baseline
        # still usable: a full run completes and learns
        configure(window, train_size=2000, epochs=1)
        run = run_to_the_end(qtbot, window, click)
        assert run.status == "finished" and run.final_test_accuracy > 0.6

    def test_stop_while_paused_ends_the_run(self, qtbot, window, click):
        configure(window, train_size=20_000, epochs=3, batch_size=16)
        with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
            click("startButton")
            qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)
            click("pauseButton")
            qtbot.wait(200)
            click("stopButton")
        assert finished.args[0].status == "stopped" and not window.is_running
        assert window.pause_button.text() == "Pause" and not window.step_button.isEnabled()

    def test_a_second_start_while_running_is_ignored(self, qtbot, window, click):
        configure(window, train_size=2000, epochs=2)
        runs_before = window.runs_panel.list.count()
        with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
            click("startButton")
            thread = window.controller.training_thread
            window.start_training()  # e.g. the Ctrl+Return shortcut pressed twice
            window.compare_descents()
            assert window.controller.training_thread is thread
        assert finished.args[0].status == "finished"
        assert window.runs_panel.list.count() == runs_before + 1

    def test_stop_and_pause_when_idle_do_nothing(self, window, click):
        window.stop_training()
        window.toggle_pause()
        window.step_once()
        assert not window.is_running and window.pause_button.text() == "Pause"


class TestCloseMidRun:
    @pytest.mark.parametrize("descent", ["full", "mini", "sgd"])
    def test_close_during_each_descent(self, qtbot, window, click, descent):
        configure(window, descent=descent, train_size=60_000 if descent != "sgd" else 20_000, epochs=50,
                  batch_size=16, lr=0.01)
        click("startButton")
        qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=60_000)
        thread = window.controller.training_thread
        started = time.perf_counter()
        window.close()
        assert time.perf_counter() - started < CLOSE_LIMIT_S
        assert not thread.isRunning()
        qtbot.wait(200)  # the queued reports and deletions run: nothing may crash

    def test_close_in_full_batch_mid_step(self, qtbot, window, click):
        """One full-batch step of a 1024-wide network over 60,000 images takes seconds; the close
        must not wait for it (the loop checks the stop between chunks of 4096 rows)."""
        window.layer_editor.width_spin(0).setValue(1024)
        configure(window, descent="full", train_size=60_000, epochs=5, lr=0.1)
        click("startButton")
        controller = window.controller
        qtbot.waitUntil(lambda: controller.run is not None and controller.run.n_train > 0, timeout=30_000)
        qtbot.wait(300)
        assert window.progress.get("update", 0) == 0  # still inside the first step
        thread = window.controller.training_thread
        started = time.perf_counter()
        window.close()
        assert time.perf_counter() - started < CLOSE_LIMIT_S
        assert not thread.isRunning()
        qtbot.wait(200)

    def test_close_then_destroy_in_a_fresh_process(self, tmp_path):
        """Qt aborts the process if a QThread object dies while running: this can only be seen
        from outside. Each descent, full batch mid-step, "Compare descents" and a data set still
        loading: the window is closed, then destroyed."""
        script = tmp_path / "close_mid_run.py"
        script.write_text(textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(ROOT)!r})
            from PySide6.QtCore import QCoreApplication, QEvent
            from PySide6.QtWidgets import QApplication
            from gui.main_window import MainWindow

            app = QApplication([])

            def wait_until(condition, seconds=60):
                deadline = time.perf_counter() + seconds
                while not condition():
                    app.processEvents()
                    time.sleep(0.005)
                    assert time.perf_counter() < deadline

            # (what is running, descent, first hidden width, when to close)
            scenarios = [("full", "full", 128, "update"), ("mini", "mini", 128, "update"),
                         ("sgd", "sgd", 128, "update"), ("full-mid-step", "full", 1024, "mid-step"),
                         ("compare", "mini", 128, "update"), ("loading", "mini", 128, "loading")]
            for label, descent, width, moment in scenarios:
                window = MainWindow()
                window.show()
                if moment != "loading":  # else: close while the data set loads in its thread
                    wait_until(lambda: window.dataset is not None)
                    window.layer_editor.width_spin(0).setValue(width)
                    panel = window.training_panel
                    panel.descent_radios[descent].setChecked(True)
                    panel.train_size_spin.setValue(60000 if descent != "sgd" else 20000)
                    panel.epochs_spin.setValue(50)
                    window.compare_descents() if label == "compare" else window.start_training()
                if moment == "update":
                    wait_until(lambda: window.progress.get("update", 0) > 0)
                elif moment == "mid-step":
                    wait_until(lambda: window.controller.run.n_train > 0)
                    time.sleep(0.3)
                started = time.perf_counter()
                window.close()
                print(label, f"closed in {{time.perf_counter() - started:.2f}} s", flush=True)
                window.deleteLater()
                QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
                app.processEvents()
            print("all closed", flush=True)
            # as gui/app.py does before exiting: a thread a close released (a long full-batch
            # step, a data set still loading) may end on its own first
            from PySide6.QtCore import QDeadlineTimer
            from gui.threads import wait_for_released_threads
            assert wait_for_released_threads(QDeadlineTimer(60_000))
        """))
        # settings a window may store go to the temporary folder, not the user's
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path),
               "HOME": str(tmp_path)}
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                                timeout=300, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        assert "all closed" in result.stdout
        assert "QThread" not in result.stderr and "Traceback" not in result.stderr, result.stderr
        seconds = [float(line.split()[-2]) for line in result.stdout.splitlines() if "closed in" in line]
        assert len(seconds) == 6 and max(seconds) < CLOSE_LIMIT_S, result.stdout


def _npz_bytes(arrays: dict, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _config_bytes(model, metadata: dict | None = None) -> np.ndarray:
    document = {"format": "scratchnet-model", "version": 1, "model": model.get_config(), "metadata": metadata or {}}
    return np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)


def _with_weight(model, name: str, value) -> bytes:
    state = model.state_dict()
    state[name] = value
    return _npz_bytes({CONFIG_KEY: _config_bytes(model), **state})


def _nan_weights(model) -> bytes:
    w = model.state_dict()["0.W"].copy()
    w[3, 5] = np.nan
    return _with_weight(model, "0.W", w)


MALFORMED_FILES = {
    "not a zip": (lambda model: b"this is a text file, not a model\n" * 10, "not a .npz"),
    "empty": (lambda model: b"", "not a .npz"),
    "no config": (lambda model: _npz_bytes(model.state_dict()), "no __config__"),
    "config not JSON": (lambda model: _npz_bytes({CONFIG_KEY: np.frombuffer(b"{oops", np.uint8),
                                                  **model.state_dict()}), "not valid JSON"),
    "NaN weights": (_nan_weights, "NaN"),
    "wrong shape": (lambda model: _with_weight(model, "0.W", np.zeros((784, 7), np.float32)), "shape"),
    "missing weight": (lambda model: _npz_bytes({CONFIG_KEY: _config_bytes(model),
                                                 **{k: v for k, v in model.state_dict().items() if k != "2.b"}}),
                       "missing"),
    "pickled objects": (lambda model: _with_weight(model, "0.W", np.array([{"evil": 1}], dtype=object)), "pickle"),
    "truncated": (None, ""),
}


class TestModelFilesInTheWindow:
    @pytest.fixture
    def trained(self, qtbot, window, click):
        """The window after a short run: its model, weights and settings."""
        configure(window, train_size=500, epochs=1)
        run_to_the_end(qtbot, window, click)
        model = window.current_model
        qtbot.waitUntil(lambda: view_context_model(window) is model, timeout=5000)
        return model, weights_of(model), window.layer_editor.values(), window.training_panel.values()

    @staticmethod
    def open_through_the_menu(window, monkeypatch, path) -> None:
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
        window.open_action.trigger()

    @pytest.mark.parametrize("kind", list(MALFORMED_FILES))
    def test_a_malformed_file_is_reported_and_changes_nothing(self, window, trained, monkeypatch, tmp_path, kind):
        model, weights, network, training = trained
        path = tmp_path / "bad.npz"
        make, expected_message = MALFORMED_FILES[kind]
        if make is None:
            save_model(model, path)
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        else:
            path.write_bytes(make(model))
        self.open_through_the_menu(window, monkeypatch, path)
        assert window.error_label.isVisible() and "bad.npz" in window.error_label.text()
        assert expected_message in window.error_label.text()
        assert window.current_model is model and view_context_model(window) is model
        assert_same_weights(model, weights)
        assert window.layer_editor.values() == network and window.training_panel.values() == training
        # and the window still trains
        assert window.start_button.isEnabled()

    def test_metadata_that_lies_falls_back_to_the_weights(self, qtbot, window, trained, monkeypatch, tmp_path):
        """Valid weights, but metadata naming other widths, an unknown activation, a descent that
        does not exist and a negative learning rate: the model opens, the editor shows the
        architecture of the weights, the training settings stay as they were."""
        model, weights, _network, training = trained
        metadata = {
            "network": {"hidden": [{"width": 999, "activation": "swish"}], "init": "he", "dropout": 0.0, "seed": 0},
            "training": {"descent": "teleport", "learning_rate": -1.0, "dataset": "mnist"},
        }
        path = tmp_path / "lying.npz"
        save_model(model, path, metadata)
        with qtbot.waitSignal(window.model_changed, timeout=2000):
            self.open_through_the_menu(window, monkeypatch, path)
        assert not window.error_label.isVisible()
        assert_same_weights(window.current_model, weights)
        widths = [dense.out_features for dense in model.dense_layers[:-1]]
        assert [h.width for h in window.run_config().hidden] == widths
        assert window.training_panel.values() == training
        assert "Test accuracy" in window.status_label.text()

    def test_metadata_of_the_wrong_types_falls_back(self, qtbot, window, trained, monkeypatch, tmp_path):
        model, weights, _network, training = trained
        path = tmp_path / "typed.npz"
        save_model(model, path, {"network": "128 relu", "training": {"epochs": "five", "batch_size": 6.5}})
        with qtbot.waitSignal(window.model_changed, timeout=2000):
            self.open_through_the_menu(window, monkeypatch, path)
        assert_same_weights(window.current_model, weights)
        assert window.training_panel.values() == training

    def test_opening_a_model_during_training_is_refused(self, qtbot, window, trained, click, monkeypatch, tmp_path):
        model, weights, _network, _training = trained
        other = tmp_path / "other.npz"
        save_model(model, other, {})
        configure(window, train_size=20_000, epochs=2, batch_size=32)
        with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
            click("startButton")
            qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)
            assert not window.open_action.isEnabled()  # the menu item and Ctrl+O are off
            window.files.report_errors(window.files.open_model_from, str(other))  # any other way in is refused
            assert "stop it before opening a model" in window.error_label.text()
        run = finished.args[0]
        assert run.status == "finished" and run.final_test_accuracy > 0.8
        assert window.current_model is not model
        assert_same_weights(model, weights)  # the earlier model was not trained further either
        assert window.open_action.isEnabled()

    def test_saving_where_it_cannot_be_written_keeps_the_previous_file(self, window, trained, monkeypatch,
                                                                        tmp_path):
        path = tmp_path / "kept.npz"
        window.files.save_model_to(str(path))
        before = path.read_bytes()

        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(np, "savez", disk_full)
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
        offers = []
        monkeypatch.setattr(QMessageBox, "question",
                            lambda *a, **k: offers.append(a[2]) or QMessageBox.StandardButton.No)
        window.save_action.trigger()
        assert offers and "the disk is full" in offers[-1] and "somewhere else" in offers[-1]
        assert window.error_label.isVisible()
        assert f"cannot save to {path}: the disk is full" in window.error_label.text()
        assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["kept.npz"]

        missing_folder = tmp_path / "no such folder" / "m.npz"
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(missing_folder), ""))
        window.save_action.trigger()
        assert "does not exist" in window.error_label.text() and not missing_folder.exists()
        assert_same_weights(load_model_file(path).model, trained[1])


class TestDatasetChangesDuringTraining:
    def test_data_controls_are_locked_while_a_run_trains(self, qtbot, window, click):
        configure(window, train_size=20_000, epochs=2, batch_size=32)
        panel = window.training_panel
        with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT):
            click("startButton")
            assert not panel.dataset_combo.isEnabled() and not panel.open_folder_button.isEnabled()
            assert not panel.train_size_spin.isEnabled()
            click("stopButton")
        assert panel.dataset_combo.isEnabled() and panel.open_folder_button.isEnabled()

    def test_a_change_made_anyway_applies_to_the_next_run(self, qtbot, mnist):
        """A data set chosen during a run (by code: the widgets are locked) loads, but the run
        keeps training on its own data and the next run uses the new one."""
        tiny = Dataset("tiny", mnist.x_train[:300].copy(), mnist.y_train[:300].copy(), mnist.x_test[:200].copy(),
                       mnist.y_test[:200].copy(), list(mnist.class_names))
        window = make_window(qtbot, {"mnist": mnist, "tiny": tiny})
        configure(window, train_size=10_000, epochs=2, batch_size=32)
        with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
            window.start_button.click()
            qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)
            window.training_panel.select_dataset("tiny")
            qtbot.waitUntil(lambda: window.dataset is tiny, timeout=10_000)
        run = finished.args[0]
        assert run.status == "finished" and run.n_train == 10_000
        assert run.result["samples_seen"] == 20_000
        assert window.training_panel.train_size_spin.maximum() == 300
        with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
            window.start_button.click()
        assert finished.args[0].status == "finished" and finished.args[0].n_train == 300
        window.close()

    def test_a_data_set_that_fails_to_load_is_explained(self, qtbot, window):
        window.training_panel.select_dataset("fashion-mnist")
        qtbot.waitUntil(lambda: "Cannot load fashion-mnist" in window.training_panel.note_label.text(),
                        timeout=10_000)
        assert window.dataset.name == "mnist" and window.start_button.isEnabled()


def _all_spin_boxes(window) -> list[QAbstractSpinBox]:
    return window.findChildren(QSpinBox) + window.findChildren(QDoubleSpinBox)


class TestInvalidSettingsInTheWindow:
    def test_ranges_make_invalid_values_impossible(self, window):
        panel, editor = window.training_panel, window.layer_editor
        assert (editor.width_spin(0).minimum(), editor.width_spin(0).maximum()) == (1, 4096)
        assert panel.batch_size_spin.minimum() == 1
        assert panel.learning_rate_spin.minimum() > 0
        assert panel.epochs_spin.minimum() == 1
        assert panel.train_size_spin.minimum() == 1 and panel.train_size_spin.maximum() == 60_000
        assert editor.dropout_spin.minimum() == 0 and editor.dropout_spin.maximum() < 1
        assert panel.momentum_spin.minimum() == 0 and panel.momentum_spin.maximum() < 1
        assert panel.weight_decay_spin.minimum() == 0
        # out-of-range values set by code are clamped into range
        for spin, absurd in ((editor.width_spin(0), 10**6), (editor.width_spin(0), -3), (panel.epochs_spin, 0),
                             (panel.learning_rate_spin, -1.0), (panel.learning_rate_spin, 0.0),
                             (editor.dropout_spin, 1.0), (panel.momentum_spin, 1.5),
                             (panel.weight_decay_spin, -0.5)):
            spin.setValue(absurd)
            assert spin.minimum() <= spin.value() <= spin.maximum()
        assert panel.learning_rate_spin.value() > 0 and editor.dropout_spin.value() < 1

    def test_batch_size_never_exceeds_the_training_subset(self, window):
        panel = window.training_panel
        panel.descent_radios["mini"].setChecked(True)
        panel.batch_size_spin.setValue(512)
        panel.train_size_spin.setValue(100)
        assert panel.batch_size_spin.maximum() == 100 and panel.batch_size_spin.value() == 100
        assert window.run_config().train_config().batch_size_for(100) == 100

    @pytest.mark.parametrize("typed, kept", [("abc", True), ("nan", True), ("   ", True), ("!!", True),
                                             ("-5", False), ("0", False), ("1e400", False), ("99999999", False)])
    def test_junk_typed_into_any_spin_box_leaves_a_valid_value(self, qtbot, window, typed, kept):
        """Every spin box of the window, selected and overtyped, then Enter and focus lost: the
        validator drops what cannot be part of a number (``kept``: nothing of it can), and
        what is left is clamped into range."""
        spins = _all_spin_boxes(window)
        assert len(spins) >= 9
        for spin in spins:
            if not spin.isEnabled():
                continue
            before = spin.value()
            spin.lineEdit().selectAll()
            qtbot.keyClicks(spin.lineEdit(), typed)
            qtbot.keyClick(spin.lineEdit(), Qt.Key_Return)
            spin.clearFocus()
            assert spin.minimum() <= spin.value() <= spin.maximum(), spin.objectName()
            assert spin.value() == before or not kept, (spin.objectName(), spin.value())
        # and the settings still make a valid run
        window.run_config().train_config()

    def test_combinations_that_do_not_apply_are_disabled_and_explained(self, window, click):
        panel = window.training_panel
        panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
        assert not panel.momentum_spin.isEnabled() and "Momentum and Nesterov only" in panel.momentum_spin.toolTip()
        for name in ("momentum", "nesterov"):
            panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData(name))
            assert panel.momentum_spin.isEnabled()
        for descent, radio in (("full", "descentFull"), ("sgd", "descentSgd")):
            click(radio)
            assert not panel.batch_size_spin.isEnabled() and window.run_config().descent == descent
        click("descentFull")
        panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
        assert "one update per epoch" in panel.note_label.text()
        click("descentSgd")
        panel.train_size_spin.setValue(60_000)
        assert "Stochastic descent" in panel.note_label.text()
        click("descentMini")
        assert panel.batch_size_spin.isEnabled()


class TestDivergenceInTheWindow:
    def test_a_diverging_learning_rate_is_explained_and_the_model_stays_finite(self, qtbot, window, click):
        """Two 256-wide layers, one-sample steps at the largest learning rate the widget allows
        (10): the loss becomes NaN within a few updates."""
        configure(window, train_size=1000, epochs=1)
        first = run_to_the_end(qtbot, window, click)
        before = window.current_model
        window.layer_editor.set_config(RunConfig(hidden=hidden_layers(256, 256)))
        panel = window.training_panel
        configure(window, descent="sgd", train_size=300, epochs=1, optimizer="sgd",
                  lr=panel.learning_rate_spin.maximum())
        assert panel.learning_rate_spin.value() == 10.0
        run = run_to_the_end(qtbot, window, click)
        assert run.status == "diverged"
        message = window.error_label.text()
        assert window.error_label.isVisible() and "diverged" in message
        assert "smaller learning rate" in message and "Adam" in message  # what happened, what to try
        # the views show the diverged run's last finite weights (issue 13), not the previous model
        assert window.current_model is not before and first.status == "finished"
        assert window.controller.model_run is run
        assert_finite(window.current_model)
        assert window.runs_panel.list.count() == 2 and "DIVERGED" in window.runs_panel.list.item(1).text()
        # usable: a sane rate trains the same network again
        panel.learning_rate_spin.setValue(0.005)
        run = run_to_the_end(qtbot, window, click)
        assert run.status == "finished" and not window.error_label.isVisible()
        assert_finite(window.current_model) and run.final_test_accuracy > 0.5

    def test_the_worker_never_sends_a_copy_of_overflowed_weights(self, mnist, monkeypatch):
        """Weights can overflow on the update after a batch log's last finite loss; the loop
        only sees it at the next loss. With a log and a copy after every update, no copy the
        window would show may hold NaN or inf."""
        from gui import worker as gui_worker
        from gui.datasets import DatasetCache
        from scratchnet.control import TrainingControl

        monkeypatch.setattr(gui_worker, "SNAPSHOT_INTERVAL", 0.0)
        monkeypatch.setattr(gui_worker, "BATCH_LOG_INTERVAL", 0.0)
        spec = RunSpec(RunConfig(hidden=hidden_layers(256, 256), descent="sgd", optimizer="sgd", learning_rate=10.0,
                                 epochs=1, train_size=300))
        worker = gui_worker.TrainingWorker(spec, TrainingControl(), DatasetCache(lambda name: mnist))
        copies, divergences = [], []
        worker.batch_logged.connect(lambda log: copies.append(log.get("model")))
        worker.diverged.connect(divergences.append)
        with np.errstate(all="ignore"):
            worker.run()  # in this thread: the signals reach the lambdas directly
        assert divergences and "diverged" in divergences[0]["message"]
        copies = [model for model in copies if model is not None]
        assert_finite(divergences[0]["model"])  # the last finite weights, which the views show
        assert len(copies) >= 3
        for model in copies:
            assert_finite(model)

    @pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
    def test_learning_rate_10_never_leaves_nan_in_the_window(self, qtbot, window, click, optimizer):
        """Each optimiser at lr 10 (momentum once gave a finite training loss but NaN test loss):
        either the run ends with finite numbers, or it fails with the divergence message; the
        model the window shows is finite either way."""
        configure(window, train_size=3000, epochs=2, batch_size=32, optimizer=optimizer, lr=10.0)
        run = run_to_the_end(qtbot, window, click)
        if run.status == "diverged":
            assert "diverged" in window.error_label.text() and "smaller learning rate" in window.error_label.text()
        else:
            assert run.status == "finished" and np.isfinite(run.result["test_loss"])
            assert all(np.isfinite(epoch["test_loss"]) for epoch in run.epochs)
        if window.current_model is not None:
            assert_finite(window.current_model)
        assert window.start_button.isEnabled()


def _memory_benchmark():
    spec = importlib.util.spec_from_file_location("memory_long_run", ROOT / "benchmarks" / "memory_long_run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


class TestLongRunMemory:
    def test_thirty_epochs_with_live_plots_keep_memory_flat(self, window):
        """The light variant of benchmarks/memory_long_run.py (the full-size figure is in its output)."""
        memory = _memory_benchmark()
        figures = memory.measure_long_run(window, train_size=2000, epochs=30, batch_size=32, timeout_s=120)
        assert figures.growth < 50 * memory.MB, figures.report()
        assert len(window.runs) == 1 and window.runs[0].status == "finished"
