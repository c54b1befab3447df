"""The layer editor's convolution and pooling layers (issue 18): each row's settings and output
shape, the parameter count, a stack that does not fit refused inline with Start disabled, the
convolutional preset, and a run from the window that trains the stack the editor shows."""

from __future__ import annotations

import numpy as np
from gui_view_support import configure, run_in_window

from gui.layer_editor import edited_stack
from scratchnet.presets import PRESETS
from scratchnet.run_config import RunConfig, hidden_layers
from scratchnet.stacks import build_stack, layer_tokens, stack_shapes


def test_conv_and_pool_rows_show_their_shapes_and_the_parameter_count(window, click):
    editor = window.layer_editor
    for name in ("addConvLayerButton", "addPoolLayerButton", "imageLayerTable", "removeImageLayerButton"):
        assert window.findChild(object, name) is not None, name
    assert editor.image_table.rowCount() == 0 and editor.values()["layers"] == ()
    click("addConvLayerButton")
    assert editor.output_text(0) == "8×24×24"
    click("addPoolLayerButton")
    assert editor.output_text(1) == "8×12×12"
    tokens = ("conv5x5x8", "relu", "pool2", "flatten", "dense128", "relu")
    assert window.run_config().layers == tokens
    # 8·25 + 8 convolution weights, 1152·128 + 128 and 128·10 + 10 Dense weights
    count = 8 * 25 + 8 + 8 * 12 * 12 * 128 + 128 + 128 * 10 + 10
    assert build_stack(tokens, 784, 10).param_count() == count
    assert f"Parameters: {count:,}" in editor.param_label.text()
    assert "1×28×28 → 8×24×24 → 8×12×12 → 1152 → 128 → 10" in editor.param_label.text()
    editor.image_cell(0, "Channels").setValue(4)
    editor.image_cell(0, "Padding").setValue(2)
    editor.image_cell(0, "Stride").setValue(2)
    assert editor.output_text(0) == "4×14×14" and editor.output_text(1) == "4×7×7"
    editor.image_cell(0, "Activation").setCurrentIndex(editor.image_cell(0, "Activation").findData("tanh"))
    assert window.run_config().layers[:3] == ("conv5x5x4s2p2", "tanh", "pool2")
    assert window.run_config().build_model(784, 10).param_count() == 4 * 25 + 4 + 196 * 128 + 128 + 1290
    assert editor.image_cell(1, "Channels") is None  # a pooling layer has no channels of its own
    assert window.start_button.isEnabled()


def test_a_stack_that_does_not_fit_is_refused_inline_and_start_is_disabled(window, click):
    editor = window.layer_editor
    click("addConvLayerButton")
    click("addPoolLayerButton")
    click("addConvLayerButton")  # 5x5 on 8x12x12 -> 8x8x8
    assert editor.output_text(2) == "8×8×8"
    editor.image_cell(2, "Kernel").setValue(13)
    assert editor.output_text(0) == "8×24×24" and editor.output_text(2) == "does not fit"
    reason = "layer 4 'conv13x13x8': Conv2D kernel 13x13 is larger than its input 8x12x12"
    assert editor.problem() == reason
    assert f"Cannot train: {reason}." in editor.param_label.text()
    assert not window.start_button.isEnabled() and not window.start_action.isEnabled()
    assert window.start_button.toolTip() == f"Cannot start: {reason}."
    window.start_training()  # the keyboard shortcut's way in is refused as well
    assert not window.is_running and window.runs == []
    assert f"Cannot start: {reason}." in window.error_label.text()
    editor.image_cell(2, "Padding").setValue(1)  # 12 + 2 - 13 + 1 = 2
    assert editor.output_text(2) == "8×2×2" and editor.problem() is None
    assert window.start_button.isEnabled() and window.start_button.toolTip().startswith("Build the network")


def test_shape_checks_are_cached_and_draw_no_weights(window, click):
    editor = window.layer_editor
    click("addConvLayerButton")
    stack_shapes.cache_clear()
    spin = editor.image_cell(0, "Channels")
    for channels in (9, 10, 9, 10, 9):
        spin.setValue(channels)
    info = stack_shapes.cache_info()
    assert info.misses == 2 and info.hits >= 3  # two stacks computed once each, then looked up


def test_the_convolutional_preset_fills_the_editor(window):
    combo = window.preset_bar.combo
    combo.setCurrentIndex(combo.findData("convolutional"))
    combo.activated.emit(combo.currentIndex())
    editor = window.layer_editor
    preset = PRESETS["convolutional"].config
    assert window.run_config() == preset.replace(dataset=window.run_config().dataset)
    assert window.preset_bar.current() == "convolutional"
    assert [editor.output_text(row) for row in range(editor.image_table.rowCount())] == [
        "16×24×24", "16×12×12", "32×8×8", "32×4×4"]
    assert [editor.image_cell(row, "Kernel").value() for row in range(4)] == [5, 2, 5, 2]
    assert editor.width_spin(0).value() == 128
    assert f"Parameters: {build_stack(preset.layers, 784, 10).param_count():,}" in editor.param_label.text()
    editor.image_cell(0, "Channels").setValue(6)
    assert window.preset_bar.current() == "custom"
    while editor.image_table.rowCount():  # without image layers: a plain network again
        editor.remove_image_layer()
    assert window.run_config().layers == () and window.run_config().hidden == hidden_layers(128)


def test_a_stack_the_rows_cannot_show_is_kept_until_an_edit(window, click):
    editor = window.layer_editor
    odd = ("conv3x3x4", "pool2", "relu", "flatten", "dense16", "relu")
    assert edited_stack(odd) is None
    editor.set_config(RunConfig(layers=odd))
    assert window.run_config().layers == odd and editor.stack_note.isVisible()
    assert "conv3x3x4,pool2,relu" in editor.stack_note.text()
    click("addPoolLayerButton")
    assert not editor.stack_note.isVisible()
    assert window.run_config().layers == ("pool2", "flatten", "dense128", "relu")


def test_rows_round_trip_every_stack_they_write():
    for tokens in (("conv5x5x16", "relu", "pool2", "conv5x5x32", "relu", "pool2", "flatten", "dense128", "relu"),
                   ("conv3x3x4s2p1", "pool3s2", "flatten", "dense20", "tanh", "dropout0.25", "dense10", "sigmoid",
                    "dropout0.25"),
                   ("dense64", "relu")):
        stack = edited_stack(tokens)
        assert stack is not None, tokens
    assert edited_stack(("conv3x3x4", "relu", "dense10", "relu")) is None  # no flatten


def test_the_window_trains_the_stack_the_editor_shows(qtbot, window, click):
    editor = window.layer_editor
    click("addConvLayerButton")
    editor.image_cell(0, "Channels").setValue(4)
    click("addPoolLayerButton")
    editor.width_spin(0).setValue(16)
    configure(window, train_size=600, epochs=1, batch_size=32)
    run = run_in_window(qtbot, window, click)
    assert run.status == "finished"
    model = window.current_model
    assert layer_tokens(model) == ("conv5x5x4", "relu", "pool2", "flatten", "dense16", "relu")
    assert model.layers[1].params["W"].shape == (4, 1, 5, 5)
    assert np.isfinite(model.layers[1].params["W"]).all()
    assert window.continue_check.isEnabled()  # the editor describes the model just trained
