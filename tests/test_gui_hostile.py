"""Hostile files and careless settings in the window (issue 19, issue 13 bug 6): the window always
starts, never freezes on a file, refuses networks it cannot train with the reason, and a failed
save offers another place."""

from __future__ import annotations

import json
import os
import stat
import time

import hostile_files as hostile
import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gui.app import NO_DISPLAY, display_problem
from gui.defaults import DEFAULT_CONFIG
from gui.main_window import MainWindow
from gui.persistence import KEYS, load_state
from gui.persistence import LEGACY_NETWORK_FIELDS as NETWORK_FIELDS
from gui.settings import TRAINING_FIELDS
from scratchnet.limits import MAX_HIDDEN_LAYERS
from scratchnet.network import mlp
from scratchnet.run_config import hidden_layers
from scratchnet.serialization import load_model_file, save_model


@pytest.fixture
def with_model(window, tmp_path):
    path = tmp_path / "small.npz"
    save_model(mlp(784, [16], 10, rng=np.random.default_rng(0)), path)
    window.files.open_model_from(str(path))
    return window


def group(names: tuple[str, ...], **changes) -> dict:
    """The fields ``names`` of the default configuration as stored (a legacy settings group)."""
    data = {**DEFAULT_CONFIG.to_dict(), **changes}
    return {name: data[name] for name in names}


# --------------------------------------------------------------------------- settings


TEN_THOUSAND_LAYERS = [{"width": 4096, "activation": "relu"}] * 10_000
TOO_MANY_PARAMETERS = [{"width": 4096, "activation": "relu"}] * 3


@pytest.mark.parametrize("key, value", [
    ("run", "[" * 100_000 + "]" * 100_000),
    ("run", "{" * 100_000),
    ("run", json.dumps({**DEFAULT_CONFIG.to_dict(), "hidden": TEN_THOUSAND_LAYERS})),
    ("run", json.dumps({**DEFAULT_CONFIG.to_dict(), "hidden": TOO_MANY_PARAMETERS})),
    ("network", "[" * 100_000 + "]" * 100_000),
    ("training", "{" * 100_000),
    ("network", json.dumps(group(NETWORK_FIELDS, hidden=TEN_THOUSAND_LAYERS))),
    ("network", json.dumps(group(NETWORK_FIELDS, hidden=TOO_MANY_PARAMETERS))),
    ("folder", "/" + "d" * 300),
])
def test_the_window_starts_on_the_defaults_and_rewrites_the_bad_key(open_window, store, key, value):
    store.setValue(KEYS[key], value)
    store.sync()
    started = time.perf_counter()
    win = open_window(store)
    assert time.perf_counter() - started < 10
    assert win.run_config() == DEFAULT_CONFIG
    note = win.error_label.text()
    assert note.startswith("Some remembered settings could not be used") and "defaults were restored" in note
    # rewritten: the next launch reads the file cleanly, with no note
    reread = load_state(QSettings(store.fileName(), QSettings.IniFormat))
    assert reread.note == "" and reread.config == DEFAULT_CONFIG


def test_a_bad_legacy_group_is_reset_and_the_good_one_kept(store):
    store.setValue(KEYS["network"], json.dumps(group(NETWORK_FIELDS, hidden=[{"width": 32, "activation": "tanh"}],
                                                     seed=3)))
    store.setValue(KEYS["training"], "{" * 100_000)
    state = load_state(store)
    assert state.config == DEFAULT_CONFIG.replace(hidden=hidden_layers(32, activation="tanh"), seed=3)
    assert "(training)" in state.note
    reread = load_state(QSettings(store.fileName(), QSettings.IniFormat))
    assert reread.note == "" and reread.config == state.config


def test_a_folder_that_cannot_be_checked_is_forgotten(store, monkeypatch):
    store.setValue(KEYS["folder"], "/root/secret")
    monkeypatch.setattr("gui.persistence.is_folder", lambda path: (_ for _ in ()).throw(PermissionError(13, "denied")))
    state = load_state(store)
    assert state.last_folder == "" and "last folder" in state.note


def test_applying_settings_that_fail_falls_back_to_the_defaults(open_window, store, monkeypatch):
    store.setValue(KEYS["run"], DEFAULT_CONFIG.replace(hidden=hidden_layers(32), init="he", seed=3).to_json())
    store.sync()
    calls = []
    real = MainWindow._apply_state

    def failing_once(self, state):
        calls.append(state)
        if len(calls) == 1:
            raise OverflowError("spin box")
        real(self, state)

    monkeypatch.setattr(MainWindow, "_apply_state", failing_once)
    win = open_window(store)
    assert win.run_config() == DEFAULT_CONFIG
    assert "could not be applied (spin box)" in win.error_label.text()


# --------------------------------------------------------------------------- the layer editor


def test_the_editor_stops_adding_layers_at_the_cap_and_says_why(window, click):
    editor = window.layer_editor
    editor.set_config(DEFAULT_CONFIG.replace(hidden=hidden_layers(*[8] * (MAX_HIDDEN_LAYERS - 1))))
    assert editor.add_button.isEnabled()
    click("addLayerButton")
    assert editor.table.rowCount() == MAX_HIDDEN_LAYERS
    assert not editor.add_button.isEnabled()
    assert f"at most {MAX_HIDDEN_LAYERS} hidden layers" in editor.add_button.toolTip()
    assert f"No more layers can be added: at most {MAX_HIDDEN_LAYERS}" in editor.param_label.text()
    editor.add_layer()
    assert editor.table.rowCount() == MAX_HIDDEN_LAYERS


