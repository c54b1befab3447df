"""Issue 13, a learner's first hour: a data set that cannot load, the Download button (against a
local server on 127.0.0.1 only), and an error banner that does not outlive success."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFileDialog, QPushButton, QToolButton, QWidget
from test_download import FASHION_DIR, FILES, BadLabelsHandler, QuietHandler, leftovers, serve
from test_gui_menus import quick_run
from test_gui_presets import choose_preset

from scratchnet.data import load_dataset

RUN_TIMEOUT = 60_000


def choose_dataset(window, name: str) -> None:
    combo = window.training_panel.dataset_combo
    combo.setCurrentIndex(combo.findData(name))


def new_window(qtbot, loader):
    from gui.main_window import MainWindow

    win = MainWindow(dataset_loader=loader)
    qtbot.addWidget(win)
    win.show()
    return win


# ---------------------------------------------------------------- a data set that cannot load
def test_a_remembered_data_set_that_is_missing_falls_back_to_bundled_mnist(qtbot, window, mnist_loader):
    choose_dataset(window, "fashion-mnist")
    qtbot.waitUntil(lambda: "Cannot load fashion-mnist" in window.training_panel.note_label.text())
    window.close()  # remembers fashion-mnist
    relaunched = new_window(qtbot, mnist_loader)
    try:
        qtbot.waitUntil(lambda: relaunched.dataset is not None, timeout=10_000)
        assert relaunched.run_config().dataset == "mnist"
        assert relaunched.training_panel.dataset_combo.currentText() == "MNIST (bundled)"
        note = relaunched.training_panel.note_label.text()
        assert "fashion-mnist could not be loaded" in note and "bundled MNIST" in note and "Download" in note
        assert relaunched.preset_bar.current() == "quick-start"
        status = relaunched.status_label.text()
        assert status.startswith("fashion-mnist could not be loaded: using the bundled MNIST") and "60,000" in status
        assert not relaunched.error_label.isVisible()
        # and Start works
        with qtbot.waitSignal(relaunched.training_finished, timeout=RUN_TIMEOUT) as finished:
            relaunched.training_panel.train_size_spin.setValue(640)
            relaunched.training_panel.epochs_spin.setValue(1)
            relaunched.start_training()
        assert finished.args[0].status == "finished"
    finally:
        relaunched.close()


def test_start_on_a_data_set_that_cannot_load_says_what_to_do(qtbot, window):
    choose_dataset(window, "fashion-mnist")
    qtbot.waitUntil(lambda: "Cannot load fashion-mnist" in window.training_panel.note_label.text())
    assert window.preset_bar.current() == "custom"  # Quick start is tuned on MNIST
    window.start_training()
    assert not window.is_running
    message = window.error_label.text()
    assert window.error_label.isVisible() and "fashion-mnist is not available" in message and "Download" in message


def test_presets_set_the_data_set_they_were_tuned_on(qtbot, window):
    choose_dataset(window, "fashion-mnist")
    choose_preset(window, "best-accuracy")
    assert window.run_config().dataset == "mnist" and window.preset_bar.current() == "best-accuracy"


# ---------------------------------------------------------------- the Download button
@pytest.fixture
def fashion_window(qtbot, window, tmp_path, monkeypatch, mnist):
    """The window, with data sets loaded for real from an empty cache folder (MNIST from the
    session), and its downloads pointed at a local server set by each test."""
    monkeypatch.setenv("SCRATCHNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SCRATCHNET_FASHION_DIR", raising=False)
    window.controller.datasets._loader = lambda name: mnist if name == "mnist" else load_dataset(name)
    choose_dataset(window, "fashion-mnist")
    qtbot.waitUntil(lambda: "Cannot load fashion-mnist" in window.training_panel.note_label.text())
    return window


needs_fashion_copy = pytest.mark.skipif(
    not all((FASHION_DIR / f).is_file() for f in FILES), reason=f"no Fashion-MNIST copy to serve at {FASHION_DIR}")


def test_the_download_button_exists_from_the_start_and_only_for_downloadable_sets(window):
    button = window.findChild(QPushButton, "downloadDatasetButton")
    assert button is not None and button.toolTip() and not button.isEnabled()  # MNIST is bundled
    choose_dataset(window, "fashion-mnist")
    assert button.isEnabled() and button.text() == "Download Fashion-MNIST"


@needs_fashion_copy
def test_download_from_the_window_verifies_and_loads_the_data_set(qtbot, fashion_window, tmp_path, click):
    window = fashion_window
    progress = []
    window.downloads.progress.connect(lambda name, done, total, file: progress.append((file, done, total)))
    with serve(QuietHandler) as (url, requests):
        window.downloads.base_url = url
        click("downloadDatasetButton")
        assert window.training_panel.download_progress.isVisible()
        assert window.training_panel.download_button.text() == "Cancel download"
        qtbot.waitUntil(lambda: window.dataset is not None and window.dataset.name == "fashion-mnist", timeout=30_000)
    assert len(requests) == 4 and {file for file, _, _ in progress} == set(FILES)
    assert all(done == total for file, done, total in progress if (file, done) == max(
        (p[0], p[1]) for p in progress if p[0] == file))
    assert leftovers(tmp_path / "cache" / "fashion-mnist") == sorted(FILES)
    assert "checksum" in window.status_label.text() or window.status_label.text().startswith("fashion-mnist:")
    assert not window.training_panel.download_progress.isVisible()
    assert window.training_panel.note_label.text() == ""
    assert window.dataset.class_names[0] == "T-shirt/top"


@needs_fashion_copy
def test_a_download_with_a_bad_checksum_is_refused_and_leaves_nothing(qtbot, fashion_window, tmp_path, click):
    window = fashion_window
    with serve(BadLabelsHandler) as (url, _requests):
        window.downloads.base_url = url
        click("downloadDatasetButton")
        qtbot.waitUntil(lambda: not window.downloads.busy, timeout=30_000)
    assert window.error_label.isVisible() and "checksum mismatch" in window.error_label.text()
    assert not any(name.endswith(".part") for name in leftovers(tmp_path / "cache" / "fashion-mnist"))
    assert window.run_config().dataset == "fashion-mnist" and window.dataset.name == "mnist"


class SlowHandler(QuietHandler):
    """Sends the first file in 64 KiB pieces, 20 a second, so that a cancel lands mid-file."""

    def do_GET(self):
        self.requests.append(self.path)
        body = (FASHION_DIR / FILES[0]).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for start in range(0, len(body), 1 << 16):
                self.wfile.write(body[start:start + (1 << 16)])
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass


@needs_fashion_copy
def test_a_download_can_be_cancelled_and_keeps_nothing(qtbot, fashion_window, tmp_path, click):
    window = fashion_window
    with serve(SlowHandler) as (url, _requests):
        window.downloads.base_url = url
        click("downloadDatasetButton")
        qtbot.waitUntil(lambda: window.training_panel.download_progress.value() > 0, timeout=10_000)
        with qtbot.waitSignal(window.downloads.cancelled, timeout=10_000):
            click("downloadDatasetButton")  # now "Cancel download"
    assert "cancelled" in window.status_label.text()
    assert leftovers(tmp_path / "cache" / "fashion-mnist") == []
    assert window.training_panel.download_button.text() == "Download Fashion-MNIST"
    assert not window.training_panel.download_progress.isVisible()


# ---------------------------------------------------------------- the error banner and exports
def refuse_a_file(window, monkeypatch, tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_text("not a model")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    window.open_action.trigger()
    assert window.error_label.isVisible() and window.status_label.text().startswith("Error")


def test_the_error_banner_has_a_close_button(qtbot, window, monkeypatch, tmp_path):
    refuse_a_file(window, monkeypatch, tmp_path)
    close = window.findChild(QToolButton, "errorCloseButton")
    assert close is not None and close.isVisible() and close.toolTip()
    qtbot.mouseClick(close, Qt.LeftButton)
    assert not window.error_label.isVisible() and not window.status.error_banner.isVisible()
    assert not window.status_label.text().startswith("Error")


def test_the_error_banner_clears_on_the_next_success(qtbot, window, click, monkeypatch, tmp_path):
    refuse_a_file(window, monkeypatch, tmp_path)
    quick_run(qtbot, window, click)
    assert not window.error_label.isVisible() and window.status_label.text().startswith("Run #1 finished")
    refuse_a_file(window, monkeypatch, tmp_path)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "plots.png"), ""))
    window.export_png_action.trigger()
    assert not window.error_label.isVisible()


def test_exports_say_what_they_wrote_and_where(qtbot, window, click, monkeypatch, tmp_path):
    quick_run(qtbot, window, click)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "plots.png"), ""))
    window.export_png_action.trigger()
    assert window.status_label.text() == f"Saved plots-loss.png and plots-accuracy.png in {tmp_path}."
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "curves.csv"), ""))
    window.export_csv_action.trigger()
    assert window.status_label.text() == f"Saved curves.csv (1 run) in {tmp_path}."


def test_csv_export_with_no_runs_says_there_is_nothing_to_export(window, monkeypatch, tmp_path):
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: asked.append(a) or (str(tmp_path / "c.csv"), ""))
    window.export_csv_action.trigger()
    assert asked == [] and not (tmp_path / "c.csv").exists()
    assert "nothing to export" in window.status_label.text()


# ---------------------------------------------------------------- switching descent
def test_switching_descent_offers_its_tested_settings_in_one_click(qtbot, window, click):
    panel = window.training_panel
    assert not panel.advice_label.isVisibleTo(window) and not panel.tested_button.isVisibleTo(window)
    click("descentSgd")  # Quick start's momentum 0.9 and lr 0.05 do not suit one-image steps
    assert panel.advice_label.isVisible() and "one image is very noisy" in panel.advice_label.text()
    warning = panel.warning_label.text()
    assert panel.warning_label.isVisible() and "momentum 0.9 and learning rate 0.05" in warning
    assert "known to fail" in warning.lower()
    click("useTestedSettingsButton")
    config = window.run_config()
    assert (config.descent, config.optimizer, config.learning_rate) == ("sgd", "sgd", 0.01)
    assert not panel.advice_label.isVisible() and not panel.warning_label.isVisible()
    assert not panel.tested_button.isVisible()


def test_a_combination_known_to_fail_is_warned_about_before_start(qtbot, window, click):
    panel = window.training_panel
    click("descentSgd")
    click("useTestedSettingsButton")
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("momentum"))
    panel.momentum_spin.setValue(0.9)
    assert not panel.warning_label.isVisible()  # lr 0.01 with momentum 0.9: a step of 0.1, still learns
    panel.learning_rate_spin.setValue(0.05)
    assert panel.warning_label.isVisible() and panel.tested_button.isVisible()
    # a preset's settings are tested: no offer, no warning
    choose_preset(window, "quick-start")
    assert not panel.warning_label.isVisible() and not panel.advice_label.isVisible()


def test_starting_anyway_repeats_the_warning(qtbot, window, click):
    panel = window.training_panel
    click("descentSgd")
    panel.train_size_spin.setValue(200)
    panel.epochs_spin.setValue(1)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT):
        window.start_training()
        assert "known to fail" in window.status_label.text()


# ---------------------------------------------------------------- things that explain themselves
def test_choosing_custom_explains_itself(window):
    before = window.run_config()
    choose_preset(window, "custom")
    text = window.preset_bar.description.text()
    assert "Custom keeps the settings of “Quick start”" in text and "Network and Training tabs" in text
    assert window.run_config() == before  # and nothing changed
    assert window.preset_bar.combo.itemData(window.preset_bar.combo.count() - 1, Qt.ToolTipRole).startswith(
        "Your own settings")


def test_the_inside_the_network_histogram_axes_are_explained_in_plain_words(window):
    from gui.views.weights import WeightsView

    view = window.findChild(WeightsView)
    weight_tip, gradient_tip = view.weight_plot.toolTip(), view.gradient_plot.toolTip()
    assert "weight (x0.001)" in weight_tip and "5 means 0.005" in weight_tip
    assert "|dL/dW|" in gradient_tip and "−2 means 0.01" in gradient_tip
    assert view.gradient_plot.getAxis("bottom").toolTip() == gradient_tip


# ---------------------------------------------------------------- Help -> Getting started
def test_the_tour_is_offered_on_the_first_launch_never_modal_and_points_at_real_controls(qtbot, window):
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QApplication

    from gui.tour import STEPS

    tour = window.tour
    qtbot.waitUntil(lambda: tour.active)  # first launch: offered at once
    assert QApplication.activeModalWidget() is None and not tour.card.isWindow()
    assert 6 <= len(STEPS) <= 8 and tour.index == 0
    seen = []
    while tour.active:
        target, rect = tour.target(), tour.target_rect()
        assert target.isVisible() and window.rect().contains(rect.center()), tour.title.text()
        card = tour.card.geometry()
        assert window.rect().contains(card) and not card.contains(rect.center())  # beside, not over it
        seen.append((tour.title.text(), target.objectName(), window.views.tabText(window.views.currentIndex())))
        qtbot.mouseClick(tour.next_button, Qt.LeftButton)
    names = [name for _, name, _ in seen]
    assert {"presetCombo", "startButton", "speedSlider"} <= set(names)
    assert window.plots in [STEPS[3].target(window)]
    assert [tab for _, _, tab in seen][5:] == ["Misclassified", "Drawing pad"]
    assert window.training_panel.descent_radios["mini"].parentWidget() is STEPS[4].target(window)
    assert window.store.value("tour/done", False, type=bool)
    assert window.findChild(QAction, "gettingStartedAction") is window.getting_started_action


def test_the_tour_can_be_skipped_is_not_offered_again_and_reopens_from_help(qtbot, window, mnist_loader):
    qtbot.waitUntil(lambda: window.tour.active)
    qtbot.mouseClick(window.tour.skip_button, Qt.LeftButton)
    assert not window.tour.active and not window.tour.highlight.isVisible()
    window.close()
    relaunched = new_window(qtbot, mnist_loader)
    try:
        qtbot.wait(100)
        assert not relaunched.tour.active
        relaunched.getting_started_action.trigger()
        assert relaunched.tour.active and relaunched.tour.index == 0
        qtbot.mouseClick(relaunched.tour.next_button, Qt.LeftButton)
        qtbot.mouseClick(relaunched.tour.back_button, Qt.LeftButton)
        assert relaunched.tour.index == 0
    finally:
        relaunched.close()


# ---------------------------------------------------------------- small screens
def test_the_first_window_fits_the_screens_available_geometry(window):
    from PySide6.QtCore import QSize

    from gui.main_window import first_window_size

    available = window.screen().availableGeometry().size()  # offscreen: 800x800
    assert window.width() <= available.width() and window.height() <= available.height()
    assert first_window_size(QSize(1920, 1080)) == QSize(1280, 800)
    assert first_window_size(QSize(1366, 768)).height() <= 768 - 40  # the status bar stays on screen
    assert first_window_size(QSize(1024, 600)).width() <= 1024


@pytest.mark.parametrize("size", [(1024, 600), (1008, 552)])  # the window, or the first one on a 1024x600 screen
def test_every_tab_fits_a_1024x600_screen_without_scrolling(qtbot, window, mnist, size):
    from gui_view_support import quick_model, show_model, wait_for_views
    from PySide6.QtWidgets import QScrollArea

    from gui.main_window import first_window_size

    assert first_window_size(QSize(1024, 600)).toTuple() == (1008, 552)
    show_model(window, quick_model(mnist))
    window.resize(*size)
    views_area = window.views.parentWidget().parentWidget().parentWidget()
    assert isinstance(views_area, QScrollArea)
    for settings_tab in range(window.settings_tabs.count()):
        window.settings_tabs.setCurrentIndex(settings_tab)
        for index in range(window.views.count()):
            window.views.setCurrentIndex(index)
            wait_for_views(window)
            page = window.views.currentWidget()
            title = window.views.tabText(index)
            qtbot.waitUntil(lambda page=page: page.width() >= page.minimumSizeHint().width()
                            and page.height() >= page.minimumSizeHint().height(), timeout=2000)
            qtbot.wait(20)  # the scroll area shows its bars after the layout has settled
            # every view fits: the area around the views never needs to scroll
            assert not views_area.horizontalScrollBar().isVisible(), title
            assert not views_area.verticalScrollBar().isVisible(), title
            assert window.size().toTuple() == size, title
            hint = window.minimumSizeHint()
            assert hint.width() <= size[0] and hint.height() <= size[1], title
            assert window.rect().contains(window.statusBar().geometry())
    left = window.start_button.parentWidget().parentWidget()
    assert left.height() >= left.minimumSizeHint().height()


def test_slow_motion_and_a_step_report_fit_a_1024x600_window_without_crushing_the_plots(qtbot, window, click):
    from gui_view_support import configure
    from PySide6.QtWidgets import QScrollArea

    from gui.plots import DATA_MIN_HEIGHT

    window.resize(1024, 600)
    configure(window, train_size=2000, epochs=1, batch_size=16)
    window.speed_control.set_speed(5)  # slow motion: the mini-batch strip shows each update
    views_area = window.views.parentWidget().parentWidget().parentWidget()
    assert isinstance(views_area, QScrollArea)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT):
        click("startButton")
        qtbot.waitUntil(window.batch_strip.isVisible, timeout=10_000)
        click("pauseButton")
        qtbot.wait(300)
        with qtbot.waitSignal(window.controller.stepped, timeout=10_000):
            click("stepButton")
        qtbot.wait(100)
        panel = window.step_panel
        assert panel.isVisible() and not window.batch_strip.isVisible()  # one strip of digits at a time
        assert not views_area.verticalScrollBar().isVisible() and not views_area.horizontalScrollBar().isVisible()
        for plot in (window.plots.loss_plot, window.plots.accuracy_plot):  # room for the data under the legends
            assert plot.getPlotItem().vb.height() >= DATA_MIN_HEIGHT - 1
        assert panel.height() >= panel.minimumSizeHint().height()
        assert panel.moves.geometry().top() >= panel.images.parentWidget().parentWidget().geometry().bottom()
        window.speed_control.set_speed(None)
        click("pauseButton")


@pytest.mark.parametrize("size", [(1024, 600), (1280, 800)])
def test_a_long_error_banner_leaves_the_views_their_room(qtbot, window, size):
    """The banner's word-wrapped message once made the area around the views as tall as all its
    parts' preferred heights (1,600 px: the plots scrolled off the window)."""
    from PySide6.QtWidgets import QScrollArea

    window.resize(*size)
    window.show_error("Run #2 diverged: training diverged in epoch 1 after 8 updates: the loss became nan. The "
                      "model keeps the weights from just before the update that made them non-finite (8 of the "
                      "epoch's updates applied). Try a smaller learning rate than 10, or an adaptive optimiser.")
    qtbot.wait(50)
    views_area = window.views.parentWidget().parentWidget().parentWidget()
    assert isinstance(views_area, QScrollArea)
    banner, label = window.status.error_banner, window.error_label
    assert banner.isVisible()
    assert not views_area.verticalScrollBar().isVisible() and not views_area.horizontalScrollBar().isVisible()
    assert views_area.widget().height() <= views_area.viewport().height()
    # the whole message shows, and the banner is no taller than it needs
    assert label.height() >= label.heightForWidth(label.width())
    assert banner.height() <= label.heightForWidth(label.width()) + 40


