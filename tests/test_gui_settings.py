"""What the window remembers across launches (QSettings), the About dialog, continuing to train
a loaded model, weight copies within an epoch, and the first-paint timing hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

import scratchnet
from gui.defaults import DEFAULT_CONFIG
from gui.persistence import KEYS, default_store
from gui.persistence import LEGACY_NETWORK_FIELDS as NETWORK_FIELDS
from gui.settings import TRAINING_FIELDS
from scratchnet.run_config import HiddenLayer, RunConfig, hidden_layers

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 60_000


def run_and_wait(qtbot, window):
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        window.start_button.click()
    return finished.args[0]


def test_tests_never_touch_the_users_settings(isolated_qsettings):
    assert Path(default_store().fileName()).is_relative_to(isolated_qsettings)


def test_settings_geometry_and_folder_survive_a_restart(open_window, store, tmp_path, monkeypatch):
    first = open_window(store)
    combo = first.preset_bar.combo
    combo.setCurrentIndex(combo.findData("initialisation"))
    combo.activated.emit(combo.currentIndex())
    first.layer_editor.seed_spin.setValue(7)
    first.training_panel.learning_rate_spin.setValue(0.2)
    first.training_panel.schedule_combo.setCurrentIndex(first.training_panel.schedule_combo.findData("step"))
    first.training_panel.weight_decay_spin.setValue(0.001)
    first.training_panel.augment_check.setChecked(True)
    first.resize(1100, 700)
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(folder / "none.npz"), ""))
    first.files.open_model_dialog()  # the file does not exist: an error is shown, the folder is remembered
    config = first.run_config()
    first.close()

    second = open_window(store)
    assert second.run_config() == config
    assert (config.seed, config.learning_rate, config.schedule, config.augment) == (7, 0.2, "step", True)
    assert second.preset_bar.combo.currentText() == "Custom"
    # the height is restored; the width too, but the offscreen screen (800 px wide) clamps it to the minimum
    assert second.height() == 700 and second.width() <= 1100
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda _w, _title, start, _f: asked.append(start) or ("", ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda _w, _title, start: asked.append(start) or "")
    second.files.save_model_dialog()
    second.files.export_png_dialog()  # (the CSV export asks nothing before a run: nothing to export)
    second.training_panel.open_folder_button.click()
    assert asked == [str(folder / "model.npz"), str(folder / "plots.png"), str(folder)]


def test_a_preset_chosen_before_closing_is_shown_after_the_restart(open_window, store):
    first = open_window(store)
    combo = first.preset_bar.combo
    combo.setCurrentIndex(combo.findData("three-descents"))
    combo.activated.emit(combo.currentIndex())
    first.close()
    assert open_window(store).preset_bar.combo.currentText() == "The three descents"


# the two groups the window stored before there was one run configuration (today's format)
GOOD_CONFIG = DEFAULT_CONFIG.replace(hidden=(HiddenLayer(32, "tanh"),), init="xavier", dropout=0.1, seed=5, epochs=9)
GOOD_NETWORK = json.dumps({"hidden": [{"width": 32, "activation": "tanh"}], "init": "xavier", "dropout": 0.1,
                           "seed": 5})
GOOD_TRAINING = json.dumps({"descent": "mini", "batch_size": 64, "optimizer": "momentum", "learning_rate": 0.05,
                            "momentum": 0.9, "weight_decay": 0.0, "schedule": "cosine", "epochs": 9,
                            "train_size": 60000, "dataset": "mnist", "augment": False})


def network_with(**changes) -> str:
    return json.dumps({**json.loads(GOOD_NETWORK), **changes})


def training_with(**changes) -> str:
    return json.dumps({**json.loads(GOOD_TRAINING), **changes})


@pytest.mark.parametrize("network, training, bad", [
    ("{not json", GOOD_TRAINING, "network"),
    (network_with(hidden=[{"width": 0, "activation": "relu"}]), GOOD_TRAINING, "network"),
    (network_with(hidden=[{"width": 64, "activation": "swish"}]), GOOD_TRAINING, "network"),
    (network_with(dropout=2.5), GOOD_TRAINING, "network"),
    (network_with(seed="seven"), GOOD_TRAINING, "network"),
    (network_with(hidden="128"), GOOD_TRAINING, "network"),
    ("[1, 2]", GOOD_TRAINING, "network"),
    (GOOD_NETWORK, training_with(learning_rate=1e9), "training"),
    (GOOD_NETWORK, training_with(learning_rate=float("nan")), "training"),
    (GOOD_NETWORK, training_with(descent="newton"), "training"),
    (GOOD_NETWORK, training_with(epochs="3"), "training"),
    (GOOD_NETWORK, training_with(batch_size=True), "training"),
    (GOOD_NETWORK, training_with(augment="yes"), "training"),
    (GOOD_NETWORK, training_with(dataset="/no/such/folder"), "training"),
    (GOOD_NETWORK, json.dumps({"epochs": 2}), "training"),
    (GOOD_NETWORK, "42", "training"),
])
def test_corrupt_or_out_of_range_settings_fall_back_to_the_defaults(open_window, store, network, training, bad):
    store.setValue(KEYS["network"], network)
    store.setValue(KEYS["training"], training)
    store.setValue(KEYS["geometry"], "garbage")
    store.setValue(KEYS["folder"], 12)
    store.sync()
    win = open_window(store)
    expected = {"network": GOOD_CONFIG.replace(**{k: getattr(DEFAULT_CONFIG, k) for k in NETWORK_FIELDS}),
                "training": GOOD_CONFIG.replace(**{k: getattr(DEFAULT_CONFIG, k) for k in TRAINING_FIELDS})}[bad]
    assert win.run_config() == expected
    assert win.last_folder == ""


def test_settings_are_stored_as_one_run_configuration_and_the_old_groups_are_dropped(open_window, store):
    store.setValue(KEYS["network"], GOOD_NETWORK)
    store.setValue(KEYS["training"], GOOD_TRAINING)
    first = open_window(store)
    assert first.run_config() == GOOD_CONFIG
    first.close()
    assert store.value(KEYS["network"]) is None and store.value(KEYS["training"]) is None
    assert RunConfig.from_json(store.value(KEYS["run"])) == GOOD_CONFIG
    assert open_window(store).run_config() == GOOD_CONFIG


@pytest.mark.parametrize("text, expected", [
    (GOOD_CONFIG.to_json(), GOOD_CONFIG),
    # a file from a version without some field: that field takes its default
    (json.dumps({k: v for k, v in GOOD_CONFIG.to_dict().items() if k != "augment"}), GOOD_CONFIG),
    (GOOD_CONFIG.replace(learning_rate=50.0).to_json(), DEFAULT_CONFIG),  # valid, but beyond the spin box
    (json.dumps({**GOOD_CONFIG.to_dict(), "lr": 0.1}), DEFAULT_CONFIG),
    ("{not json", DEFAULT_CONFIG),
])
def test_a_stored_run_configuration_is_checked(open_window, store, text, expected):
    store.setValue(KEYS["run"], text)
    assert open_window(store).run_config() == expected


def test_about_dialog_shows_the_version_licences_and_credits(window, qtbot, monkeypatch):
    assert window.menuBar().actions()[-1].text() == "&Help"
    window.about_action.trigger()
    dialog = window._about
    qtbot.waitExposed(dialog)
    text = dialog.text.text()
    for needle in (f"scratchnet {scratchnet.__version__}", "MIT licence", "CC BY-SA 3.0", "Yann LeCun",
                   "Corinna Cortes", "Christopher J. C. Burges", "Fashion-MNIST", "Zalando SE", "NumPy", "PySide6"):
        assert needle in text, needle
    assert not dialog.windowIcon().isNull() or not window.windowIcon().isNull()
    dialog.close()
    assert not dialog.isVisible()
    shown = []
    monkeypatch.setattr(QMessageBox, "aboutQt", lambda parent, title: shown.append(title))
    window.about_qt_action.trigger()
    assert shown == ["About Qt"]


def test_window_icon_comes_from_the_resources(window):
    icon = window.windowIcon()
    assert not icon.isNull() and 256 in {size.width() for size in icon.availableSizes()}


def test_continue_training_starts_from_the_loaded_models_accuracy(qtbot, window, tmp_path):
    panel, editor = window.training_panel, window.layer_editor
    assert not window.continue_check.isEnabled()  # no model yet
    panel.train_size_spin.setValue(10_000)
    panel.epochs_spin.setValue(1)
    trained = run_and_wait(qtbot, window)
    assert window.continue_check.isEnabled()  # the run's model matches the editor
    path = tmp_path / "model.npz"
    window.files.save_model_to(str(path))
    editor.add_layer()
    assert not window.continue_check.isEnabled() and not window.continue_check.isChecked()

    window.files.open_model_from(str(path))
    assert len(editor.values()["hidden"]) == 1 and window.continue_check.isEnabled()
    loaded_accuracy = trained.final_test_accuracy
    # a tiny learning rate on few images: whatever the run reaches, it owes to its start
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
    panel.learning_rate_spin.setValue(0.001)
    panel.train_size_spin.setValue(1000)
    window.continue_check.setChecked(True)
    continued = run_and_wait(qtbot, window)
    window.continue_check.setChecked(False)
    fresh = run_and_wait(qtbot, window)
    assert continued.epochs[0]["test_accuracy"] >= loaded_accuracy - 0.01
    assert fresh.epochs[0]["test_accuracy"] < loaded_accuracy - 0.3


def test_weights_reach_the_views_several_times_within_one_long_epoch(qtbot, window):
    window.layer_editor.set_config(RunConfig(hidden=hidden_layers(512)))
    panel = window.training_panel
    panel.descent_radios["sgd"].setChecked(True)
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
    panel.learning_rate_spin.setValue(0.01)
    panel.train_size_spin.setValue(60_000)
    panel.epochs_spin.setValue(1)
    models = []
    window.model_changed.connect(lambda: models.append(window.current_model))
    window.start_button.click()
    qtbot.waitUntil(lambda: len(models) >= 2, timeout=30_000)
    assert window.is_running and window.controller.run.epochs == []  # still inside the first epoch
    assert models[0] is not models[1]
    first_weights = models[0].state_dict()["0.W"]
    assert (first_weights != models[1].state_dict()["0.W"]).any()  # the copies differ: training moved on
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT):
        window.stop_button.click()


def test_first_paint_hook_prints_the_time_and_quits(isolated_qsettings):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SCRATCHNET_EXIT_AFTER_FIRST_PAINT": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0.05 < report["first_paint_seconds"] < 30
    # the child remembered its state under the isolated folder, not in ~/.config
    assert any(isolated_qsettings.rglob("*.conf"))
