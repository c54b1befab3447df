"""What the window keeps of a run: a diverged run's curve and model, the learning rates set mid-run,
continued runs on the epochs after their parent's, what a Step did, and how comparisons are drawn
and labelled (issue 13)."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
from gui_view_support import RUN_TIMEOUT, configure, wait_for_views
from gui_view_support import run_in_window as train

from gui.runs import write_curves_csv
from gui.views import EmbeddingView
from scratchnet.training import params_finite


def set_hidden(window, click, widths):
    editor = window.layer_editor
    while editor.table.rowCount() < len(widths):
        click("addLayerButton")
    for i, width in enumerate(widths):
        editor.width_spin(i).setValue(width)


def test_a_diverged_run_stays_with_its_curve_up_to_the_blow_up_and_its_last_finite_model(
        qtbot, window, click, capfd, tmp_path):
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
        map_view = window.findChild(EmbeddingView, "embeddingView")
        for index in range(window.views.count()):  # every view draws the diverged model
            window.views.setCurrentIndex(index)
            wait_for_views(window)
            qtbot.waitUntil(lambda: "Computing" not in map_view.knn_label.text(), timeout=10_000)
            qtbot.wait(50)
        # its own worker ran: a map of the last finite model, or the reason there is none
        assert any(said in map_view.knn_label.text() for said in ("too large to map", "nearest-neighbour accuracy"))
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
    assert window.status_label.text() == "Error: see the message above the plots."
    # no NumPy warnings from the engine, the worker or the window's drawing
    where = [f"{w.filename}:{w.lineno} {w.message}" for w in caught]
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], where
    assert "RuntimeWarning" not in capfd.readouterr().err
    # its finite losses export like any run's
    write_curves_csv([run], tmp_path / "curves.csv")
    rows = list(csv.DictReader(open(tmp_path / "curves.csv", encoding="utf-8")))
    assert [float(r["value"]) for r in rows] == pytest.approx(losses.tolist(), rel=1e-5)


def test_a_learning_rate_set_mid_run_is_recorded_listed_detailed_and_marked(qtbot, window, click):
    """Issue 13, bug 7."""
    configure(window, train_size=3000, epochs=2, batch_size=16, lr=0.05)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        click("startButton")
        qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)
        seen = window.progress["update"]
        window.training_panel.learning_rate_spin.setValue(0.01)
    run = finished.args[0]
    assert len(run.lr_changes) == 1
    change = run.lr_changes[0]
    assert change.lr == pytest.approx(0.01) and seen < change.update <= run.result["update"]
    assert run.epochs[-1]["lr"] == pytest.approx(0.01)
    assert "lr 0.05→0.01" in window.runs_panel.list.item(0).text()
    window.runs_panel.select([run.run_id])
    details = window.runs_panel.details.text()
    assert f"0.01 from update {change.update:,}" in details
    # a line on the curves where the new rate began, in the x axis' unit
    assert window.plots.rate_change_marks(run.run_id) == [(pytest.approx((change.update - 1) / 188), "lr 0.01")]
    combo = window.runs_panel.x_axis_combo
    combo.setCurrentIndex(combo.findData("samples"))
    epochs, within = divmod(change.update - 1, 188)  # 187 batches of 16, then one of 8
    assert window.plots.rate_change_marks(run.run_id)[0][0] == pytest.approx(3000 * epochs + 16 * within)


def test_train_curves_say_how_they_were_measured_and_the_end_of_epoch_option_draws_inference_accuracy(
        qtbot, window, click, mnist):
    window.layer_editor.dropout_spin.setValue(0.5)
    window.training_panel.augment_check.setChecked(True)
    configure(window, train_size=2000, epochs=2)
    window.curve_options.train_eval_check.setChecked(True)
    run = train(qtbot, window, click)
    entries = window.plots.legend_entries(window.plots.accuracy_plot)
    assert "train (during the epoch, with dropout and augmentation)" in entries
    assert "train, end of epoch, inference mode (10,000 images)" in entries
    # the run trained on 2,000 images: all of them are measured, without dropout or augmentation
    assert run.spec.train_eval_size == 10_000 and run.epochs[-1]["train_eval_size"] == 2000
    x, accuracy = window.plots.curve_data(run.run_id, "train_eval_accuracy")
    np.testing.assert_allclose(x, [1, 2])
    from scratchnet.training import evaluate
    data = mnist.subset(2000)
    assert accuracy[-1] == pytest.approx(100 * evaluate(window.current_model, data.x_train, data.y_train)[1])
    # without the option, no such curve
    window.curve_options.train_eval_check.setChecked(False)
    plain = train(qtbot, window, click)
    assert plain.spec.train_eval_size == 0 and len(window.plots.curve_data(plain.run_id, "train_eval_accuracy")[0]) == 0
    assert "train_eval_accuracy" not in plain.epochs[-1]


def test_compared_runs_label_every_line_show_raw_losses_on_request_and_zoom_the_accuracy_axis(
        qtbot, window, click):
    configure(window, train_size=600, epochs=2, lr=0.05)
    window.resize(1024, 600)  # the smallest screen the window is made for
    train(qtbot, window, click, button="compareButton")
    runs = window.runs
    plots = window.plots
    loss_entries = plots.legend_entries(plots.loss_plot)
    accuracy_entries = plots.legend_entries(plots.accuracy_plot)
    for run in runs:
        assert f"{run.label}: train" in accuracy_entries and f"{run.label}: test" in accuracy_entries
        assert {f"{run.label}: train", f"{run.label}: test", f"{run.label}: per update (smoothed)"} <= set(loss_entries)
    assert len(loss_entries) == 9 and len(accuracy_entries) == 6
    for plot in (plots.loss_plot, plots.accuracy_plot):
        # the legend sits under the plot's data and axes, whole: it covers no curve
        item, legend = plot.getPlotItem(), plot.legend_below
        legend_rect = legend.sceneBoundingRect()
        assert legend_rect.top() >= item.getAxis("bottom").sceneBoundingRect().bottom() - 1
        assert not legend_rect.intersects(item.vb.sceneBoundingRect())
        assert plot.sceneRect().contains(legend_rect) and legend.isVisible()
    # narrower still, the rows are headed by the runs' numbers alone (their colours are in the runs list)
    window.resize(700, 600)
    qtbot.waitUntil(lambda: plots.legend_entries(plots.loss_plot)[0] == f"#{runs[0].run_id}: per update (smoothed)")
    window.resize(1024, 600)
    qtbot.waitUntil(lambda: plots.legend_entries(plots.loss_plot)[0] == f"{runs[0].label}: per update (smoothed)")
    sgd = runs[2]
    smoothed = plots.curve_data(sgd.run_id, "updates")[1]
    window.curve_options.raw_loss_check.setChecked(True)
    raw = plots.curve_data(sgd.run_id, "updates")[1]
    np.testing.assert_array_equal(raw, sgd.trace.view()[:, 1])  # every update's own loss
    assert np.abs(np.diff(raw)).mean() > 5 * np.abs(np.diff(smoothed)).mean()  # the noise shows
    assert f"{sgd.label}: per update" in plots.legend_entries(plots.loss_plot)
    # accuracy axis: 0-100, or the data's range in steps of 5%
    axis = plots.accuracy_plot.getPlotItem().getViewBox()
    assert axis.viewRange()[1] == pytest.approx([0, 100])
    window.curve_options.zoom_check.setChecked(True)
    drawn = np.concatenate([plots.curve_data(r.run_id, k)[1] for r in runs for k in ("accuracy", "test_accuracy")])
    low, high = axis.viewRange()[1]
    assert low <= drawn.min() and drawn.max() <= high and high - low < 100
    assert low == pytest.approx(5 * np.floor(drawn.min() / 5 - 0.2))
    window.curve_options.zoom_check.setChecked(False)
    assert axis.viewRange()[1] == pytest.approx([0, 100])


def test_compare_initialisations_names_each_run_by_its_initialisation(qtbot, window, click):
    configure(window, train_size=500, epochs=1)
    window.resize(1024, 600)
    train(qtbot, window, click, button="compareInitButton")
    texts = [window.runs_panel.list.item(i).text() for i in range(window.runs_panel.list.count())]
    labels = [run.label for run in window.runs]
    assert len(set(texts)) == len(set(labels)) == 2
    assert "small normal" in texts[0] and "init He" in texts[1]
    assert [run.spec.config.init for run in window.runs] == ["normal", "he"]
    entries = window.plots.legend_entries(window.plots.accuracy_plot)
    assert {f"{label}: test" for label in labels} <= set(entries)


def test_continued_training_is_drawn_on_the_epochs_after_its_parent_and_linked_to_it(qtbot, window, click,
                                                                                      tmp_path):
    configure(window, train_size=1000, epochs=3)
    parent = train(qtbot, window, click)
    window.continue_check.setChecked(True)
    child = train(qtbot, window, click)
    assert child.parent is parent
    x, _ = window.plots.curve_data(child.run_id, "test_accuracy")
    np.testing.assert_allclose(x, [4, 5, 6])
    updates_x, _ = window.plots.curve_data(child.run_id, "updates")
    per_epoch = child.updates_per_epoch
    np.testing.assert_allclose(updates_x[[0, -1]], [3 + 1 / per_epoch, 6])
    # drawn together with its parent, and both say how they are linked
    assert {run.run_id for run in window.plots.runs} == {parent.run_id, child.run_id}
    assert f"continues #{parent.run_id}" in window.runs_panel.list.item(1).text()
    window.runs_panel.select([child.run_id])
    assert f"Continues run #{parent.run_id}" in window.runs_panel.details.text()
    # in samples too: after the parent's 3,000
    combo = window.runs_panel.x_axis_combo
    combo.setCurrentIndex(combo.findData("samples"))
    assert window.plots.curve_data(child.run_id, "test_accuracy")[0][0] == pytest.approx(4000)
    # the CSV keeps each run's own numbers: the child's samples start again from its first update
    write_curves_csv([child], tmp_path / "child.csv")
    rows = [r for r in csv.DictReader(open(tmp_path / "child.csv", encoding="utf-8"))
            if r["series"] == "loss_per_update"]
    assert rows[0]["update"] == "1" and 0 < int(rows[0]["samples_seen"]) <= 64  # interpolated between logs
    assert rows[-1]["samples_seen"] == "3000"
    # the link is kept wherever the runs go: the runs list's tooltip, the CSV export, a saved model
    assert f"Continues run #{parent.run_id}" in window.runs_panel.list.item(1).toolTip()
    write_curves_csv([parent, child], tmp_path / "both.csv")
    links = {(r["run"], r["continues_run"]) for r in csv.DictReader(open(tmp_path / "both.csv", encoding="utf-8"))}
    assert links == {(str(parent.run_id), ""), (str(child.run_id), str(parent.run_id))}
    from scratchnet.serialization import load_model_file
    assert window.controller.model_run is child
    window.files.save_model_to(str(tmp_path / "continued.npz"))
    history = load_model_file(tmp_path / "continued.npz").metadata["history"]
    assert [(h["run"], h["continues"], h["epochs"]) for h in history] == [
        (parent.run_id, None, 3), (child.run_id, parent.run_id, 3)]
    assert history[1]["test_accuracy"] == pytest.approx(child.result["test_accuracy"])


def test_step_shows_its_batch_its_loss_before_and_after_and_how_far_each_layer_moved(qtbot, window, click, mnist):
    from scratchnet.training import evaluate

    configure(window, train_size=5000, epochs=2, batch_size=16)
    panel = window.step_panel
    assert panel.objectName() == "stepReportPanel" and panel.isHidden()
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT):
        click("startButton")
        qtbot.waitUntil(lambda: window.progress.get("update", 0) > 0, timeout=30_000)
        click("pauseButton")
        qtbot.wait(300)
        with qtbot.waitSignal(window.controller.stepped, timeout=10_000) as stepped:
            click("stepButton")
        report = stepped.args[0]
        qtbot.waitUntil(lambda: window.progress["update"] == report.update, timeout=10_000)
        assert panel.isVisible() and panel.report is report
        # the batch: 16 training images of the run's subset, with their own labels
        data = mnist.subset(5000)
        assert report.batch_size == 16 and len(set(report.indices.tolist())) == 16
        np.testing.assert_array_equal(report.inputs, data.x_train[report.indices])
        np.testing.assert_array_equal(report.labels, data.y_train[report.indices])
        # the views now show the stepped weights: the loss after is theirs on that batch
        assert window.controller.model_run is window.controller.run
        assert report.loss_after == pytest.approx(evaluate(window.current_model, report.inputs, report.labels)[0])
        summary = panel.summary.text()
        assert f"{report.loss_before:.4f}" in summary and f"{report.loss_after:.4f}" in summary
        assert f"Update {report.update:,} used 16 training images" in summary
        moves = panel.moves.text().splitlines()
        assert len(moves) == 2 and moves[0].startswith("Dense 1 (784→128): ‖ΔW‖ = ")
        assert all(move.weight_change > 0 for move in report.moves)
        assert panel.images_grid.count() == 2 * 16  # each image and its caption
        click("pauseButton")
    assert panel.isVisible()  # until the next run starts


def test_the_named_widgets_exist_from_the_windows_start(window):
    from PySide6.QtWidgets import QWidget

    for name in ("rawLossCheck", "accuracyZoomCheck", "trainEvalCheck", "stepReportPanel", "stepSummaryLabel",
                 "stepMovesLabel", "hideStepReportButton", "runsList", "runDetailsLabel", "mistakesGrid",
                 "weightsSections"):
        assert window.findChild(QWidget, name) is not None, name
    assert window.step_panel.isHidden()  # until a step
    assert not window.curve_options.train_eval_check.isChecked() and window.curve_options.train_eval_size == 0


def test_the_drawing_pad_reads_a_drawing_with_an_overflowing_model_without_warnings(window, mnist):
    """A diverged run's last finite weights can be ~1e30: its outputs overflow. The pad shows no
    probability instead of NaN, and NumPy stays quiet."""
    from gui_view_support import draw_stroke, quick_model, seven_strokes

    from gui.views import DrawingPad

    model = quick_model(mnist)
    for layer in model.dense_layers:
        layer.params["W"] *= 1e30
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    window.controller.set_model(model, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for stroke in seven_strokes():
            draw_stroke(window.findChild(type(pad.canvas), "drawingCanvas"), stroke)
    probabilities = pad.bars.probabilities()
    assert probabilities is not None and np.isfinite(probabilities).all()
    where = [f"{w.filename}:{w.lineno} {w.message}" for w in caught]
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], where
