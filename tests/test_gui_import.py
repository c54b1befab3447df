"""File → Import data… in the window: a synthetic 3-class 20×20 set becomes the current data set,
and the views, the network and the drawing pad follow its image size and classes."""

from __future__ import annotations

import numpy as np
import pytest
from gui_view_support import configure, run_in_window, wait_for_views
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QMessageBox

from scratchnet import limits

CLASSES = ("circle", "cross", "square")
SIDE = 20


def shapes(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(count, 20, 20) uint8 images of three easy shapes with noise, and their labels 0..2."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    radius = np.hypot(yy - 9.5, xx - 9.5)
    templates = [
        (np.abs(radius - 6) < 1.5),
        (np.abs(yy - xx) < 1.5) | (np.abs(yy + xx - 19) < 1.5),
        ((np.abs(yy - 9.5) < 7.5) & (np.abs(xx - 9.5) < 7.5)) & ~((np.abs(yy - 9.5) < 5.5) & (np.abs(xx - 9.5) < 5.5)),
    ]
    labels = np.arange(count) % 3
    images = np.stack([templates[label] * 200 for label in labels]).astype(np.int64)
    images += rng.integers(0, 50, images.shape)
    return np.clip(images, 0, 255).astype(np.uint8), labels


def write_csv(path, images, labels) -> None:
    rows = np.column_stack([labels, images.reshape(len(labels), -1)])
    path.write_text("label," + ",".join(f"px{i}" for i in range(SIDE * SIDE)) + "\n"
                    + "\n".join(",".join(map(str, row)) for row in rows) + "\n")


@pytest.fixture
def csv_folder(tmp_path):
    folder = tmp_path / "shapes"
    folder.mkdir()
    write_csv(folder / "train.csv", *shapes(300, 0))
    write_csv(folder / "test.csv", *shapes(60, 1))
    return folder


@pytest.fixture
def image_folder(tmp_path):
    """<class>/*.png: 20 images per class, 32×32 colour PNGs (resized to the chosen size)."""
    folder = tmp_path / "pictures"
    images, labels = shapes(60, 2)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        (folder / CLASSES[label]).mkdir(parents=True, exist_ok=True)
        big = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)[4:36, 4:36].copy()
        rgb = np.ascontiguousarray(np.stack([big, big // 2, big], axis=2))
        qimage = QImage(rgb.data, 32, 32, 96, QImage.Format_RGB888).copy()
        assert qimage.save(str(folder / CLASSES[label] / f"{index}.png"))
    return folder


def import_through_dialog(window, qtbot, path, size=None):
    action = window.findChild(QAction, "importDataAction")
    action.trigger()
    dialog = window._import_dialog
    assert dialog.isVisible()
    dialog.path_edit.setText(str(path))
    if size is not None:
        dialog.size_spin.setValue(size)
    qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=60_000)
    return dialog


def test_import_action_exists_from_the_start(window):
    action = window.findChild(QAction, "importDataAction")
    assert action is not None and action.isEnabled() and "Import data" in action.text()


def test_csv_folder_becomes_the_current_data_set(window, qtbot, csv_folder):
    with qtbot.waitSignal(window.dataset_changed, timeout=60_000):
        dialog = import_through_dialog(window, qtbot, csv_folder)
    assert "CSV folder" in dialog.layout_label.text()
    data = window.dataset
    assert data.name == "shapes" and data.image_shape == (SIDE, SIDE) and data.num_classes == 3
    assert (len(data.y_train), len(data.y_test)) == (300, 60)
    expected, labels = shapes(300, 0)
    np.testing.assert_array_equal(data.y_train, labels)
    np.testing.assert_allclose(data.x_train, expected.reshape(300, -1) / np.float32(255), atol=1e-6)
    assert window.run_config().dataset == str(csv_folder)
    assert window.training_panel.dataset_combo.currentText() == "Folder: shapes"
    assert "300 training and 60 test images of 20×20, 3 classes" in dialog.message_label.text()
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum()
    assert "Imported" in dialog.message_label.text()


def test_image_folders_with_progress_and_size(window, qtbot, image_folder):
    seen = []
    window.findChild(QAction, "importDataAction").trigger()
    dialog = window._import_dialog
    dialog.progress_bar.valueChanged.connect(seen.append)
    dialog.path_edit.setText(str(image_folder))
    assert "<class>/ alone" in dialog.layout_label.text()
    dialog.size_spin.setValue(SIDE)
    dialog.held_out_spin.setValue(25.0)
    with qtbot.waitSignal(window.dataset_changed, timeout=60_000):
        qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    data = window.dataset
    assert data.class_names == list(CLASSES) and data.image_shape == (SIDE, SIDE)
    assert (len(data.y_train), len(data.y_test)) == (45, 15)
    assert len(set(seen)) > 5 and max(seen) == 1000  # the bar followed the 60 images read


def test_bad_file_shows_the_error_and_keeps_the_data(window, qtbot, tmp_path):
    before = window.dataset
    bad = tmp_path / "bad.csv"
    bad.write_text("3,0,0,0\n1,0,zero,0\n")
    dialog = import_through_dialog(window, qtbot, bad)
    text = dialog.message_label.text()
    assert text.startswith("Not imported:") and "bad.csv" in text and "line 2" in text
    assert window.dataset is before and window.run_config().dataset == "mnist"


def test_a_large_csv_asks_first(window, qtbot, csv_folder, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CSV_BYTES", 1000)
    answers = []

    def answer(*_args, **_kwargs):
        answers.append(_args[2])
        return QMessageBox.No if len(answers) == 1 else QMessageBox.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    dialog = import_through_dialog(window, qtbot, csv_folder / "train.csv")
    assert len(answers) == 1 and "GB" in answers[0]
    assert "not imported" in dialog.message_label.text() and window.run_config().dataset == "mnist"
    with qtbot.waitSignal(window.dataset_changed, timeout=60_000):
        qtbot.mouseClick(dialog.import_button, Qt.LeftButton)  # asks again; yes this time
    assert len(answers) == 2 and window.dataset.name == "train" and window.dataset.num_classes == 3
    assert window.training_panel.dataset_combo.currentText() == "File: train.csv"


def test_a_small_image_set_trains_and_every_view_follows(window, qtbot, click, csv_folder):
    from PySide6.QtWidgets import QWidget

    from gui.views import ConfusionView, DrawingPad, NeuronLab, WeightsView

    with qtbot.waitSignal(window.dataset_changed, timeout=60_000):
        import_through_dialog(window, qtbot, csv_folder)
    configure(window, train_size=300, epochs=3)
    run = run_in_window(qtbot, window, click)
    assert run.status == "finished"
    model = window.current_model
    assert (model.input_size, model.output_size) == (SIDE * SIDE, 3)
    assert run.epochs[-1]["test_accuracy"] > 0.9
    confusion = window.findChild(ConfusionView)
    window.views.setCurrentWidget(confusion)
    qtbot.waitUntil(lambda: confusion.matrix is not None, timeout=30_000)  # the refresh after the run
    assert confusion.matrix.shape == (3, 3) and confusion.matrix.sum() == 60
    headers = [confusion.table.verticalHeaderItem(i).text() for i in range(3)]
    assert window.dataset.class_names == ["0", "1", "2"]  # a CSV's classes are its labels
    assert all(name in header for name, header in zip(window.dataset.class_names, headers, strict=True))
    for index in range(window.views.count()):  # every view draws the 20×20, 3-class model
        window.views.setCurrentIndex(index)
        wait_for_views(window)
        assert window.error_label.text() == "", window.views.tabText(index)
    lab = window.findChild(NeuronLab)
    window.views.setCurrentWidget(lab)
    qtbot.waitUntil(lambda: lab.unit_info is not None, timeout=30_000)
    assert lab.weights_image.pixmap().width() == 5 * SIDE  # the 20×20 weight map, 5 screen pixels a pixel
    window.views.setCurrentWidget(window.findChild(WeightsView))
    wait_for_views(window)
    tiles = window.findChild(WeightsView).tiles.image
    assert tiles is not None and (tiles.shape[0] - 1) % (SIDE + 1) == 0  # 20×20 tiles with 1-pixel gaps
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    from gui_view_support import draw_stroke

    draw_stroke(window.findChild(QWidget, "drawingCanvas"), [(40 + 10 * i, 40 + 10 * i) for i in range(20)])
    assert pad.digit.shape == (SIDE * SIDE,)
    assert pad.bars.probabilities().shape == (3,)
    assert pad.prediction_label.text() in window.dataset.class_names


def test_dialog_fits_a_small_screen_and_its_options_reach_the_loader(window, qtbot, tmp_path):
    dialog = window.import_data()
    hint = dialog.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 600
    assert dialog.width() <= 1024 and dialog.height() <= 600
    assert dialog.options() == {"image_size": None, "held_out": pytest.approx(0.143), "photo": False}
    dialog.size_spin.setValue(32)
    dialog.held_out_spin.setValue(50.0)
    dialog.photo_combo.setCurrentIndex(dialog.photo_combo.findData("auto"))
    assert dialog.options() == {"image_size": 32, "held_out": 0.5, "photo": "auto"}
    dialog.path_edit.setText(str(tmp_path / "nothing-here"))
    assert dialog.layout_label.text().startswith("Nothing to import") and not dialog.import_button.isEnabled()


def test_folder_and_file_buttons_fill_the_path_and_close_keeps_the_data(window, qtbot, csv_folder, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    dialog = window.import_data()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(csv_folder))
    qtbot.mouseClick(dialog.folder_button, Qt.LeftButton)
    assert dialog.path_edit.text() == str(csv_folder) and "CSV folder" in dialog.layout_label.text()
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *args, **kwargs: (str(csv_folder / "test.csv"), "Data files (*.csv *.npz)"))
    qtbot.mouseClick(dialog.file_button, Qt.LeftButton)
    assert dialog.path_edit.text() == str(csv_folder / "test.csv")
    assert "one CSV file" in dialog.layout_label.text() and dialog.import_button.isEnabled()
    before = window.dataset
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Close), Qt.LeftButton)
    assert not dialog.isVisible() and window.dataset is before


