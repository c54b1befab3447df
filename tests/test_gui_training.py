"""Training from the window: each descent, pause/step/resume, stop, close mid-run, divergence,
"Compare descents", the learning rate mid-run, and the settings' effect on the run."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from gui_view_support import RUN_TIMEOUT, configure
from gui_view_support import run_in_window as train
from PySide6.QtCore import QCoreApplication, QThread

from scratchnet.data import Dataset
from scratchnet.layers import Dropout
from scratchnet.training import evaluate


def start_and_wait_for_updates(qtbot, window, click) -> None:
    click("startButton")
    qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)


def build_two_hidden_layers(click, window):
    click("addLayerButton")
    window.layer_editor.width_spin(0).setValue(64)
    window.layer_editor.width_spin(1).setValue(32)


@pytest.mark.parametrize("descent, button", [("full", "descentFull"), ("mini", "descentMini"), ("sgd", "descentSgd")])
def test_each_descent_trains_a_two_hidden_layer_network(qtbot, window, click, mnist, descent, button):
    build_two_hidden_layers(click, window)
    lr = {"full": 0.1, "mini": 0.05, "sgd": 0.005}[descent]
    configure(window, train_size=1000 if descent == "sgd" else 2000, epochs=2, lr=lr)
    click(button)
    runs_before = window.runs_panel.list.count()
    run = train(qtbot, window, click)

    assert run.status == "finished" and run.spec.config.descent == descent
    assert window.runs_panel.list.count() == runs_before + 1
    assert [d.out_features for d in window.current_model.dense_layers] == [64, 32, 10]
    expected_updates = {"full": 2, "mini": 2 * math.ceil(2000 / 64), "sgd": 2 * 1000}[descent]
    assert run.result["update"] == expected_updates
    # the plots received the per-update losses and both epochs, train and test
    x, losses = window.plots.curve_data(run.run_id, "updates")
    assert len(x) == expected_updates and (losses >= 0).all() and losses[0] > 1.0
    for key in ("loss", "test_loss", "accuracy", "test_accuracy"):
        assert len(window.plots.curve_data(run.run_id, key)[0]) == 2
    # the accuracy the window shows matches an independent evaluation of its model
    _, accuracy = evaluate(window.current_model, mnist.x_test, mnist.y_test)
    assert run.result["test_accuracy"] == pytest.approx(accuracy)
    assert f"{100 * accuracy:.2f}%" in window.runs_panel.list.item(runs_before).text()
    assert f"{100 * accuracy:.2f}%" in window.status_label.text()
    assert window.plots.curve_data(run.run_id, "test_accuracy")[1][-1] == pytest.approx(100 * accuracy)
    if descent != "full":
        assert accuracy > 0.6


def test_controls_follow_the_run_state(qtbot, window, click):
    configure(window, train_size=20_000, epochs=3, batch_size=16)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT):
        click("startButton")
        assert not window.start_button.isEnabled() and window.stop_button.isEnabled()
        assert window.pause_button.isEnabled() and not window.step_button.isEnabled()
        assert not window.training_panel.train_size_spin.isEnabled()
        assert not window.training_panel.epochs_spin.isEnabled()
        assert not window.training_panel.descent_radios["full"].isEnabled()
        assert not window.layer_editor.table.isEnabled()
        assert window.training_panel.learning_rate_spin.isEnabled()
        click("stopButton")
    assert window.start_button.isEnabled() and not window.stop_button.isEnabled()
    assert window.training_panel.train_size_spin.isEnabled() and window.layer_editor.table.isEnabled()


def test_pause_step_and_resume(qtbot, window, click):
    configure(window, train_size=5000, epochs=2, batch_size=16)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        start_and_wait_for_updates(qtbot, window, click)
        click("pauseButton")
        assert window.pause_button.text() == "Resume" and window.step_button.isEnabled()
        # the loop logs at most every 100 ms: after a longer pause, a step's log also reports the
        # updates made between the last log and the pause
        qtbot.wait(300)
        with qtbot.waitSignal(window.controller.stepped, timeout=10_000):  # not a fixed wait: a busy
            click("stepButton")  # machine could deliver the first step's log after ``before`` is read
        qtbot.wait(300)  # its batch log, queued right after the report, lands
        before = window.progress["update"]
        click("stepButton")
        qtbot.waitUntil(lambda: window.progress["update"] == before + 1, timeout=10_000)
        qtbot.wait(300)
        assert window.progress["update"] == before + 1  # still paused: exactly one update ran
        click("pauseButton")
        assert window.pause_button.text() == "Pause" and not window.step_button.isEnabled()
    run = finished.args[0]
    assert run.status == "finished" and run.result["update"] == 2 * math.ceil(5000 / 16)


def test_stop_takes_effect_mid_epoch(qtbot, window, click):
    configure(window, train_size=30_000, epochs=5, batch_size=8)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        start_and_wait_for_updates(qtbot, window, click)
        click("stopButton")
    run = finished.args[0]
    assert run.status == "stopped" and run.result["stopped"]
    assert run.result["epochs_completed"] == 0 and run.result["samples_seen"] < 30_000
    assert window.runs_panel.list.count() == 1 and "stopped" in window.runs_panel.list.item(0).text()
    assert window.current_model is not None


def test_learning_rate_changes_mid_run(qtbot, window, click):
    configure(window, train_size=3000, epochs=2, batch_size=16, lr=0.05)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        start_and_wait_for_updates(qtbot, window, click)
        window.training_panel.learning_rate_spin.setValue(0.01)
    assert finished.args[0].epochs[-1]["lr"] == pytest.approx(0.01)


def test_closing_the_window_mid_run_stops_the_worker(qtbot, window, click):
    configure(window, train_size=60_000, epochs=5, batch_size=8)
    start_and_wait_for_updates(qtbot, window, click)
    thread = window.controller.training_thread
    assert isinstance(thread, QThread) and thread.isRunning()
    window.close()
    assert not thread.isRunning()
    qtbot.wait(200)  # let the queued reports and deletions run: nothing may crash


def test_closing_waits_a_bounded_time_for_a_worker_that_does_not_stop_at_once(qtbot, window, click, monkeypatch):
    """The worker notices the stop request only 1.5 s after it is made (one long step, a slow
    disk): closing gives it 0.3 s, returns, and the thread ends on its own afterwards."""
    import gui.worker
    from gui import run_controller

    real_train, late_s, noticed = gui.worker.train, 1.5, []

    def late_to_stop(*args, control, **kwargs):
        for log in real_train(*args, control=control, **kwargs):
            if control.stop_requested and not noticed:
                time.sleep(late_s)
                noticed.append(log["event"])
            yield log

    monkeypatch.setattr(gui.worker, "train", late_to_stop)
    monkeypatch.setattr(run_controller, "CLOSE_WAIT_MS", 300)
    configure(window, train_size=60_000, epochs=5, batch_size=8)
    start_and_wait_for_updates(qtbot, window, click)
    thread = window.controller.training_thread
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 1.0  # not the 1.5 s the worker takes to stop
    assert not window.isVisible()
    assert thread.isRunning() and thread.parent() is QCoreApplication.instance()  # released, still running
    qtbot.waitUntil(lambda: bool(noticed) and not _running(thread), timeout=10_000)
    assert time.perf_counter() - started >= late_s
    qtbot.wait(200)  # the late reports reach a closed window: nothing may crash


LATE_WORKER_APP = """
import sys, time
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication
import gui.worker
from gui import app as gui_app, run_controller

