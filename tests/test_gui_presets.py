"""The preset combo through the real widgets: each preset fills the panels, an edit makes it
"Custom", Quick start trains well in one click, and the two comparisons overlay their runs."""

from __future__ import annotations

import pytest

from gui.presets_ui import CUSTOM, PRESET_ORDER, descent_comparison, preset_spec
from scratchnet.augment import Augmenter
from scratchnet.presets import PRESETS

RUN_TIMEOUT = 90_000


def choose_preset(window, name: str) -> None:
    """Pick ``name`` in the combo the way a user does (index changed, then ``activated``)."""
    combo = window.preset_bar.combo
    index = combo.findData(name)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def shown_settings(window) -> dict:
    """What the widgets display, read from the widgets themselves."""
    editor, panel = window.layer_editor, window.training_panel
    return {
        "widths": [editor.width_spin(row).value() for row in range(editor.table.rowCount())],
        "activations": [editor.activation_combo(row).currentData() for row in range(editor.table.rowCount())],
        "init": editor.init_combo.currentData(),
        "dropout": editor.dropout_spin.value(),
        "descent": next(key for key, radio in panel.descent_radios.items() if radio.isChecked()),
        "batch_size": panel.batch_size_spin.value(),
        "optimizer": panel.optimizer_combo.currentData(),
        "lr": panel.learning_rate_spin.value(),
        "schedule": panel.schedule_combo.currentData(),
        "epochs": panel.epochs_spin.value(),
        "train_size": panel.train_size_spin.value(),
        "augment": panel.augment_check.isChecked(),
    }


def run_and_wait(qtbot, window, click, button: str):
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        click(button)
    return finished.args[0]


def test_a_new_window_starts_on_quick_start(window):
    combo = window.preset_bar.combo
    assert combo.objectName() == "presetCombo" and combo.toolTip()
    assert combo.currentText() == "Quick start" and window.preset_bar.current() == "quick-start"
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "Quick start", "The three descents", "Best accuracy", "Why initialisation matters",
        "Convolutional network", "Custom"]
    spec = preset_spec(PRESETS["quick-start"])
    assert window.run_config() == spec.config
    assert "97.5%" in window.preset_bar.description.text()


@pytest.mark.parametrize("name", PRESET_ORDER)
def test_each_preset_sets_the_widgets(qtbot, window, name):
    if name == "quick-start":
        choose_preset(window, "best-accuracy")  # start elsewhere, so quick-start changes something
    choose_preset(window, name)
    preset, config = PRESETS[name], PRESETS[name].config
    assert shown_settings(window) == {
        "widths": [h.width for h in config.hidden], "activations": [h.activation for h in config.hidden],
        "init": config.init, "dropout": config.dropout, "descent": config.descent, "batch_size": config.batch_size,
        "optimizer": config.optimizer, "lr": config.learning_rate, "schedule": config.schedule,
        "epochs": config.epochs, "train_size": config.train_size or 60_000, "augment": config.augment,
    }
    assert window.preset_bar.combo.currentText() == preset.title
    description = window.preset_bar.description
    assert description.text().startswith(preset.description)
    # the wrapped description gets its full height (the layout above the tabs once squeezed it)
    qtbot.waitUntil(lambda: description.height() >= description.heightForWidth(description.width()) > 0)


def test_any_edit_shows_custom_and_undoing_it_shows_the_preset_again(window):
    choose_preset(window, "best-accuracy")
    assert window.training_panel.augment_check.isChecked()
    window.training_panel.augment_check.setChecked(False)
    assert window.preset_bar.current() == CUSTOM and window.preset_bar.combo.currentText() == "Custom"
    window.training_panel.augment_check.setChecked(True)
    assert window.preset_bar.current() == "best-accuracy"
    window.layer_editor.width_spin(0).setValue(799)
    assert window.preset_bar.current() == CUSTOM


def test_quick_start_trains_to_a_high_accuracy_in_one_click(qtbot, window, click):
    window.training_panel.train_size_spin.setValue(20_000)  # a third of the images, for speed
    run = run_and_wait(qtbot, window, click, "startButton")
    assert run.status == "finished" and len(run.epochs) == 3
    assert run.final_test_accuracy >= 0.95


