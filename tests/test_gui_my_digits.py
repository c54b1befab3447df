"""My digits in the window: add from the drawing pad, the gallery, delete, relabel, fine-tune."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gui_view_support import configure, draw_stroke, quick_model, seven_strokes, show_model
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton, QSpinBox, QWidget

from gui.views import DrawingPad, MyDigitsView
from gui.views.fine_tune import measure
from gui.views.my_digits import HEADER_ROLE
from scratchnet.data import read_idx
from scratchnet.my_digits import IMAGES_FILE, LABELS_FILE, MNIST_PLUS_MY_DIGITS, MyDigits, store_folder
from scratchnet.network import mlp

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


def wait_predicted(qtbot, view) -> None:
    """Until the gallery shows the predictions (made in a worker thread)."""
    qtbot.waitUntil(lambda: view.accuracy is not None and not view.predicting, timeout=30_000)


def texts(items) -> list[str]:
    return [item.text() for item in items]


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
    wait_predicted(qtbot, view)
    predicted = int(np.argmax(model.predict_proba(pad.digit[None])[0]))
    assert texts(view.gallery.digit_items()) == [f"7 → {predicted}" + ("" if predicted == 7 else " ✗")] * 2
    right = 2 * (predicted == 7)
    assert texts(view.gallery.headers()) == [f"7: 2 digits, {right} right ({50 * right:.1f}%)"]


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
    wait_predicted(qtbot, view)
    gallery = view.gallery
    assert len(gallery.digit_items()) == 30 and gallery.count() == 40  # 30 digits under 10 headers
    # one section per label: its header, then its digits
    rows = [(item.data(HEADER_ROLE), item.text().split()[0]) for item in map(gallery.item, range(40))]
    assert rows == [row for label in range(10) for row in [(label, f"{label}:")] + [(None, str(label))] * 3]
    store = MyDigits()
    predicted = np.argmax(model.predict_proba(store.inputs()), axis=1)  # independent of the view's worker
    right = int(np.sum(predicted == store.labels))
    assert view.accuracy == pytest.approx(right / 30)
    assert f"gets {right} of 30 right" in view.summary_label.text()
    wrong = [item for item in gallery.digit_items() if "✗" in item.text()]
    assert len(wrong) == 30 - right
    # each header: the label's count and the model's accuracy on it
    per_label = [int(np.sum(predicted[store.labels == label] == label)) for label in range(10)]
    assert texts(gallery.headers()) == [f"{label}: 3 digits, {n} right ({100 * n / 3:.1f}%)"
                                        for label, n in enumerate(per_label)]
    assert not any(header.flags() & Qt.ItemIsSelectable for header in gallery.headers())
    # a header spans the gallery's width, so each section starts a row of its own
    tops = [gallery.visualItemRect(header).top() for header in gallery.headers()]
    assert tops == sorted(tops) and len(set(tops)) == 10
    assert gallery.visualItemRect(gallery.headers()[0]).width() > gallery.viewport().width() - 20
    # show one label, or only the mistakes (under their labels' headers)
    show = view.show_combo
    show.setCurrentIndex(show.findData(4))
    assert [item.text().split()[0] for item in gallery.digit_items()] == ["4"] * 3
    assert texts(gallery.headers()) == [f"4: 3 digits, {per_label[4]} right ({100 * per_label[4] / 3:.1f}%)"]
    show.setCurrentIndex(show.findData("wrong"))
    shown = gallery.digit_items()
    assert len(shown) == 30 - right and all("✗" in item.text() for item in shown)
    assert [header.data(HEADER_ROLE) for header in gallery.headers()] == [
        label for label in range(10) if per_label[label] < 3]
    show.setCurrentIndex(0)
    assert len(gallery.digit_items()) == 30
    # delete the first two of label 0
    delete = window.findChild(QPushButton, "deleteDigitButton")
    assert not delete.isEnabled()
    gallery.digit_items()[0].setSelected(True)
    gallery.digit_items()[1].setSelected(True)
    qtbot.mouseClick(delete, Qt.LeftButton)
    assert MyDigits().labels.tolist() == [0] + [label for label in range(1, 10) for _ in range(3)]
    assert len(gallery.digit_items()) == 28
    assert gallery.headers()[0].text() == "0: 1 digit"  # drawn at once; its accuracy when predicted
    wait_predicted(qtbot, view)
    assert gallery.headers()[0].text().startswith("0: 1 digit, ")
    # relabel the (now first) remaining 0 as 6
    gallery.digit_items()[0].setSelected(True)
    window.findChild(QSpinBox, "relabelSpin").setValue(6)
    qtbot.mouseClick(window.findChild(QPushButton, "relabelButton"), Qt.LeftButton)
    assert MyDigits().counts().tolist() == [0, 3, 3, 3, 3, 3, 4, 3, 3, 3]
    assert "0:" not in view.summary_label.text() and "6: 4" in view.summary_label.text()
    assert [header.data(HEADER_ROLE) for header in gallery.headers()] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert gallery.headers()[5].text().startswith("6: 4 digits")


def test_predictions_come_from_a_worker_thread_and_stale_ones_are_dropped(window, qtbot, model, mnist, view):
    fill_store(view, mnist, per_label=2)
    window.views.setCurrentWidget(view)
    show_model(window, model)
    # the digits are drawn at once, the predictions when the worker has made them
    assert len(view.gallery.digit_items()) == 20
    wait_predicted(qtbot, view)
    assert view.job.thread_ids and threading.get_ident() not in view.job.thread_ids
    store = MyDigits()
    predicted = np.argmax(model.forward(store.inputs()), axis=1)
    assert [int(item.text().split()[2]) for item in view.gallery.digit_items()] == predicted[
        np.argsort(store.labels, kind="stable")].tolist()
    # a result for a model that has since been replaced is dropped
    other = mlp(784, [16], 10, rng=np.random.default_rng(3))
    view.set_model(other)
    old_key = (model, view.store.version)
    view._on_predicted(old_key, np.zeros(20, np.int64), None)
    assert view.accuracy is None  # dropped: not drawn
    # meanwhile the same digits show, captioned by their labels only
    assert [item.text() for item in view.gallery.digit_items()] == [str(label) for label in range(10) for _ in "ab"]
    assert texts(view.gallery.headers()) == [f"{label}: 2 digits" for label in range(10)]
    assert not any(item.background().style() != Qt.NoBrush for item in view.gallery.digit_items())
    wait_predicted(qtbot, view)
    expected = np.argmax(other.forward(store.inputs()), axis=1)
    assert view.accuracy == pytest.approx(float(np.mean(expected == store.labels)))
    # and one for an older store too
    view.add(mnist.x_test[0], int(mnist.y_test[0]))
    view._on_predicted((other, view.store.version - 1), np.zeros(20, np.int64), None)
    assert view.accuracy is None
    wait_predicted(qtbot, view)
    assert len(view._predicted) == 21


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


def test_closing_the_window_while_predicting_stops_the_job(qtbot, mnist_loader, mnist, model):
    from gui.main_window import MainWindow

    win = MainWindow(dataset_loader=mnist_loader)
    qtbot.addWidget(win)
    view = win.findChild(MyDigitsView, "myDigitsView")
    fill_store(view, mnist, per_label=20)
    win.show()
    win.views.setCurrentWidget(view)
    view.set_model(model)
    assert view.predicting and len(view.gallery.digit_items()) == 200  # digits drawn, predictions pending
    win.close()
    qtbot.waitUntil(lambda: not view.job.busy, timeout=10_000)  # the worker ended
    assert view.accuracy is None and "predicting them" in view.summary_label.text()  # nothing drawn after


def test_a_prediction_that_fails_is_said_not_raised(window, qtbot, model, mnist, view, monkeypatch):
    import gui.views.my_digits as my_digits_module

    def broken(_model, _inputs):
        raise ValueError("boom")

    monkeypatch.setattr(my_digits_module, "predict_digits", broken)
    fill_store(view, mnist, per_label=1)
    window.views.setCurrentWidget(view)
    with qtbot.waitSignal(view.predicted, timeout=10_000):
        show_model(window, model)
    assert "The model could not predict my digits: boom" in view.summary_label.text()
    assert view.accuracy is None and texts(view.gallery.digit_items()) == [str(label) for label in range(10)]
