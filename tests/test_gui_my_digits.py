"""My digits in the window: add from the drawing pad, the gallery, delete, relabel, fine-tune."""

from __future__ import annotations

import numpy as np
import pytest
from gui_view_support import configure, draw_stroke, quick_model, seven_strokes, show_model
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton, QSpinBox, QWidget

from gui.views import DrawingPad, MyDigitsView
from gui.views.fine_tune import measure
from scratchnet.data import read_idx
from scratchnet.my_digits import IMAGES_FILE, LABELS_FILE, MNIST_PLUS_MY_DIGITS, MyDigits, store_folder

RUN_TIMEOUT = 120_000


@pytest.fixture(scope="session")
def model(mnist):
    return quick_model(mnist, train_size=2000)


@pytest.fixture
def view(window) -> MyDigitsView:
    return window.findChild(MyDigitsView, "myDigitsView")


def draw_seven(window, qtbot):
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    canvas = window.findChild(QWidget, "drawingCanvas")
    for stroke in seven_strokes():
        draw_stroke(canvas, stroke)
    canvas.setFocus()
    return pad, canvas


def fill_store(view, mnist, per_label: int = 4) -> None:
    """MNIST test digits as my digits: the first ``per_label`` of each label."""
    for label in range(10):
        for index in np.flatnonzero(mnist.y_test == label)[:per_label]:
            view.add(mnist.x_test[index], label)


def test_named_widgets_exist_from_the_start(window):
    for cls, name in ((QPushButton, "addToMyDigitsButton"), (QWidget, "myDigitsView"),
                      (QPushButton, "fineTuneButton"), (QListWidget, "myDigitsGallery"),
                      (QPushButton, "deleteDigitButton"), (QPushButton, "relabelButton")):
        assert window.findChild(cls, name) is not None, name


def test_keys_set_the_label_and_enter_adds_the_drawn_digit(window, qtbot, model):
    show_model(window, model)
    pad, canvas = draw_seven(window, qtbot)
    qtbot.keyClick(canvas, Qt.Key_3)
    assert window.findChild(QSpinBox, "myDigitLabelSpin").value() == 3
    qtbot.keyClick(canvas, Qt.Key_7)
    assert window.findChild(QSpinBox, "myDigitLabelSpin").value() == 7
    qtbot.keyClick(canvas, Qt.Key_Return)
    folder = store_folder()
    labels, images = read_idx(folder / LABELS_FILE), read_idx(folder / IMAGES_FILE)
    assert labels.tolist() == [7]
    # exactly the 28×28 image the network sees
    np.testing.assert_array_equal(images[0], np.rint(pad.digit.reshape(28, 28) * 255).astype(np.uint8))
    assert "Added as a 7" in window.findChild(QLabel, "drawingNote").text()
    qtbot.mouseClick(window.findChild(QPushButton, "addToMyDigitsButton"), Qt.LeftButton)
    assert MyDigits().labels.tolist() == [7, 7]
    # the gallery shows them, with the model's prediction
    view = window.findChild(MyDigitsView, "myDigitsView")
    window.views.setCurrentWidget(view)
    predicted = int(np.argmax(model.predict_proba(pad.digit[None])[0]))
    texts = [view.gallery.item(i).text() for i in range(view.gallery.count())]
    assert texts == [f"7 → {predicted}" + ("" if predicted == 7 else " ✗")] * 2


def test_empty_canvas_adds_nothing(window, qtbot):
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    pad.add_to_my_digits()
    assert len(MyDigits()) == 0 and "Draw a digit first" in pad.note_label.text()
    assert not pad.add_button.isEnabled()


def test_gallery_by_label_with_accuracy_delete_and_relabel(window, qtbot, model, mnist, view):
    show_model(window, model)
    fill_store(view, mnist, per_label=3)
    window.views.setCurrentWidget(view)
    gallery = view.gallery
    assert gallery.count() == 30
    labels = [int(gallery.item(i).text().split()[0]) for i in range(30)]
    assert labels == sorted(labels)  # grouped by label
    store = MyDigits()
    predicted = np.argmax(model.predict_proba(store.inputs()), axis=1)
    right = int(np.sum(predicted == store.labels))
    assert view.accuracy == pytest.approx(right / 30)
    assert f"gets {right} of 30 right" in view.summary_label.text()
    wrong = [gallery.item(i) for i in range(30) if "✗" in gallery.item(i).text()]
    assert len(wrong) == 30 - right
    # delete the first two of label 0
    delete = window.findChild(QPushButton, "deleteDigitButton")
    assert not delete.isEnabled()
    gallery.item(0).setSelected(True)
    gallery.item(1).setSelected(True)
    qtbot.mouseClick(delete, Qt.LeftButton)
    assert MyDigits().labels.tolist() == [0] + [label for label in range(1, 10) for _ in range(3)]
    assert gallery.count() == 28
    # relabel the (now first) remaining 0 as 6
    gallery.item(0).setSelected(True)
    window.findChild(QSpinBox, "relabelSpin").setValue(6)
    qtbot.mouseClick(window.findChild(QPushButton, "relabelButton"), Qt.LeftButton)
    assert MyDigits().counts().tolist() == [0, 3, 3, 3, 3, 3, 4, 3, 3, 3]
    assert "0:" not in view.summary_label.text() and "6: 4" in view.summary_label.text()


