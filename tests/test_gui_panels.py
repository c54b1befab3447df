"""The network and training panels, driven through their real widgets (no training here)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QFileDialog, QPushButton

from gui.settings import param_count
from scratchnet.layers import Dense, Dropout, LeakyReLU, ReLU, Tanh
from scratchnet.network import Sequential
from scratchnet.run_config import RunConfig


def test_new_window_has_the_default_network(window):
    table = window.layer_editor.table
    assert window.windowTitle() == "scratchnet"
    assert table.objectName() == "layerTable" and table.rowCount() == 1
    assert window.layer_editor.width_spin(0).value() == 128
    assert window.layer_editor.activation_combo(0).currentData() == "relu"
    assert "101,770" in window.layer_editor.param_label.text()


def test_add_remove_and_reorder_layers_update_the_parameter_count(click, window):
    editor = window.layer_editor
    click("addLayerButton")
    assert editor.table.rowCount() == 2
    editor.width_spin(0).setValue(200)
    editor.width_spin(1).setValue(30)
    editor.activation_combo(1).setCurrentIndex(editor.activation_combo(1).findData("tanh"))
    widths = [784, 200, 30, 10]
    assert f"{param_count(widths):,}" in editor.param_label.text()
    assert param_count(widths) == 784 * 200 + 200 + 200 * 30 + 30 + 30 * 10 + 10

    editor.table.selectRow(1)
    click("moveLayerUpButton")
    assert [h.width for h in editor.values()["hidden"]] == [30, 200]
    assert editor.values()["hidden"][0].activation == "tanh"
    click("moveLayerDownButton")
    assert [h.width for h in editor.values()["hidden"]] == [200, 30]

    editor.table.selectRow(0)
    click("removeLayerButton")
    assert [h.width for h in editor.values()["hidden"]] == [30]
    assert f"{param_count([784, 30, 10]):,}" in editor.param_label.text()
    click("removeLayerButton")
    assert editor.table.rowCount() == 0
    assert f"{param_count([784, 10]):,}" in editor.param_label.text()
    assert not window.findChild(QPushButton, "removeLayerButton").isEnabled()


def test_width_is_limited_to_1_to_4096(window):
    spin = window.layer_editor.width_spin(0)
    spin.setValue(10_000)
    assert spin.value() == 4096
    spin.setValue(0)
    assert spin.value() == 1


def test_init_dropout_seed_and_activations_shape_the_built_model(click, window):
    editor = window.layer_editor
    click("addLayerButton")
    editor.activation_combo(0).setCurrentIndex(editor.activation_combo(0).findData("leaky_relu"))
    editor.dropout_spin.setValue(0.25)
    editor.seed_spin.setValue(7)
    editor.init_combo.setCurrentIndex(editor.init_combo.findData("normal"))
    settings = RunConfig(**editor.values())
    model = settings.build_model(784, 10)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [Dense, LeakyReLU, Dropout, Dense, ReLU, Dropout, Dense]
    assert model.layers[2].rate == 0.25
    # small-normal init draws N(0, 0.01^2); the same seed repeats the weights exactly
    assert model.layers[0].params["W"].std() == pytest.approx(0.01, rel=0.05)
    np.testing.assert_array_equal(settings.build_model(784, 10).layers[0].params["W"], model.layers[0].params["W"])
    editor.seed_spin.setValue(8)
    reseeded = window.run_config().build_model(784, 10)
    assert not np.array_equal(reseeded.layers[0].params["W"], model.layers[0].params["W"])
    editor.init_combo.setCurrentIndex(editor.init_combo.findData("he"))
    he = window.run_config().build_model(784, 10).layers[0].params["W"]
    assert he.std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)
    assert isinstance(Sequential.from_config(model.get_config()).layers[1], LeakyReLU)
    editor.activation_combo(1).setCurrentIndex(editor.activation_combo(1).findData("tanh"))
    assert isinstance(window.run_config().build_model(784, 10).layers[4], Tanh)


def test_descent_choices_enable_only_what_applies(click, window):
    panel = window.training_panel
    for name, descent in (("descentFull", "full"), ("descentSgd", "sgd"), ("descentMini", "mini")):
        click(name)
        assert window.run_config().descent == descent
        assert panel.batch_size_spin.isEnabled() == (descent == "mini")
    panel.train_size_spin.setValue(100)
    panel.batch_size_spin.setValue(500)
    assert panel.batch_size_spin.value() == 100  # a batch cannot exceed the training subset
    click("descentSgd")
    panel.train_size_spin.setValue(50_000)
    assert "slower" in panel.note_label.text()
    click("descentMini")
    assert panel.note_label.text() == ""


def test_optimizer_choice_enables_momentum_only_where_it_applies(window):
    panel = window.training_panel
    combo = panel.optimizer_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["sgd", "momentum", "nesterov", "rmsprop", "adam"]
    for name in ("sgd", "momentum", "nesterov", "rmsprop", "adam"):
        combo.setCurrentIndex(combo.findData(name))
        assert window.run_config().optimizer == name
        assert panel.momentum_spin.isEnabled() == (name in ("momentum", "nesterov"))
    panel.weight_decay_spin.setValue(0.001)
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData("cosine"))
    panel.epochs_spin.setValue(3)
    settings = window.run_config()
    assert (settings.weight_decay, settings.schedule, settings.epochs) == (0.001, "cosine", 3)


def test_train_size_is_capped_by_the_loaded_dataset(window, mnist):
    spin = window.training_panel.train_size_spin
    assert spin.maximum() == len(mnist.y_train)
    spin.setValue(10**9)
    assert spin.value() == len(mnist.y_train)
    assert window.run_config().train_size is None  # every image, whatever the data set holds
    spin.setValue(1000)
    assert window.run_config().train_size == 1000


def test_the_two_tabs_edit_every_field_of_the_run_configuration(window):
    from scratchnet.run_config import FIELDS, HiddenLayer

    config = RunConfig(hidden=(HiddenLayer(32, "tanh"), HiddenLayer(16, "sigmoid")), init="xavier", dropout=0.25,
                       optimizer="adam", learning_rate=0.003, momentum=0.5, weight_decay=0.01, descent="sgd",
                       batch_size=7, epochs=2, schedule="step", seed=9, augment=True, dataset="fashion-mnist",
                       train_size=100)
    # every field but ``layers``, which a stack of image layers sets (issue 18): below
    edited = [name for name in FIELDS if name != "layers"]
    assert all(getattr(config, name) != getattr(RunConfig(), name) for name in edited)
    window.show_config(config)
    assert window.run_config() == config
    stacked = config.replace(layers=("conv3x3x4s2p1", "tanh", "pool3s2", "flatten", "dense32", "tanh", "dropout0.25",
                                     "dense16", "sigmoid", "dropout0.25"))
    window.show_config(stacked)
    assert window.run_config() == stacked


def test_a_missing_dataset_is_explained_inline(qtbot, window):
    combo = window.training_panel.dataset_combo
    combo.setCurrentIndex(combo.findData("fashion-mnist"))
    qtbot.waitUntil(lambda: "Cannot load fashion-mnist" in window.training_panel.note_label.text(), timeout=5000)
    combo.setCurrentIndex(combo.findData("mnist"))
    assert window.dataset.name == "mnist"


def test_open_idx_folder_adds_and_selects_the_folder(qtbot, click, window, monkeypatch, tmp_path):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(tmp_path))
    click("openIdxFolderButton")
    panel = window.training_panel
    assert window.run_config().dataset == str(tmp_path)
    assert panel.dataset_combo.currentText() == f"Folder: {tmp_path.name}"
    # the test loader has no such data set: the failure is explained, not raised
    qtbot.waitUntil(lambda: "Cannot load" in panel.note_label.text(), timeout=5000)


def test_every_control_explains_itself_in_a_tooltip(window):
    controls = [
        *window.findChildren(QAbstractButton), *window.findChildren(QAbstractSpinBox),
        *window.findChildren(QComboBox),
    ]
    # Qt's own sub-widgets (tab-bar scroll arrows...) are not ours to explain
    controls = [c for c in controls if not c.objectName().startswith(("qt_", "Scroll"))]
    assert len(controls) > 25
    missing = [c.objectName() or c.text() for c in controls if not c.toolTip()]
    assert not missing
    for action in (window.start_action, window.stop_action, window.save_action):
        assert action.toolTip()


def test_add_view_puts_a_widget_in_a_new_tab(window):
    from PySide6.QtWidgets import QLabel

    index = window.add_view(QLabel("inspection"), "Weights")
    assert window.views.tabText(index) == "Weights"
    assert index == window.views.count() - 1


def test_build_model_is_mlp_with_each_layers_own_activation():
    from scratchnet.network import mlp
    from scratchnet.run_config import HiddenLayer

    config = RunConfig(hidden=(HiddenLayer(16, "tanh"), HiddenLayer(8, "relu")), init="he", dropout=0.1, seed=5)
    model = config.build_model(784, 10)
    reference = mlp(784, [16, 8], 10, init="he", dropout=0.1, rng=np.random.default_rng(5))
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "Tanh", "Dropout", "Dense", "ReLU", "Dropout", "Dense"]
    for name, value in reference.parameters().items():  # same seeded weights as mlp's
        np.testing.assert_array_equal(model.parameters()[name], value)
        assert model.parameters()[name].dtype == np.float32
    with pytest.raises(ValueError, match="activation"):
        RunConfig(hidden=(HiddenLayer(16), HiddenLayer(8, "swish")))
