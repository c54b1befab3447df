"""The layer editor's convolution and pooling layers (issue 18): each row's settings and output
shape, the parameter count, a stack that does not fit refused inline with Start disabled, the
convolutional preset, and a run from the window that trains the stack the editor shows."""

from __future__ import annotations

import numpy as np
import pytest
from gui_view_support import configure, run_in_window

from gui.layer_editor import MAX_IMAGE_LAYERS, ImageLayer, edited_stack
from gui.persistence import KEYS, config_from_json
from scratchnet.presets import PRESETS
from scratchnet.run_config import RunConfig, hidden_layers
from scratchnet.stacks import build_stack, layer_tokens, stack_shapes, token_fields


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
    for _ in range(MAX_IMAGE_LAYERS - 2):
        click("addPoolLayerButton")
    assert editor.image_table.rowCount() == MAX_IMAGE_LAYERS and not editor.add_conv_button.isEnabled()
    assert editor.add_pool_button.toolTip().startswith(f"No more image layers: at most {MAX_IMAGE_LAYERS}")
    editor.add_image_layer(editor.image_layers()[0])
    assert editor.image_table.rowCount() == MAX_IMAGE_LAYERS


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
    assert edited_stack(("conv3x3x4", "relu", "flatten", "dense10", "relu", "dropout0.5", "dense8", "relu",
                         "dropout0.25")) is None  # one dropout rate for every Dense layer
    stack = edited_stack(("conv3x3x4s2p1", "pool3s2", "flatten", "dense20", "tanh", "dropout0.25"))
    assert stack.image[0] == ImageLayer("conv", 3, 4, 2, 1, "none") and stack.image[1] == ImageLayer("pool", 3, 0, 2)
    assert stack.hidden == hidden_layers(20, activation="tanh") and stack.dropout == 0.25
    assert token_fields("conv5x5x6p2") == {"kind": "conv", "kernel": 5, "channels": 6, "stride": 1, "padding": 2}
    assert token_fields("pool3") == {"kind": "pool", "kernel": 3, "stride": 3}
    assert token_fields("dropout0.5") == {"kind": "dropout", "rate": 0.5} and token_fields("relu") == {"kind": "relu"}


def test_the_window_trains_the_stack_the_editor_shows_saves_and_reopens_it(qtbot, window, click, mnist, tmp_path):
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
    path = tmp_path / "conv.npz"
    window.files.save_model_to(str(path))
    expected = model.predict_proba(mnist.x_test[:50])
    window.apply_preset("quick-start")  # another network in the editor, then the file brings the stack back
    assert window.run_config().layers == ()
    window.files.open_model_from(str(path))
    reopened = window.current_model
    assert reopened is not model and layer_tokens(reopened) == layer_tokens(model)
    np.testing.assert_array_equal(reopened.predict_proba(mnist.x_test[:50]), expected)
    assert window.run_config().layers == layer_tokens(model) and editor.output_text(0) == "4×24×24"
    assert window.continue_check.isEnabled()


def test_the_window_remembers_a_stack_and_refuses_a_stored_one_that_does_not_fit(open_window, store):
    first = open_window(store)
    first.apply_preset("convolutional")
    stack = first.run_config().layers
    first.close()
    second = open_window(store)
    assert second.run_config().layers == stack and second.preset_bar.current() == "convolutional"
    assert second.layer_editor.output_text(3) == "32×4×4"
    second.close()
    with pytest.raises(ValueError, match="Conv2D kernel 29x29 is larger than its input 1x28x28"):
        config_from_json(RunConfig(layers="conv29x29x4,flatten").to_json())
    store.setValue(KEYS["run"], RunConfig(layers="conv29x29x4,flatten").to_json())
    third = open_window(store)
    assert third.run_config().layers == () and "could not be used" in third.error_label.text()


def test_a_step_of_a_convolutional_run_shows_how_far_its_kernels_moved(qtbot, window, click):
    editor = window.layer_editor
    click("addConvLayerButton")
    editor.image_cell(0, "Channels").setValue(4)
    editor.width_spin(0).setValue(16)
    configure(window, train_size=3000, epochs=2, batch_size=16)
    with qtbot.waitSignal(window.training_finished, timeout=90_000):
        click("startButton")
        qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)
        click("pauseButton")
        with qtbot.waitSignal(window.controller.stepped, timeout=10_000) as stepped:
            click("stepButton")
        report = stepped.args[0]
        qtbot.waitUntil(lambda: window.step_panel.report is report, timeout=10_000)
        moves = window.step_panel.moves.text().splitlines()
        assert moves[0].startswith("Conv 1 (5×5, 1→4 channels): ‖ΔW‖ = ") and moves[1].startswith("Dense 1 (2304→16)")
        assert report.moves[0].weight_change > 0
        click("stopButton")