def test_three_descents_preset_compares_with_each_descents_own_learning_rate(qtbot, window, click):
    choose_preset(window, "three-descents")
    preset = PRESETS["three-descents"]
    # with the preset untouched, the comparison is exactly the preset's three runs
    exact = descent_comparison(window.run_config())
    for spec, variant in zip(exact, preset.variants, strict=True):
        assert spec.config == preset_spec(preset.variant(variant.label)).config
    window.training_panel.train_size_spin.setValue(1500)  # smaller, for speed: now "Custom"
    window.training_panel.epochs_spin.setValue(2)
    last = run_and_wait(qtbot, window, click, "compareButton")
    runs = window.runs
    assert last is runs[-1] and len(runs) == 3
    assert [(r.spec.config.descent, r.spec.config.learning_rate) for r in runs] == [
        ("full", 0.3), ("mini", 0.1), ("sgd", 0.01)]
    assert {r.spec.config.optimizer for r in runs} == {"sgd"} and {r.spec.config.seed for r in runs} == {0}
    assert {r.spec.config.hidden[0].width for r in runs} == {64}
    assert {r.run_id for r in window.plots.runs} == {r.run_id for r in runs}
    assert runs[2].final_test_accuracy > runs[0].final_test_accuracy


def test_compare_descents_with_custom_settings_keeps_the_network_and_uses_the_presets_rates(window):
    window.layer_editor.width_spin(0).setValue(32)
    specs = descent_comparison(window.run_config())
    assert [(s.config.descent, s.config.optimizer, s.config.learning_rate) for s in specs] == [
        ("full", "sgd", 0.3), ("mini", "sgd", 0.1), ("sgd", "sgd", 0.01)]
    assert {s.config.hidden[0].width for s in specs} == {32}
    assert {s.config.epochs for s in specs} == {3}


def test_initialisation_preset_overlays_small_normal_against_he(qtbot, window, click):
    choose_preset(window, "initialisation")
    assert window.preset_bar.description.text().endswith("“Compare initialisations” to train both and overlay them.")
    window.training_panel.train_size_spin.setValue(20_000)  # for speed; 3 epochs make up for it
    window.training_panel.epochs_spin.setValue(3)
    run_and_wait(qtbot, window, click, "compareInitButton")
    small, he = window.runs
    assert (small.spec.config.init, he.spec.config.init) == ("normal", "he")
    assert {r.spec.config.hidden for r in (small, he)} == {window.run_config().hidden}
    assert {r.run_id for r in window.plots.runs} == {small.run_id, he.run_id}
    assert small.final_test_accuracy < 0.2  # stuck near chance
    assert he.final_test_accuracy > small.final_test_accuracy + 0.3


def test_best_accuracy_passes_an_augmenter_to_the_training_loop(qtbot, window, click, monkeypatch):
    import gui.worker

    seen = []
    real_train = gui.worker.train

    def recording_train(*args, **kwargs):
        seen.append(kwargs.get("augment"))
        return real_train(*args, **kwargs)

    monkeypatch.setattr(gui.worker, "train", recording_train)
    choose_preset(window, "best-accuracy")
    window.training_panel.train_size_spin.setValue(256)
    window.training_panel.epochs_spin.setValue(1)
    run_and_wait(qtbot, window, click, "startButton")
    window.training_panel.augment_check.setChecked(False)
    run_and_wait(qtbot, window, click, "startButton")
    # the worker wraps it so that a Step can report the rows it was given (scratchnet.step_report)
    assert isinstance(seen[0].augmenter, Augmenter) and seen[1] is None
    assert [r.spec.config.augment for r in window.runs] == [True, False]


@pytest.mark.parametrize("descent", ["descentFull", "descentSgd"])
def test_augmentation_is_offered_and_applied_on_every_descent(qtbot, window, click, monkeypatch, descent):
    import gui.worker

    starts = []
    real_train = gui.worker.train

    def recording_train(*args, **kwargs):
        for log in real_train(*args, **kwargs):
            if log["event"] == "start":
                starts.append(log)
            yield log

    monkeypatch.setattr(gui.worker, "train", recording_train)
    panel = window.training_panel
    click(descent)
    assert panel.augment_check.isEnabled()
    panel.augment_check.setChecked(True)
    panel.train_size_spin.setValue(256)
    panel.epochs_spin.setValue(1)
    run_and_wait(qtbot, window, click, "startButton")
    assert starts and starts[0]["augmented"] and starts[0]["descent"] == ("full" if descent == "descentFull" else "sgd")