def test_small_views_page_and_tab_instead_of_scrolling(qtbot, window, mnist):
    """Misclassified shows as many whole cells as fit; Inside the network shows its sections as tabs
    when they do not fit side by side, and side by side on a large screen."""
    from gui_view_support import quick_model, show_model, wait_for_views

    show_model(window, quick_model(mnist))
    grid = window.findChild(QWidget, "misclassifiedView")
    weights = window.findChild(QWidget, "weightsView")
    for size, wide in (((1024, 600), False), ((1600, 1000), True), ((1008, 552), False)):
        window.resize(*size)
        for view in (grid, weights):
            window.views.setCurrentWidget(view)
            wait_for_views(window)
            qtbot.wait(20)
        window.views.setCurrentWidget(grid)
        qtbot.waitUntil(lambda: grid.grid.shape == grid.grid.fitting_shape(), timeout=2000)
        columns, rows = grid.grid.shape
        cells = [cell for cell in grid.cells if cell.isVisibleTo(grid)]
        assert len(cells) == grid.page_size == columns * rows == len(grid.page_indices())
        assert (columns * rows == 70) == wide
        for cell in cells:  # whole cells only, inside the view
            assert grid.grid.rect().contains(cell.geometry()), size
        window.views.setCurrentWidget(weights)
        qtbot.waitUntil(lambda wide=wide: weights.compact != wide, timeout=2000)
        assert weights.section_bar.isVisibleTo(weights) == (not wide)
        assert weights.tiles.isVisibleTo(weights)  # the first section is the one in front
        if not wide:  # clicking a section's tab shows that section alone
            bar = weights.section_bar
            qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(2).center())
            assert weights.activations_widget.isVisible() and not weights.tiles.isVisible()
            assert not weights.weight_plot.isVisible()
            qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(0).center())
            assert weights.tiles.isVisible() and not weights.activations_widget.isVisible()


def test_every_view_tab_names_itself_in_full_when_a_narrow_window_shortens_it(window):
    window.resize(1024, 600)
    titles = [window.views.tabText(i) for i in range(window.views.count())]
    assert len(titles) >= 9 and "Neuron lab" in titles
    assert [window.views.tabToolTip(i) for i in range(window.views.count())] == titles
