"""Issue 16 in the window: the time slider over a run's checkpoints, the curves' cursor, and Fork."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gui_view_support import RUN_TIMEOUT, configure, wait_for_views
from gui_view_support import run_in_window as train
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSlider

from gui.fork_dialog import ForkDialog
from gui.time_travel import TimeBar
from gui.views import ConfusionView, MisclassifiedView, WeightsView
from scratchnet.metrics import confusion_matrix


def independent_model(window, run, checkpoint):
    """The run's network built afresh from its settings, with the checkpoint's weights."""
    dataset = window.dataset
    model = run.spec.config.build_model(dataset.x_train.shape[1], dataset.num_classes)
    model.load_state_dict(checkpoint.params)
    return model


def test_the_time_bar_exists_from_the_start_and_waits_for_checkpoints(window):
    slider = window.findChild(QSlider, "timeSlider")
    assert slider is not None and not slider.isEnabled()
    assert window.findChild(TimeBar, "timeBar").isVisible()
    for name in ("forkButton", "runLibraryButton"):
        assert window.findChild(type(window.time_bar.fork_button), name) is not None
    assert not window.time_bar.fork_button.isEnabled()


def test_the_slider_moves_every_view_to_that_checkpoints_weights(qtbot, window, click):
    configure(window, train_size=1000, epochs=2)
    run = train(qtbot, window, click)
    memory = window.controller.checkpoints
    points = memory.list(run.run_id)
    # update 0, about 20 points through a run of under 10 epochs, and both epochs' ends
    assert points[0] == (0, 0, 0) and points[-1] == (2, 2 * run.updates_per_epoch, 2000)
    assert 20 <= len(points) <= 24
    bar, slider = window.time_bar, window.findChild(QSlider, "timeSlider")
    assert slider.isEnabled() and slider.maximum() == len(points) - 1 and slider.value() == slider.maximum()
    epoch_one = points.index((1, run.updates_per_epoch, 1000))
    window.views.setCurrentWidget(window.findChild(ConfusionView))
    slider.setFocus()
    slider.setValue(epoch_one)
    bar.flush()
    wait_for_views(window)
    assert bar.label.text() == f"epoch 1 (update {run.updates_per_epoch:,}) of #{run.run_id}"
    expected = independent_model(window, run, memory.get(run.run_id, epoch_one))
    dataset = window.dataset
    predicted = expected.predict(dataset.x_test)
    confusion = window.findChild(ConfusionView)
    np.testing.assert_array_equal(confusion.matrix, confusion_matrix(dataset.y_test, predicted, 10))
    for name, value in expected.parameters().items():
        np.testing.assert_array_equal(window.current_model.parameters()[name], value)
    # the cursor stands at epoch 1 in both plots, and moves with the x unit
    assert window.plots.cursor_x() == pytest.approx(1.0)
    window.runs_panel.x_axis_combo.setCurrentIndex(window.runs_panel.x_axis_combo.findData("samples"))
    assert window.plots.cursor_x() == pytest.approx(1000)
    # the misclassified view, shown next, counts that checkpoint's mistakes
    window.views.setCurrentWidget(window.findChild(MisclassifiedView))
    wait_for_views(window)
    shown = window.findChild(MisclassifiedView)._context.predictions
    assert shown.wrong().size == int((predicted != dataset.y_test).sum())
    # keys move it one checkpoint at a time: the start, the untrained weights
    qtbot.keyClick(slider, Qt.Key_Home)
    bar.flush()
    window.views.setCurrentWidget(window.findChild(WeightsView))
    wait_for_views(window)
    initial = independent_model(window, run, memory.get(run.run_id, 0))
    np.testing.assert_array_equal(window.current_model.parameters()["0.W"], initial.parameters()["0.W"])
    assert window.plots.cursor_x() == 0.0


def test_a_fork_with_a_new_learning_rate_is_a_linked_run_that_starts_at_the_fork_point(qtbot, window, click):
    configure(window, train_size=1000, epochs=2)
    parent = train(qtbot, window, click)
    points = window.controller.checkpoints.list(parent.run_id)
    window.time_bar.choose(points.index((1, parent.updates_per_epoch, 1000)))
    window.time_bar.flush()
    click("forkButton")
    dialog = window.findChild(ForkDialog, "forkDialog")
    assert dialog is not None and dialog.isVisible()
    assert dialog.epochs_spin.minimum() == 2 and dialog.epochs_spin.value() == 2
    dialog.learning_rate_spin.setValue(0.01)
    dialog.epochs_spin.setValue(3)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(dialog.findChild(type(window.start_button), "forkStartButton"), Qt.LeftButton)
    fork = blocker.args[0]
    assert fork.fork_of is parent and fork.spec.config.learning_rate == 0.01 and fork.status == "finished"
    # its first logged epoch is the one after the fork point, its updates go on from there
    assert [e["epoch"] for e in fork.epochs] == [2, 3]
    assert fork.epochs[0]["update"] == 2 * parent.updates_per_epoch
    assert fork.epochs[-1]["samples_seen"] == 3000
    # drawn in the same chart as its parent, from epoch 1 on
    assert window.plots.runs == [parent, fork]
    x, _losses = window.plots.curve_data(fork.run_id, "updates")
    assert x[0] == pytest.approx(1 + 1 / parent.updates_per_epoch)
    epoch_x, _ = window.plots.curve_data(fork.run_id, "test_loss")
    np.testing.assert_allclose(epoch_x, [2.0, 3.0])
    # linked in the runs list
    text = window.runs_panel.list.item(1).text()
    assert text.startswith("↳") and f"fork of #{parent.run_id} @ epoch 1" in text and "lr 0.01" in text
    # with the parent's own rate its first epoch would be the parent's second, exactly
    assert fork.epochs[0]["loss"] != parent.epochs[1]["loss"]


def test_while_training_the_slider_follows_unless_moved_back_and_then_the_views_stay_there(qtbot, window, click):
    configure(window, train_size=2000, epochs=3)
    bar, controller = window.time_bar, window.controller
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        click("startButton")
        qtbot.waitUntil(lambda: len(bar.points) >= 4, timeout=30_000)
        click("pauseButton")
        qtbot.waitUntil(lambda: controller.paused, timeout=10_000)
        run = controller.run
        assert bar.following and bar.index == len(bar.points) - 1
        assert bar.label.text().endswith(f"of #{run.run_id}")
        bar.choose(0)  # back to the initial weights while the run goes on
        bar.flush()
        initial = controller.checkpoints.get(run.run_id, 0).params["0.W"]
        np.testing.assert_array_equal(window.current_model.parameters()["0.W"], initial)
        seen = len(bar.points)
        click("pauseButton")  # resume
        qtbot.waitUntil(lambda: len(bar.points) > seen + 2, timeout=30_000)
        assert bar.index == 0 and not bar.following  # stays put
        np.testing.assert_array_equal(window.current_model.parameters()["0.W"], initial)
        assert window.plots.cursor_x() == 0.0
    assert finished.args[0] is run
    # still held at the start after the run ended; the end of the slider shows the trained model
    np.testing.assert_array_equal(window.current_model.parameters()["0.W"], initial)
    # held at a checkpoint, Fork continues from it (Continue would draw from the run's end)
    assert not window.continue_check.isEnabled() and "Fork" in window.continue_check.toolTip()
    trained = controller.newest_run is run and controller._newest[0]
    bar.choose(len(bar.points) - 1)
    bar.flush()
    last = controller.checkpoints.get(run.run_id, len(bar.points) - 1)
    assert last.epoch == 3
    np.testing.assert_array_equal(window.current_model.parameters()["0.W"], last.params["0.W"])
    assert window.plots.cursor_x() == pytest.approx(3.0)
    # at the end: the run's own trained model again, not a copy, and Continue is offered
    assert window.current_model is trained and not controller.held and window.continue_check.isEnabled()
    # the next run is followed again
    run_two = train(qtbot, window, click)
    assert window.controller.model_run is run_two and not controller.held


def fork_from(qtbot, window, click, run, point, **changes):
    """Fork ``run`` at checkpoint ``point`` through the dialog with these changes; the fork."""
    window.runs_panel.select([run.run_id])
    window.time_bar.choose(window.time_bar.points.index(point))
    window.time_bar.flush()
    click("forkButton")
    dialog = window.findChild(ForkDialog, "forkDialog")
    if "optimizer" in changes:
        dialog.optimizer_combo.setCurrentIndex(dialog.optimizer_combo.findData(changes["optimizer"]))
    if "descent" in changes:
        dialog.descent_combo.setCurrentIndex(dialog.descent_combo.findData(changes["descent"]))
    if "batch_size" in changes:
        dialog.batch_spin.setValue(changes["batch_size"])
    if "augment" in changes:
        dialog.augment_check.setChecked(changes["augment"])
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(dialog.findChild(type(window.start_button), "forkStartButton"), Qt.LeftButton)
    return blocker.args[0]


def test_a_fork_without_changes_repeats_its_parent_exactly_and_one_with_other_settings_uses_them(
        qtbot, window, click):
    configure(window, train_size=1000, epochs=2)
    parent = train(qtbot, window, click)
    epoch_one = (1, parent.updates_per_epoch, 1000)
    same = fork_from(qtbot, window, click, parent, epoch_one)
    keys = ("loss", "accuracy", "test_loss", "test_accuracy")
    assert [same.epochs[0][k] for k in keys] == [parent.epochs[1][k] for k in keys]
    other = fork_from(qtbot, window, click, parent, epoch_one, optimizer="adam", batch_size=32, augment=True)
    config = other.spec.config
    assert (config.optimizer, config.batch_size, config.augment) == ("adam", 32, True)
    assert other.fork_of is parent and [e["epoch"] for e in other.epochs] == [2]
    assert other.epochs[0]["update"] == parent.updates_per_epoch + 32  # 1000 images in batches of 32
    assert other.epochs[0]["loss"] != parent.epochs[1]["loss"]
    full = fork_from(qtbot, window, click, parent, epoch_one, descent="full")
    assert full.spec.config.descent == "full" and full.epochs[0]["update"] == parent.updates_per_epoch + 1
    # a fork of a fork links to its own parent
    window.runs_panel.select([other.run_id])
    assert window.time_bar.points[0][1] > parent.updates_per_epoch  # its own checkpoints, after the fork point


def test_a_drag_sends_one_request_per_pause_and_a_long_one_now_and_then(qtbot):
    bar = TimeBar()
    qtbot.addWidget(bar)
    bar.set_points([(0, u, 10 * u) for u in range(50)], 10, "#1", index=0)
    sent = []
    bar.moved.connect(sent.append)
    for value in range(1, 6):  # five moves in a burst: one request, for the last
        bar.slider.setValue(value)
    assert sent == []
    qtbot.waitUntil(lambda: sent == [5], timeout=2000)
    assert bar.label.text() == "epoch 0.50 (update 5) of #1" and not bar.following
    sent.clear()
    start = time.perf_counter()
    value = 5
    moves = 0
    while time.perf_counter() - start < 0.4:  # a drag that never pauses (no event loop between moves)
        value = value % 48 + 1
        bar.slider.setValue(value)
        moves += 1
        time.sleep(0.01)
    assert moves > 20 and 2 <= len(sent) <= 3  # every 150 ms, never one per move
    bar.slider.setValue(49)
    assert bar.following


def test_the_dialogs_controls_explain_themselves_and_fit_a_small_screen(qtbot, window, click):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox

    configure(window, train_size=300, epochs=1)
    train(qtbot, window, click)
    click("forkButton")
    fork = window.time_travel.fork_dialog
    library = window.library.open_dialog()
    for dialog in (fork, library):
        controls = [*dialog.findChildren(QAbstractButton), *dialog.findChildren(QAbstractSpinBox),
                    *dialog.findChildren(QComboBox)]
        controls = [c for c in controls if not c.objectName().startswith(("qt_", "Scroll"))]
        assert len(controls) >= 6
        assert not [c.objectName() or c.text() for c in controls if not c.toolTip()]
        hint = dialog.sizeHint().expandedTo(dialog.minimumSizeHint())
        assert hint.width() <= 1024 and hint.height() <= 600
    fork.reject()
    library.reject()


def test_the_time_bar_is_in_view_on_a_1024x600_screen(qtbot, window):
    from PySide6.QtCore import QPoint, QRect

    window.resize(1024, 600)
    qtbot.waitUntil(lambda: window.width() == 1024 and window.height() <= 600, timeout=5000)
    qtbot.wait(50)
    visible = QRect(QPoint(0, 0), window.size())
    for widget in (window.time_bar.slider, window.time_bar.fork_button, window.time_bar.library_button):
        assert widget.isVisible()
        top_left = widget.mapTo(window, QPoint(0, 0))
        assert visible.contains(QRect(top_left, widget.size())), widget.objectName()