def test_picker_offers_my_digits_alone_and_mixed(window, qtbot, mnist, view):
    fill_store(view, mnist, per_label=4)
    combo = window.training_panel.dataset_combo
    with qtbot.waitSignal(window.dataset_changed, timeout=10_000):
        combo.setCurrentIndex(combo.findData("my-digits"))
    assert window.dataset.name == "my-digits"
    assert (len(window.dataset.y_train), len(window.dataset.y_test)) == (30, 10)
    with qtbot.waitSignal(window.dataset_changed, timeout=30_000):
        combo.setCurrentIndex(combo.findData(MNIST_PLUS_MY_DIGITS))
    mixed = window.dataset
    assert len(mixed.y_train) == round(60_000 / 0.9)
    assert mixed.x_test.shape == mnist.x_test.shape
    # adding a digit reloads the chosen data set
    with qtbot.waitSignal(window.dataset_changed, timeout=30_000):
        view.add(mnist.x_test[0], int(mnist.y_test[0]))
    assert window.dataset is not mixed


def test_fine_tune_is_an_ordinary_run_with_before_and_after(window, qtbot, click, model, mnist, view):
    show_model(window, model)
    fill_store(view, mnist, per_label=4)
    configure(window, train_size=1000, epochs=3)
    window.views.setCurrentWidget(view)
    view.share_spin.setValue(20)
    view.epochs_spin.setValue(2)
    view.held_out_spin.setValue(50)
    runs_before = len(window.runs)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(window.findChild(QPushButton, "fineTuneButton"), Qt.LeftButton)
    run = blocker.args[0]
    assert run.status == "finished" and run.spec.label == "fine-tune on my digits"
    assert run.spec.config.dataset == MNIST_PLUS_MY_DIGITS and run.spec.config.epochs == 2
    assert len(run.epochs) == 2 and len(window.runs) == runs_before + 1
    result = window.findChild(QLabel, "fineTuneResultLabel")
    qtbot.waitUntil(lambda: "Before → after" in result.text(), timeout=30_000)
    # the training rows: 1,000 of the mix, 20% of them mine
    data = window.controller.datasets.cached(MNIST_PLUS_MY_DIGITS)
    first = data.x_train[:1000]
    mine = MyDigits().inputs()
    is_mine = (first[:, None, :] == mine[None, :, :]).all(axis=2).any(axis=1)
    assert is_mine.sum() == 200
    # the figures are the two models' accuracies
    from gui.views.fine_tune import FineTuner

    fine_tuner = window.findChild(FineTuner, "fineTuner")
    before, after = fine_tuner.result
    held = fine_tuner._data
    assert len(held.y_held) == 20 and held.mine_trained == 20
    assert before == measure(model, held)
    assert after == measure(window.current_model, held)
    assert window.current_model is not model
    assert f"{100 * before.mnist:.1f}% → {100 * after.mnist:.1f}%" in result.text()
    assert view.fine_tune_button.isEnabled()


def test_fine_tune_without_digits_or_model_says_why(window, qtbot, view, model):
    window.views.setCurrentWidget(view)
    qtbot.mouseClick(view.fine_tune_button, Qt.LeftButton)
    assert "no model yet" in view.result_label.text()
    show_model(window, model)
    qtbot.mouseClick(view.fine_tune_button, Qt.LeftButton)
    assert "My digits is empty" in view.result_label.text()
    assert not window.is_running


def test_damaged_store_is_reported_in_the_window(qtbot, mnist_loader):
    from gui.main_window import MainWindow

    folder = store_folder()
    folder.mkdir(parents=True)
    (folder / IMAGES_FILE).write_bytes(b"garbage")
    (folder / LABELS_FILE).write_bytes(b"garbage")
    win = MainWindow(dataset_loader=mnist_loader)
    qtbot.addWidget(win)
    assert "could not be read" in win.error_label.text()
    assert len(win.findChild(MyDigitsView, "myDigitsView").store) == 0
    win.close()