def test_augmented_run_on_20x20_images(window, qtbot, click, csv_folder):
    with qtbot.waitSignal(window.dataset_changed, timeout=60_000):
        import_through_dialog(window, qtbot, csv_folder)
    configure(window, train_size=300, epochs=1)
    window.training_panel.augment_check.setChecked(True)
    run = run_in_window(qtbot, window, click)
    assert run.status == "finished", run.error  # shifts and rotations of 20×20 images, not 28×28
    assert len(run.epochs) == 1 and window.current_model.input_size == SIDE * SIDE


def test_a_relaunch_loads_the_imported_set_the_way_it_was_imported(qtbot, open_window, store, image_folder):
    window = open_window(store)
    window.findChild(QAction, "importDataAction").trigger()
    dialog = window._import_dialog
    dialog.path_edit.setText(str(image_folder))
    dialog.size_spin.setValue(12)
    dialog.held_out_spin.setValue(25.0)
    with qtbot.waitSignal(window.dataset_changed, timeout=60_000):
        qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    first = window.dataset
    window.close()
    relaunched = open_window(store)
    qtbot.waitUntil(lambda: relaunched.dataset is not None and relaunched.dataset.name == "pictures", timeout=30_000)
    again = relaunched.dataset
    assert again.image_shape == (12, 12) and (len(again.y_train), len(again.y_test)) == (45, 15)
    np.testing.assert_array_equal(again.x_train, first.x_train)
    assert relaunched.run_config().dataset == str(image_folder)


