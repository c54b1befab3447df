"""Menus, shortcuts, the runs list, and the model the window exposes to other views."""

from __future__ import annotations

import csv
import tracemalloc

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui.run_record import RunRecord
from gui.settings import RunSpec
from scratchnet.run_config import HiddenLayer, RunConfig
from scratchnet.serialization import load_model_file, save_model

RUN_TIMEOUT = 60_000


def quick_run(qtbot, window, click, train_size=500, epochs=1):
    window.training_panel.train_size_spin.setValue(train_size)
    window.training_panel.epochs_spin.setValue(epochs)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        click("startButton")
    return finished.args[0]


def patch_dialog(monkeypatch, method: str, path) -> None:
    monkeypatch.setattr(QFileDialog, method, lambda *args, **kwargs: (str(path), ""))


def test_save_and_open_model_through_the_file_menu(qtbot, window, click, monkeypatch, tmp_path):
    click("addLayerButton")
    window.layer_editor.width_spin(1).setValue(40)
    window.layer_editor.seed_spin.setValue(11)
    window.training_panel.learning_rate_spin.setValue(0.02)
    quick_run(qtbot, window, click)
    trained = window.current_model
    path = tmp_path / "net.npz"
    patch_dialog(monkeypatch, "getSaveFileName", path)
    window.save_action.trigger()
    metadata = load_model_file(path).metadata
    assert metadata["dataset"] == "mnist" and metadata["class_names"][3] == "3"
    assert RunConfig.from_dict(metadata["run"]) == window.run_config()
    assert RunConfig.from_dict(metadata["run"]).learning_rate == 0.02

    # edit everything away, then open the file: the editor and panel follow, the model is the saved one
    window.layer_editor.table.selectRow(0)
    click("removeLayerButton")
    window.layer_editor.seed_spin.setValue(0)
    window.training_panel.learning_rate_spin.setValue(0.3)
    patch_dialog(monkeypatch, "getOpenFileName", path)
    with qtbot.waitSignal(window.model_changed, timeout=1000):
        window.open_action.trigger()
    assert [h.width for h in window.run_config().hidden] == [128, 40]
    assert window.layer_editor.seed_spin.value() == 11
    assert window.training_panel.learning_rate_spin.value() == 0.02
    x = window.dataset.x_test[:200]
    np.testing.assert_array_equal(window.current_model.predict(x), trained.predict(x))
    assert "Test accuracy" in window.status_label.text()


def test_a_model_file_saved_by_the_previous_version_opens_with_its_settings(qtbot, window, monkeypatch, tmp_path):
    """Model files saved until now carry "network" and "training" objects instead of "run"."""
    config = RunConfig(hidden=(HiddenLayer(64, "tanh"), HiddenLayer(32, "sigmoid")), seed=4)
    path = tmp_path / "old.npz"
    save_model(config.build_model(784, 10), path, {
        "network": {"hidden": [{"width": 64, "activation": "tanh"}, {"width": 32, "activation": "sigmoid"}],
                    "init": "xavier", "dropout": 0.0, "seed": 4},
        "training": {"descent": "sgd", "batch_size": 64, "optimizer": "adam", "learning_rate": 0.002,
                     "momentum": 0.9, "weight_decay": 0.0, "schedule": "step", "epochs": 7, "train_size": 5000,
                     "dataset": "mnist", "augment": False},
        "dataset": "mnist", "class_names": [str(i) for i in range(10)],
    })
    patch_dialog(monkeypatch, "getOpenFileName", path)
    with qtbot.waitSignal(window.model_changed, timeout=1000):
        window.open_action.trigger()
    assert not window.error_label.isVisible()
    assert window.run_config() == config.replace(init="xavier", descent="sgd", optimizer="adam", learning_rate=0.002,
                                                 schedule="step", epochs=7, train_size=5000)
    assert window.model_spec.config == window.run_config()