real_train = gui.worker.train

def late_to_stop(*args, control, **kwargs):
    for log in real_train(*args, control=control, **kwargs):
        if control.stop_requested:
            time.sleep(1.5)  # one long step after the stop request
            print("worker noticed the stop", flush=True)
            return
        yield log

def counting_wait(deadline):
    print("threads left running", len(QApplication.instance().findChildren(QThread)), flush=True)
    return real_wait(deadline)

gui.worker.train = late_to_stop
real_wait, gui_app.wait_for_released_threads = gui_app.wait_for_released_threads, counting_wait
run_controller.CLOSE_WAIT_MS = 200
app = QApplication([])

def start_then_quit():
    w = next(w for w in QApplication.topLevelWidgets() if w.windowTitle() == "scratchnet")
    if w.dataset is None:
        QTimer.singleShot(50, start_then_quit)
        return
    w.training_panel.epochs_spin.setValue(50)
    w.start_training()
    QTimer.singleShot(500, app.quit)

QTimer.singleShot(100, start_then_quit)
code = gui_app.run_app([])
print("exit", code, flush=True)
"""


def test_the_app_exits_cleanly_after_a_late_worker_stops(tmp_path):
    """run_app: the window closes without waiting for the late worker, and the process waits for
    that thread before Qt tears down (a running QThread destroyed at exit aborts the process)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(root), "XDG_CONFIG_HOME": str(tmp_path),
           "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", LATE_WORKER_APP], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # the window closed with the thread still running, then the process waited for it
    assert done.stdout.splitlines()[-3:] == ["threads left running 1", "worker noticed the stop", "exit 0"]
    assert "Destroyed while thread" not in done.stderr


