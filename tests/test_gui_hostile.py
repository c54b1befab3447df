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
from gui.defaults import DEFAULT_NETWORK, DEFAULT_TRAINING
from gui.main_window import MainWindow
from gui.persistence import KEYS, load_state
from gui.settings import HiddenLayer, NetworkSettings
from scratchnet.limits import MAX_HIDDEN_LAYERS
from scratchnet.network import mlp
from scratchnet.serialization import load_model_file, save_model


@pytest.fixture
def store(tmp_path):
    return QSettings(str(tmp_path / "scratchnet.ini"), QSettings.IniFormat)


@pytest.fixture
def open_window(qtbot, mnist_loader):
    windows = []

    def make(store: QSettings) -> MainWindow:
        win = MainWindow(dataset_loader=mnist_loader, settings=store)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.dataset is not None, timeout=10_000)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()


@pytest.fixture
def with_model(window, tmp_path):
    path = tmp_path / "small.npz"
    save_model(mlp(784, [16], 10, rng=np.random.default_rng(0)), path)
    window.open_model_from(str(path))
    return window


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("key, value", [
    ("network", "[" * 100_000 + "]" * 100_000),
    ("training", "{" * 100_000),
    ("network", json.dumps({**DEFAULT_NETWORK.to_dict(),
                            "hidden": [{"width": 4096, "activation": "relu"}] * 10_000})),
    ("folder", "/" + "d" * 300),
])
def test_the_window_starts_on_the_defaults_and_rewrites_the_bad_key(open_window, store, key, value):
    store.setValue(KEYS[key], value)
    store.sync()
    started = time.perf_counter()
    win = open_window(store)
    assert time.perf_counter() - started < 10
    assert win.layer_editor.settings() == DEFAULT_NETWORK
    assert win.training_panel.settings().epochs == DEFAULT_TRAINING.epochs
    note = win.error_label.text()
    assert note.startswith("Some remembered settings could not be used") and "defaults were restored" in note
    # rewritten: the next launch reads the file cleanly, with no note
    reread = load_state(QSettings(store.fileName(), QSettings.IniFormat))
    assert reread.note == "" and reread.network == DEFAULT_NETWORK


def test_a_folder_that_cannot_be_checked_is_forgotten(store, monkeypatch):
    store.setValue(KEYS["folder"], "/root/secret")
    monkeypatch.setattr("gui.persistence.is_folder", lambda path: (_ for _ in ()).throw(PermissionError(13, "denied")))
    state = load_state(store)
    assert state.last_folder == "" and "last folder" in state.note


def test_applying_settings_that_fail_falls_back_to_the_defaults(open_window, store, monkeypatch):
    store.setValue(KEYS["network"], json.dumps(NetworkSettings((HiddenLayer(32),), "he", 0.0, 3).to_dict()))
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
    assert win.layer_editor.settings() == DEFAULT_NETWORK
    assert "could not be applied (spin box)" in win.error_label.text()


# --------------------------------------------------------------------------- the layer editor


def test_the_editor_stops_adding_layers_at_the_cap_and_says_why(window, click):
    editor = window.layer_editor
    editor.set_settings(NetworkSettings((HiddenLayer(8),) * (MAX_HIDDEN_LAYERS - 1)))
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
    editor.set_settings(NetworkSettings((HiddenLayer(4096),) * 3))
    assert "Cannot train: 36," in editor.param_label.text()
    assert "parameters is too many: at most 20,000,000" in editor.param_label.text()
    click("startButton")
    assert not window.is_running and window.runs == []
    assert window.error_label.isVisible() and "Cannot start" in window.error_label.text()
    click("compareButton")
    assert not window.is_running


# --------------------------------------------------------------------------- model files


def test_metadata_out_of_range_is_refused_before_anything_is_applied(qtbot, window, tmp_path):
    model = mlp(784, [24], 10, rng=np.random.default_rng(0))
    path = tmp_path / "epochs.npz"
    network = NetworkSettings((HiddenLayer(24, "tanh"),), "xavier", 0.0, 3)
    save_model(model, path, {"network": network.to_dict(),
                             "training": {**DEFAULT_TRAINING.to_dict(), "epochs": 1e18, "learning_rate": 0.3}})
    before = window.training_panel.settings()
    window.open_model_from(str(path))
    assert window.training_panel.settings() == before  # all or nothing: not the 0.3 either
    assert window.layer_editor.settings() == network
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