def test_a_hundred_classes_of_8x8_images_fit_every_view(window, qtbot, click, tmp_path):
    from gui_view_support import draw_stroke
    from PySide6.QtWidgets import QWidget

    from gui.views import ConfusionView, DrawingPad

    rng = np.random.default_rng(0)
    prototypes = rng.integers(0, 256, (100, 64))

    def make(count):
        labels = np.arange(count) % 100
        images = np.clip(prototypes[labels] + rng.integers(-20, 20, (count, 64)), 0, 255).astype(np.uint8)
        return images.reshape(count, 8, 8), labels

    (x_train, y_train), (x_test, y_test) = make(2000), make(500)
    np.savez(tmp_path / "many.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    with qtbot.waitSignal(window.dataset_changed, timeout=60_000):
        import_through_dialog(window, qtbot, tmp_path / "many.npz")
    assert window.dataset.num_classes == 100 and window.dataset.image_shape == (8, 8)
    configure(window, train_size=2000, epochs=2)
    run = run_in_window(qtbot, window, click)
    assert run.status == "finished" and window.current_model.output_size == 100
    window.resize(1024, 600)
    views_area = window.views.parentWidget().parentWidget().parentWidget()
    for index in range(window.views.count()):
        window.views.setCurrentIndex(index)
        wait_for_views(window)
        qtbot.wait(20)
        title = window.views.tabText(index)
        assert window.error_label.text() == "", title
        assert not views_area.verticalScrollBar().isVisible(), title
        assert not views_area.horizontalScrollBar().isVisible(), title
    confusion = window.findChild(ConfusionView)
    window.views.setCurrentWidget(confusion)
    qtbot.waitUntil(lambda: confusion.matrix is not None, timeout=30_000)
    assert confusion.matrix.shape == (100, 100) and confusion.matrix.sum() == 500
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    draw_stroke(window.findChild(QWidget, "drawingCanvas"), [(40 + 10 * i, 40 + 10 * i) for i in range(20)])
    probabilities = pad.bars.probabilities()
    assert probabilities.shape == (100,) and pad.digit.shape == (64,)
    shown = pad.bars.shown_rows()  # the ten most probable classes, most probable first
    assert len(shown) == 10 and shown[0] == int(np.argmax(probabilities))
    assert list(probabilities[shown]) == sorted(probabilities[shown], reverse=True)