def _running(thread: QThread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # deleted after it finished
        return False


def test_divergence_is_shown_and_the_window_stays_usable(qtbot, mnist):
    """Images holding inf make the very first loss non-finite: the loop raises TrainingDiverged."""
    from gui.main_window import MainWindow

    poisoned = Dataset(
        "poisoned", np.full_like(mnist.x_train[:500], np.inf), mnist.y_train[:500], mnist.x_test[:100],
        mnist.y_test[:100], list(mnist.class_names),
    )
    window = MainWindow(dataset_loader=lambda name: poisoned if name == "mnist" else mnist)
    qtbot.addWidget(window)
    window.show()
    configure(window, train_size=500, epochs=1)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        window.start_button.click()
    run = finished.args[0]
    assert run.status == "diverged" and "diverged" in run.error and run.diverged_at == 1
    assert window.error_label.isVisible() and "diverged" in window.error_label.text()
    # kept in the runs list (its curve has no finite loss: the very first was not finite)
    assert window.runs_panel.list.count() == 1 and "DIVERGED at update 1" in window.runs_panel.list.item(0).text()
    assert len(window.plots.curve_data(run.run_id, "updates")[0]) == 0 and window.start_button.isEnabled()
    # the window stays usable: another data set trains normally and clears the error
    window.training_panel.select_dataset("clean")
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        window.start_button.click()
    assert finished.args[0].status == "finished" and not window.error_label.isVisible()
    window.close()


def test_compare_descents_overlays_three_runs_from_the_same_seed(qtbot, window, click):
    configure(window, train_size=600, epochs=2, lr=0.05)
    window.training_panel.optimizer_combo.setCurrentIndex(window.training_panel.optimizer_combo.findData("sgd"))
    window.layer_editor.seed_spin.setValue(3)
    run = train(qtbot, window, click, button="compareButton")
    runs = window.runs
    assert [r.spec.config.descent for r in runs] == ["full", "mini", "sgd"]
    assert {r.spec.config.seed for r in runs} == {3} and run is runs[-1]
    assert {r.run_id for r in window.runs_panel.selected_runs()} == {r.run_id for r in runs}
    assert {r.run_id for r in window.plots.runs} == {r.run_id for r in runs}
    # x in samples seen: every run ends at 2 x 600 samples, after 2, 20 and 1200 updates
    assert window.runs_panel.x_axis_combo.currentData() == "samples"
    for r, updates in zip(runs, (2, 20, 1200), strict=True):
        x, _ = window.plots.curve_data(r.run_id, "updates")
        assert len(x) == updates and x[-1] == pytest.approx(1200)
        assert window.plots.curve_data(r.run_id, "test_accuracy")[0][-1] == 1200
    # per sample, stochastic descent is far ahead of full batch
    assert runs[2].final_test_accuracy > runs[0].final_test_accuracy


def test_x_axis_switches_between_epochs_samples_and_seconds(qtbot, window, click):
    configure(window, train_size=1000, epochs=2)
    run = train(qtbot, window, click)
    combo = window.runs_panel.x_axis_combo
    expected_last = {"epochs": 2.0, "samples": 2000.0, "seconds": sum(e["seconds"] for e in run.epochs)}
    for unit, last in expected_last.items():
        combo.setCurrentIndex(combo.findData(unit))
        for key in ("updates", "test_accuracy", "loss"):
            x, _ = window.plots.curve_data(run.run_id, key)
            assert x[-1] == pytest.approx(last, rel=1e-6 if unit != "seconds" else 0.05)
        assert window.plots.loss_plot.getPlotItem().getAxis("bottom").labelText == combo.currentText()


@pytest.mark.parametrize(
    "change, observe",
    [
        (lambda w: w.layer_editor.seed_spin.setValue(5), lambda r: r.epochs[0]["loss"]),
        (lambda w: w.layer_editor.init_combo.setCurrentIndex(w.layer_editor.init_combo.findData("normal")),
         lambda r: r.epochs[0]["loss"]),
        (lambda w: w.layer_editor.dropout_spin.setValue(0.3), lambda r: r.epochs[0]["loss"]),
        (lambda w: w.training_panel.momentum_spin.setValue(0.5), lambda r: r.epochs[0]["loss"]),
        (lambda w: w.training_panel.weight_decay_spin.setValue(0.01), lambda r: r.epochs[0]["loss"]),
        (lambda w: w.training_panel.optimizer_combo.setCurrentIndex(w.training_panel.optimizer_combo.findData("adam")),
         lambda r: r.epochs[0]["loss"]),
        (lambda w: w.training_panel.schedule_combo.setCurrentIndex(w.training_panel.schedule_combo.findData("step")),
         lambda r: [e["lr"] for e in r.epochs]),
        (lambda w: w.training_panel.batch_size_spin.setValue(20), lambda r: r.result["update"]),
        (lambda w: w.training_panel.train_size_spin.setValue(400), lambda r: r.n_train),
        (lambda w: w.training_panel.epochs_spin.setValue(3), lambda r: len(r.epochs)),
        (lambda w: w.layer_editor.activation_combo(0).setCurrentIndex(2), lambda r: r.epochs[0]["loss"]),
    ],
    ids=["seed", "init", "dropout", "momentum", "weight_decay", "optimizer", "schedule", "batch_size",
         "train_size", "epochs", "activation"],
)
def test_each_setting_changes_the_run(qtbot, window, click, change, observe):
    configure(window, train_size=300, epochs=2, batch_size=32)
    baseline = observe(train(qtbot, window, click))
    change(window)
    changed_run = train(qtbot, window, click)
    assert observe(changed_run) != baseline
    if window.layer_editor.dropout_spin.value() > 0:
        assert any(isinstance(layer, Dropout) for layer in window.current_model.layers)


def test_stop_in_full_batch_mode_ends_within_one_step(qtbot, window, click):
    configure(window, descent="full", train_size=60_000, epochs=50, lr=0.1)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        click("startButton")
        qtbot.waitUntil(lambda: window.progress.get("update", 0) >= 1, timeout=30_000)
        click("stopButton")
    run = finished.args[0]
    assert run.status == "stopped" and 1 <= run.result["update"] < 50