def test_opening_a_bad_file_shows_the_error(window, monkeypatch, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a model")
    patch_dialog(monkeypatch, "getOpenFileName", bad)
    window.open_action.trigger()
    assert window.error_label.isVisible() and "not a scratchnet model" in window.error_label.text()
    patch_dialog(monkeypatch, "getSaveFileName", tmp_path / "none.npz")
    window.save_action.trigger()  # nothing trained yet
    assert "no model to save" in window.error_label.text()


def test_export_curves_csv_and_plots_png(qtbot, window, click, monkeypatch, tmp_path):
    run = quick_run(qtbot, window, click, train_size=640, epochs=2)
    csv_path = tmp_path / "curves.csv"
    patch_dialog(monkeypatch, "getSaveFileName", csv_path)
    window.export_csv_action.trigger()
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    per_update = [r for r in rows if r["series"] == "loss_per_update"]
    assert len(per_update) == run.result["update"] == 20
    assert int(per_update[-1]["samples_seen"]) == 1280
    test_accuracy = [float(r["value"]) for r in rows if r["series"] == "test_accuracy"]
    assert test_accuracy[-1] == pytest.approx(run.result["test_accuracy"], abs=1e-5)
    assert {r["series"] for r in rows} == {"loss_per_update", "train_loss", "test_loss", "train_accuracy",
                                           "test_accuracy"}

    png = tmp_path / "plots.png"
    patch_dialog(monkeypatch, "getSaveFileName", png)
    window.export_png_action.trigger()
    for name in ("plots-loss.png", "plots-accuracy.png"):
        assert (tmp_path / name).stat().st_size > 5000


def test_ctrl_enter_starts_and_escape_stops(qtbot, window):
    window.training_panel.train_size_spin.setValue(30_000)
    window.training_panel.batch_size_spin.setValue(8)
    window.activateWindow()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        qtbot.keyClick(window, Qt.Key_Return, Qt.ControlModifier)
        qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)
        qtbot.keyClick(window, Qt.Key_Escape)
    assert finished.args[0].status == "stopped"


def test_runs_list_selection_overlays_and_remove_button_forgets(qtbot, window, click):
    first = quick_run(qtbot, window, click)
    window.training_panel.learning_rate_spin.setValue(0.01)
    second = quick_run(qtbot, window, click)
    runs_list = window.runs_panel.list
    assert runs_list.objectName() == "runsList" and runs_list.count() == 2
    assert [r.run_id for r in window.plots.runs] == [second.run_id]  # a finished run is shown alone
    runs_list.selectAll()
    assert [r.run_id for r in window.plots.runs] == [first.run_id, second.run_id]
    assert "lr 0.01" in window.runs_panel.details.text()
    runs_list.item(0).setSelected(False)
    click("removeRunButton")
    assert runs_list.count() == 1 and window.runs == [first] and window.plots.runs == []


def test_model_changed_follows_epochs_at_most_about_once_a_second(qtbot, window, click):
    changes = []
    window.model_changed.connect(lambda: changes.append(window.current_model))
    window.training_panel.descent_radios["full"].setChecked(True)
    window.training_panel.learning_rate_spin.setValue(0.1)
    run = quick_run(qtbot, window, click, train_size=2000, epochs=8)
    wall = sum(e["seconds"] for e in run.epochs) + 8  # generous: evaluation time is not counted
    assert 1 <= len(changes) <= wall + 1
    assert changes[-1] is window.current_model
    # epoch snapshots are copies: the model the window holds is never trained further under it
    assert all(m is not None for m in changes)


def test_update_history_memory_stays_flat_over_a_long_run():
    """30 epochs of mini-batch 32 on 60,000 images, fed as the worker would (20 logs a second)."""
    spec = RunSpec(RunConfig(batch_size=32, epochs=30))
    run = RunRecord(1, spec)
    run.on_start({"n_train": 60_000, "batch_size": 32, "updates_per_epoch": 1875})
    rng = np.random.default_rng(0)
    tracemalloc.start()
    update = 0
    for epoch in range(1, 31):
        for _ in range(1875 // 25):
            losses = rng.random(25, dtype=np.float32)
            run.on_batch({"first_update": update, "losses": losses, "update": update + 25,
                          "samples_seen": 32 * (update + 25), "seconds": 0.001 * (update + 25)})
            update += 25
        run.on_epoch({"epoch": epoch, "update": update, "samples_seen": 32 * update, "seconds": 1.0,
                      "loss": 0.1, "accuracy": 0.9, "test_loss": 0.1, "test_accuracy": 0.9})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 2**20
    assert len(run.trace.view()) <= run.trace.capacity
    x, _ = run.update_curve("epochs")
    assert x[-1] == pytest.approx(update / 1875)


def test_update_trace_decimates_by_doubling_its_stride():
    run = RunRecord(1, RunSpec(RunConfig()))
    run.trace.capacity = 1000
    for start in range(0, 10_000, 97):
        run.trace.add(start, np.ones(97, np.float32))
    updates = run.trace.view()[:, 0]
    assert len(updates) <= 1000 and run.trace.stride == 16
    np.testing.assert_array_equal(np.diff(updates), 16)


RUN_APP_SCRIPT = """
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from gui.app import run_app

app = QApplication([])
seen = []

def look_and_quit():
    seen.extend(w.windowTitle() for w in QApplication.topLevelWidgets() if w.isVisible())
    app.quit()  # quitting while the data set may still be loading must not abort

QTimer.singleShot(200, look_and_quit)
code = run_app([])
print("titles", seen, "code", code)
"""


def test_run_app_opens_the_window_and_exits_cleanly():
    """In a process of its own: once an application has quit, Qt refuses to start more threads."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", RUN_APP_SCRIPT], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "titles ['scratchnet'] code 0" in done.stdout
    assert "Destroyed while thread" not in done.stderr