def test_too_many_parameters_are_explained_and_start_is_refused(window, click):
    editor = window.layer_editor
    editor.set_config(DEFAULT_CONFIG.replace(hidden=hidden_layers(4096, 4096, 4096)))
    assert "Cannot train: 36," in editor.param_label.text()
    assert "parameters is too many: at most 20,000,000" in editor.param_label.text()
    assert not window.start_button.isEnabled() and not window.compare_button.isEnabled()
    assert window.start_button.toolTip().startswith("Cannot start: 36,")
    window.start_training()  # the shortcut's way in is refused too, with the reason
    assert not window.is_running and window.runs == []
    assert window.error_label.isVisible() and "Cannot start" in window.error_label.text()
    window.compare_descents()
    assert not window.is_running


# --------------------------------------------------------------------------- model files


def test_metadata_out_of_range_is_refused_before_anything_is_applied(qtbot, window, tmp_path):
    """The older format: each group whole or not at all."""
    model = mlp(784, [24], 10, activation="tanh", rng=np.random.default_rng(0))
    path = tmp_path / "epochs.npz"
    network = {"hidden": hidden_layers(24, activation="tanh"), "layers": (), "init": "xavier", "dropout": 0.0,
               "seed": 3}
    save_model(model, path, {"network": group(NETWORK_FIELDS, hidden=[{"width": 24, "activation": "tanh"}],
                                              init="xavier", seed=3),
                             "training": group(TRAINING_FIELDS, epochs=1e18, learning_rate=0.3)})
    before = window.training_panel.values()
    window.files.open_model_from(str(path))
    assert window.training_panel.values() == before  # all or nothing: not the 0.3 either
    assert window.layer_editor.values() == network
    assert not window.error_label.isVisible()


@pytest.mark.parametrize("epochs", [1e18, 10**18])
def test_a_run_entry_out_of_range_is_refused_whole(qtbot, window, tmp_path, epochs):
    """The ``run`` entry: all or nothing; the network still follows the weights in the file."""
    model = mlp(784, [24], 10, activation="tanh", rng=np.random.default_rng(0))
    path = tmp_path / "epochs.npz"
    run = {**DEFAULT_CONFIG.to_dict(), "hidden": [{"width": 24, "activation": "tanh"}], "init": "xavier",
           "seed": 3, "epochs": epochs, "learning_rate": 0.3}
    save_model(model, path, {"run": run})
    before = window.run_config()
    window.files.open_model_from(str(path))
    # not xavier, seed 3, 0.3 or the epochs: only the layers, which the weights give
    assert window.run_config() == before.replace(hidden=hidden_layers(24, activation="tanh"))
    assert not window.error_label.isVisible()


@pytest.mark.parametrize("make, fragment", [
    (lambda folder: hostile.model_file(folder, "rate.npz", hostile.document(
        hostile.LAYERS + [{"type": "Dropout"}])), "has no 'rate'"),
    (lambda folder: hostile.deep_json(folder), "nested too deeply"),
    (lambda folder: hostile.fifo(folder / "pipe.npz"), "is a pipe (FIFO)"),
    (lambda folder: hostile.weight_zip_bomb(folder, checksum=False), "declares 31,360 bytes of data"),
])
def test_hostile_model_files_are_reported_at_once(window, monkeypatch, tmp_path, make, fragment):
    path = make(tmp_path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    started = time.perf_counter()
    window.open_action.trigger()
    assert time.perf_counter() - started < 2
    assert window.error_label.isVisible() and fragment in window.error_label.text()


# --------------------------------------------------------------------------- saving


def test_typing_a_name_without_extension_saves_a_npz_with_the_usual_mode(with_model, monkeypatch, tmp_path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "digits"), ""))
    old = os.umask(0o022)
    try:
        with_model.save_action.trigger()
    finally:
        os.umask(old)
    assert not (tmp_path / "digits").exists()
    assert stat.S_IMODE((tmp_path / "digits.npz").stat().st_mode) == 0o644
    assert load_model_file(tmp_path / "digits.npz").model.input_size == 784
    assert "digits.npz" in with_model.status_label.text()


def test_a_failed_save_offers_to_save_elsewhere(with_model, monkeypatch, tmp_path):
    folder_in_the_way = tmp_path / "taken.npz"
    folder_in_the_way.mkdir()
    picks = iter([str(folder_in_the_way), str(tmp_path / "elsewhere")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (next(picks), ""))
    questions = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: questions.append(a[2]) or QMessageBox.StandardButton.Yes)
    with_model.save_action.trigger()
    assert len(questions) == 1 and f"cannot save to {folder_in_the_way}: it is a folder" in questions[0]
    assert load_model_file(tmp_path / "elsewhere.npz").model.input_size == 784
    assert not with_model.error_label.isVisible()
    assert f"Saved the model to {tmp_path / 'elsewhere.npz'}" in with_model.status_label.text()


def test_giving_up_after_a_failed_save_shows_the_error(with_model, monkeypatch, tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "pipe.npz"), ""))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    with_model.save_action.trigger()
    assert "it is a pipe (FIFO), not a regular file" in with_model.error_label.text()
    assert stat.S_ISFIFO((tmp_path / "pipe.npz").stat().st_mode)


# --------------------------------------------------------------------------- display


def test_no_display_is_detected_before_qt_aborts():
    assert display_problem({}, "linux") == NO_DISPLAY
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") == NO_DISPLAY
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "darwin") is None
