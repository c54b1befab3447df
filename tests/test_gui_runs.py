"""What the window keeps of a run: a diverged run's curve and model, the learning rates set mid-run,
continued runs on the epochs after their parent's, what a Step did, and how comparisons are drawn
and labelled (issue 13)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scratchnet.training import params_finite

RUN_TIMEOUT = 90_000


def configure(window, *, descent="mini", train_size=2000, epochs=1, batch_size=64, lr=None, schedule="constant"):
    panel = window.training_panel
    panel.descent_radios[descent].setChecked(True)
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData(schedule))
    panel.train_size_spin.setValue(train_size)
    panel.batch_size_spin.setValue(batch_size)
    panel.epochs_spin.setValue(epochs)
    if lr is not None:
        panel.learning_rate_spin.setValue(lr)


def train(qtbot, window, click, button="startButton"):
    """Click ``button`` and wait until the window is idle again; the last run."""
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as blocker:
        click(button)
    return blocker.args[0]


def set_hidden(window, click, widths):
    editor = window.layer_editor
    while editor.table.rowCount() < len(widths):
        click("addLayerButton")
    for i, width in enumerate(widths):
        editor.width_spin(i).setValue(width)


def test_a_diverged_run_stays_with_its_curve_up_to_the_blow_up_and_its_last_finite_model(
        qtbot, window, click, capfd):
    """Issue 13, bug 1: Quick start, then 784-128-64-32-10 at learning rate 10."""
    window.apply_preset("quick-start")
    configure(window, train_size=2000, epochs=1, schedule="cosine")
    first = train(qtbot, window, click)
    assert first.status == "finished" and window.status.run_bar.value() == 1000
    set_hidden(window, click, [128, 64, 32])
    configure(window, train_size=2000, epochs=1, lr=10.0, schedule="cosine")
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(qtbot, window, click)
        for index in range(window.views.count()):  # every view draws the diverged model
            window.views.setCurrentIndex(index)
            qtbot.wait(50)
        window.views.setCurrentIndex(0)
    assert run.status == "diverged" and "diverged" in window.error_label.text()
    # in the runs list, marked
    assert window.runs_panel.list.count() == 2
    text = window.runs_panel.list.item(1).text()
    assert "DIVERGED at update" in text and "lr 10" in text
    # the curve holds every update's loss before the non-finite one, then the blow-up marker
    x, losses = window.plots.curve_data(run.run_id, "updates")
    assert run.diverged_at >= 3 and len(losses) == run.diverged_at - 1
    assert np.isfinite(losses).all() and losses[-1] > 10 * losses[0]
    np.testing.assert_allclose(x, np.arange(1, run.diverged_at) / run.updates_per_epoch)
    marker_x, marker_y = window.plots.curve_data(run.run_id, "diverged")
    assert marker_x[0] == pytest.approx(run.diverged_at / run.updates_per_epoch) and marker_y[0] == losses[-1]
    assert window.plots.runs == [run]
    # the views show its last finite model, not the previous run's
    model = window.current_model
    assert window.controller.model_run is run and params_finite(model)
    assert [d.out_features for d in model.dense_layers] == [128, 64, 32, 10]
    # the bars no longer show the previous run's 100%
    assert window.status.epoch_bar.value() == 0 and window.status.run_bar.value() == 0
    # no NumPy warnings from the engine, the worker or the window's drawing
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    assert "RuntimeWarning" not in capfd.readouterr().err
