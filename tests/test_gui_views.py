"""The inspection views inside the real window: misclassified grid, confusion matrix, inside
the network, and models saved and loaded through the File menu."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gui_view_support import draw_stroke, quick_model, seven_strokes, show_model, wait_for_views
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton, QToolButton

from gui.views import ConfusionView, DrawingPad, MisclassifiedView, WeightsView
from gui.views.weights import TILES_PER_PAGE
from scratchnet.losses import softmax
from scratchnet.network import mlp


@pytest.fixture(scope="session")
def model(mnist):
    return quick_model(mnist)


@pytest.fixture(scope="session")
def truth(model, mnist):
    """Independent reference: predictions and probabilities computed here with NumPy."""
    probabilities = softmax(model.forward(mnist.x_test))
    predicted = model.predict(mnist.x_test)
    return {"predicted": predicted, "probabilities": probabilities, "wrong": predicted != mnist.y_test}


def view(window, cls, name):
    widget = window.findChild(cls, name)
    assert widget is not None, name
    return widget


def bring_to_front(window, widget) -> None:
    window.views.setCurrentWidget(widget)
    wait_for_views(window)  # a stale view computes in the worker thread, then draws


@pytest.fixture
def grid(window, model):
    """The misclassified grid, in front, showing the session model."""
    misclassified = view(window, MisclassifiedView, "misclassifiedView")
    bring_to_front(window, misclassified)
    show_model(window, model)
    return misclassified


def pick(combo, value) -> None:
    combo.setCurrentIndex(combo.findData(value))


def test_the_model_is_good_but_makes_hundreds_of_mistakes(truth, mnist):
    assert 150 < truth["wrong"].sum() < 1500


def test_count_and_filters_match_an_independent_count(grid, truth, mnist):
    wrong = truth["wrong"]
    assert grid.count_label.text() == f"{wrong.sum():,} of 10,000 wrong"
    assert len(grid.shown_indices()) == wrong.sum()

    pick(grid.true_combo, 3)
    expected = np.flatnonzero(wrong & (mnist.y_test == 3))
    assert sorted(grid.shown_indices()) == list(expected)
    assert grid.count_label.text().startswith(f"{len(expected):,} shown")

    pick(grid.predicted_combo, 5)
    expected = np.flatnonzero(wrong & (mnist.y_test == 3) & (truth["predicted"] == 5))
    assert sorted(grid.shown_indices()) == list(expected)

    pick(grid.true_combo, None)
    expected = np.flatnonzero(wrong & (truth["predicted"] == 5))
    assert sorted(grid.shown_indices()) == list(expected)
    assert all(truth["predicted"][i] == 5 and mnist.y_test[i] != 5 for i in grid.page_indices())


def test_sorting_by_confidence_puts_the_most_confident_mistake_first(grid, truth):
    confidence = truth["probabilities"].max(axis=1)
    wrong = np.flatnonzero(truth["wrong"])
    shown = grid.shown_indices()
    assert shown[0] == wrong[np.argmax(confidence[wrong])]
    assert np.all(np.diff(confidence[shown]) <= 1e-6)
    first_cell = grid.cells[0]
    assert first_cell.text().endswith(f" {int(100 * confidence[shown[0]])}%")

    pick(grid.sort_combo, "index")
    assert list(grid.shown_indices()) == list(wrong)


def test_paging_walks_through_every_mistake(qtbot, grid, truth):
    total = int(truth["wrong"].sum())
    pages = -(-total // grid.page_size)
    assert grid.page_count == pages and grid.page_label.text() == f"page 1 of {pages}"
    assert not grid.prev_button.isEnabled()
    seen = []
    for page in range(pages):
        assert grid.page == page
        seen.extend(grid.page_indices())
        visible = [cell for cell in grid.cells if cell.isVisibleTo(grid)]
        assert len(visible) == len(grid.page_indices())
        if page < pages - 1:
            qtbot.mouseClick(grid.next_button, Qt.LeftButton)
    assert not grid.next_button.isEnabled()
    assert sorted(seen) == list(np.flatnonzero(truth["wrong"]))
    qtbot.mouseClick(grid.prev_button, Qt.LeftButton)
    assert grid.page == pages - 2


def test_clicking_a_digit_opens_its_details_and_selects_it_inside_the_network(qtbot, window, grid, truth, mnist):
    index = int(grid.page_indices()[1])
    qtbot.mouseClick(view(window, QToolButton, "digitCell1"), Qt.LeftButton)
    detail = grid.detail
    assert detail.isVisible()
    assert f"#{index}" in detail.title_label.text()
    assert f"true {mnist.y_test[index]}" in detail.title_label.text()
    np.testing.assert_allclose(detail.bars.probabilities(), truth["probabilities"][index], atol=1e-6)
    top3 = np.argsort(-truth["probabilities"][index])[:3]
    text = detail.top3_label.text()
    positions = [text.index(f"<li><b>{k}</b>") for k in top3]
    assert positions == sorted(positions)
    weights = view(window, WeightsView, "weightsView")
    assert weights.test_spin.value() == index and weights.source_combo.currentData() == "test"
    detail.close()


def test_confusion_matrix_counts_and_a_clicked_cell_filters_the_grid(qtbot, window, model, truth, mnist):
    confusion = view(window, ConfusionView, "confusionView")
    bring_to_front(window, confusion)
    show_model(window, model)
    predicted = truth["predicted"]
    assert confusion.table.item(3, 5).text() == f"{np.sum((mnist.y_test == 3) & (predicted == 5)):,}"
    recall_7 = np.mean(predicted[mnist.y_test == 7] == 7)
    precision_7 = np.mean(mnist.y_test[predicted == 7] == 7)
    assert confusion.table.item(7, 10).text() == f"{100 * recall_7:.1f}%"
    assert confusion.table.item(10, 7).text() == f"{100 * precision_7:.1f}%"

    table = confusion.table
    rect = table.visualItemRect(table.item(9, 4))
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())
    grid = view(window, MisclassifiedView, "misclassifiedView")
    assert window.views.currentWidget() is grid
    assert grid.filters() == (9, 4)
    assert len(grid.shown_indices()) == np.sum((mnist.y_test == 9) & (predicted == 4)) > 0

    bring_to_front(window, confusion)
    rect = table.visualItemRect(table.item(2, 2))
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())
    assert grid.filters() == (2, None)  # the diagonal: every mistake on a true 2
    assert len(grid.shown_indices()) == np.sum(truth["wrong"] & (mnist.y_test == 2))


def test_hidden_views_refresh_only_when_shown(window, model):
    confusion = view(window, ConfusionView, "confusionView")
    window.views.setCurrentIndex(0)
    show_model(window, model)
    assert confusion.matrix is None
    bring_to_front(window, confusion)
    assert confusion.matrix.sum() == 10_000


def test_inside_the_network_shows_tiles_histograms_dead_units_and_activations(qtbot, window, model, mnist):
    weights = view(window, WeightsView, "weightsView")
    bring_to_front(window, weights)
    show_model(window, model)
    mosaic, columns = weights.tiles.image, weights.tiles.shown_columns
    assert columns == min(8, weights.tiles.columns)  # 64 units: 8×8 tiles with 1-px gaps when they fit
    assert mosaic.shape == (-(-64 // columns) * 29 + 1, columns * 29 + 1, 4)
    assert weights.tile_page_count == 1 and not weights.tiles_next.isEnabled()
    # centred on zero: a zero weight is white, positive red, negative blue
    from gui.views.weights import tile_mosaic
    tiny = tile_mosaic(np.array([[0.0], [1.0], [-1.0]] + [[0.0]] * 781), 0, 1, 1.0)
    white, red, blue = tiny[1, 1], tiny[1, 2], tiny[1, 3]
    assert white[:3].min() > 200 and red[0] > red[2] + 100 and blue[2] > blue[0] + 100

    names = [item.name() for item in weights.weight_plot.plotItem.listDataItems()]
    assert names == ["layer 1 (784→64)", "layer 2 (64→10)"]
    assert len(weights.gradient_plot.plotItem.listDataItems()) == 2
    hidden = np.maximum(mnist.x_test[:1000] @ model.layers[0].params["W"] + model.layers[0].params["b"], 0)
    dead = int(np.sum(~(hidden > 0).any(axis=0)))
    assert f"hidden 1 (ReLU, 64 units): {dead} dead" in weights.dead_label.text()
    assert "On 1,000 test images" in weights.dead_label.text()
    assert "mean loss" in weights.gradient_plot.plotItem.titleLabel.text

    weights.select_test_digit(42)
    first, output = weights.activation_values()
    np.testing.assert_allclose(first, hidden[42], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(output, model.predict_proba(mnist.x_test[42:43])[0], rtol=1e-5, atol=1e-7)


def test_wide_first_layers_are_paged(qtbot, window, mnist):
    wide = mlp(784, [300], 10, rng=np.random.default_rng(1))
    weights = view(window, WeightsView, "weightsView")
    bring_to_front(window, weights)
    show_model(window, wide)
    assert weights.tile_page_count == 2
    assert weights.tiles_label.text().startswith(f"units 1–{TILES_PER_PAGE} of 300")
    qtbot.mouseClick(weights.tiles_next, Qt.LeftButton)
    assert weights.tile_page == 1 and weights.tiles_label.text().startswith("units 257–300 of 300")
    columns = weights.tiles.shown_columns
    assert columns == min(7, weights.tiles.columns)  # 44 units: a 7×7 grid when it fits
    assert weights.tiles.image.shape == (-(-44 // columns) * 29 + 1, columns * 29 + 1, 4)


def test_drawn_digit_drives_the_activations(window, model):
    weights = view(window, WeightsView, "weightsView")
    pad = view(window, DrawingPad, "drawingPad")
    bring_to_front(window, pad)
    show_model(window, model)
    for stroke in seven_strokes():
        draw_stroke(pad.canvas, stroke)
    bring_to_front(window, weights)
    assert weights.source_combo.currentData() == "drawing"
    np.testing.assert_allclose(weights.activation_values()[-1], model.predict_proba(pad.digit[None])[0], rtol=1e-5)


def test_save_and_open_a_model_through_the_file_menu(qtbot, window, grid, model, truth, tmp_path, monkeypatch):
    path = str(tmp_path / "quick.npz")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (path, ""))
    window.save_action.trigger()
    assert (tmp_path / "quick.npz").exists()

    show_model(window, mlp(784, [64], 10, rng=np.random.default_rng(5)))  # an untrained model
    pad = view(window, DrawingPad, "drawingPad")
    for stroke in seven_strokes():
        draw_stroke(pad.canvas, stroke)
    untrained_guess = pad.bars.probabilities()
    assert grid.count_label.text() != f"{truth['wrong'].sum():,} of 10,000 wrong"

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (path, ""))
    window.open_action.trigger()
    wait_for_views(window)
    loaded = window.current_model
    assert loaded is not model
    np.testing.assert_array_equal(loaded.predict(pad.digit[None]), model.predict(pad.digit[None]))
    # every view follows the loaded model at once
    assert grid.count_label.text() == f"{truth['wrong'].sum():,} of 10,000 wrong"
    np.testing.assert_allclose(pad.bars.probabilities(), model.predict_proba(pad.digit[None])[0], rtol=1e-5)
    assert not np.allclose(pad.bars.probabilities(), untrained_guess)
    confusion = view(window, ConfusionView, "confusionView")
    bring_to_front(window, confusion)
    assert np.trace(confusion.matrix) == 10_000 - truth["wrong"].sum()


def test_a_failed_load_shows_the_error_and_changes_nothing(window, grid, model, tmp_path, monkeypatch):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"this is not a model")
    count = grid.count_label.text()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(broken), ""))
    window.open_action.trigger()
    assert window.error_label.isVisibleTo(window) and window.error_label.text()
    assert window.current_model is model
    assert grid.count_label.text() == count


def test_every_named_control_exists(window):
    for cls, name in ((MisclassifiedView, "misclassifiedView"), (ConfusionView, "confusionView"),
                      (WeightsView, "weightsView"), (DrawingPad, "drawingPad"), (QPushButton, "clearButton")):
        assert view(window, cls, name).objectName() == name


def test_while_training_the_visible_view_refreshes_at_most_once_a_second(qtbot, window, grid, model, mnist,
                                                                           monkeypatch):
    from gui.main_window import MainWindow
    from gui.views import ViewRefresher

    newer = quick_model(mnist, hidden=(16,), train_size=1000)
    expected = f"{int(np.sum(newer.predict(mnist.x_test) != mnist.y_test)):,} of 10,000 wrong"
    shown = grid.count_label.text()
    assert shown != expected
    monkeypatch.setattr(MainWindow, "is_running", property(lambda self: True))
    window.findChild(ViewRefresher, "viewRefresher").refresh()  # a refresh has just happened
    start = time.perf_counter()
    show_model(window, newer)
    assert grid.count_label.text() == shown  # deferred
    qtbot.waitUntil(lambda: grid.count_label.text() == expected, timeout=3000)
    assert time.perf_counter() - start >= 0.9


def test_leaky_relu_units_are_never_reported_dead(mnist):
    from gui.views.weights import stuck_units_text
    from scratchnet.explain import batch_stats

    model = mlp(784, [16], 10, activation="leaky_relu", rng=np.random.default_rng(0))
    model.layers[0].params["b"][:4] = -100.0  # four units whose input is negative for every image
    stats = batch_stats(model, mnist.x_test[:200], mnist.y_test[:200])
    z = mnist.x_test[:200] @ model.layers[0].params["W"] + model.layers[0].params["b"]
    never_positive = int(np.sum((z <= 0).all(axis=0)))
    assert never_positive >= 4
    text = stuck_units_text(stats.units, stats.samples)
    assert text.startswith(f"On 200 test images:\nhidden 1 (LeakyReLU, 16 units): {never_positive} never positive")
    assert "dead" not in text and "it still learns, through the leak" in text
