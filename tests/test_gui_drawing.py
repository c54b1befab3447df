"""The drawing pad inside the real window, driven by mouse and key events."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gui_view_support import draw_stroke, quick_model, send_mouse, seven_strokes, show_model
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QWidget

from gui.views import DrawingPad
from gui.views.drawing_pad import NO_PREDICTION, PREDICT_INTERVAL_MS
from gui.views.images import grey_array
from scratchnet.preprocess import prepare_drawing


@pytest.fixture(scope="session")
def model(mnist):
    return quick_model(mnist)


@pytest.fixture
def pad(window, model):
    drawing_pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(drawing_pad)
    show_model(window, model)
    return drawing_pad


def canvas_of(window):
    return window.findChild(QWidget, "drawingCanvas")


def preview_pixels(pad) -> np.ndarray:
    return grey_array(pad.preview.pixmap().toImage().convertToFormat(QImage.Format_Grayscale8))


def test_a_stroke_changes_the_preview_and_the_prediction(window, pad, model):
    label = window.findChild(QLabel, "predictionLabel")
    assert label.text() in ("", NO_PREDICTION) and pad.bars.probabilities() is None
    assert preview_pixels(pad).max() == 0
    canvas = canvas_of(window)
    top, diagonal = seven_strokes()
    draw_stroke(canvas, top)
    assert canvas.ink()[60, 70:210].min() > 0.9  # white ink along the stroke, black elsewhere
    assert canvas.ink()[200:, :].max() == 0
    first_preview = preview_pixels(pad)
    assert first_preview.max() > 0.5
    draw_stroke(canvas, diagonal)
    assert not np.array_equal(preview_pixels(pad), first_preview)

    digit = prepare_drawing(canvas.ink())
    np.testing.assert_array_equal(pad.digit, digit)
    expected = model.predict_proba(digit[None])[0]
    np.testing.assert_allclose(pad.bars.probabilities(), expected, rtol=1e-5)
    assert label.text() == str(int(np.argmax(expected)))
    # the preview is the network's 28×28 input, drawn 4× larger pixel for pixel
    np.testing.assert_allclose(preview_pixels(pad)[2::4, 2::4], digit.reshape(28, 28), atol=1 / 255 + 1e-6)


def test_clear_button_and_escape_remove_the_drawing_and_the_prediction(qtbot, window, pad):
    canvas = canvas_of(window)
    draw_stroke(canvas, seven_strokes()[1])
    assert pad.prediction_label.text() not in ("", NO_PREDICTION)
    qtbot.mouseClick(window.findChild(QPushButton, "clearButton"), Qt.LeftButton)
    assert pad.prediction_label.text() == NO_PREDICTION
    assert pad.bars.probabilities() is None and pad.digit is None and canvas.ink().max() == 0

    draw_stroke(canvas, seven_strokes()[1])
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_Escape)  # the window binds Esc to Stop; on the pad it clears
    assert canvas.stroke_count == 0 and pad.prediction_label.text() == NO_PREDICTION


def test_undo_removes_the_last_stroke_only(qtbot, window, pad, model):
    canvas = canvas_of(window)
    top, diagonal = seven_strokes()
    draw_stroke(canvas, top)
    after_first = canvas.ink()
    first_guess = pad.bars.probabilities()
    draw_stroke(canvas, diagonal)
    assert canvas.stroke_count == 2
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)
    assert canvas.stroke_count == 1
    np.testing.assert_array_equal(canvas.ink(), after_first)
    np.testing.assert_allclose(pad.bars.probabilities(), first_guess, rtol=1e-6)
    qtbot.mouseClick(window.findChild(QPushButton, "undoButton"), Qt.LeftButton)
    assert canvas.stroke_count == 0 and pad.prediction_label.text() == NO_PREDICTION


def test_predictions_follow_the_stroke_at_most_every_30_ms(window, pad):
    canvas = canvas_of(window)
    updates = []
    pad.digit_changed.connect(lambda digit: updates.append(time.perf_counter()))
    send_mouse(canvas, QEvent.MouseButtonPress, (60, 60), Qt.LeftButton, Qt.LeftButton)
    start = time.perf_counter()
    for i in range(150):
        send_mouse(canvas, QEvent.MouseMove, (60 + i, 60 + i % 40), Qt.NoButton, Qt.LeftButton)
    elapsed_ms = (time.perf_counter() - start) * 1000
    during = len(updates)
    assert during <= elapsed_ms / PREDICT_INTERVAL_MS + 2
    assert np.all(np.diff(updates) >= PREDICT_INTERVAL_MS / 1000 * 0.99)
    send_mouse(canvas, QEvent.MouseButtonRelease, (209, 89), Qt.LeftButton, Qt.NoButton)
    assert len(updates) == during + 1  # the release updates at once, whatever the throttle
    np.testing.assert_array_equal(pad.digit, prepare_drawing(canvas.ink()))


def test_a_wider_brush_lays_more_ink(window, pad):
    canvas = canvas_of(window)
    pad.brush_slider.setValue(6)
    draw_stroke(canvas, seven_strokes()[0])
    thin = canvas.ink().sum()
    pad.clear()
    pad.brush_slider.setValue(30)
    draw_stroke(canvas, seven_strokes()[0])
    assert canvas.ink().sum() > 3 * thin
    assert canvas.ink()[:, :100].max() > 0.9 and np.all(canvas.ink()[60, :40] == 0)  # round caps stay near the end


def test_save_as_png_writes_the_canvas(qtbot, window, pad, tmp_path, monkeypatch):
    canvas = canvas_of(window)
    for stroke in seven_strokes():
        draw_stroke(canvas, stroke)
    path = tmp_path / "seven.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), ""))
    qtbot.mouseClick(window.findChild(QPushButton, "savePngButton"), Qt.LeftButton)
    saved = QImage(str(path)).convertToFormat(QImage.Format_Grayscale8)
    assert (saved.width(), saved.height()) == (280, 280)
    np.testing.assert_array_equal(grey_array(saved), canvas.ink())


def test_a_new_model_repredicts_the_drawing_at_once(window, pad, mnist):
    canvas = canvas_of(window)
    for stroke in seven_strokes():
        draw_stroke(canvas, stroke)
    before = pad.bars.probabilities()
    other = quick_model(mnist, hidden=(32,), train_size=2000, seed=3)
    show_model(window, other)
    np.testing.assert_allclose(pad.bars.probabilities(), other.predict_proba(pad.digit[None])[0], rtol=1e-5)
    assert not np.allclose(pad.bars.probabilities(), before)
    show_model(window, None)
    assert pad.prediction_label.text() == NO_PREDICTION and pad.digit is not None
