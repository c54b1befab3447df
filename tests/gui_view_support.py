"""Helpers shared by the view tests: a quickly trained model and simulated strokes."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from scratchnet.network import mlp
from scratchnet.optimizers import make_optimizer
from scratchnet.training import TrainConfig, train


def quick_model(dataset, hidden=(64,), epochs: int = 1, train_size: int = 5000, seed: int = 0):
    """784-64-10 after one mini-batch epoch on 5,000 images: about 90% test accuracy, so
    hundreds of mistakes to browse."""
    data = dataset.subset(train_size)
    model = mlp(784, list(hidden), 10, rng=np.random.default_rng(seed))
    config = TrainConfig(descent="mini", batch_size=64, epochs=epochs, seed=seed)
    for _ in train(model, make_optimizer("momentum", 0.05), data.x_train, data.y_train, config):
        pass
    return model


def send_mouse(widget, kind, point, button, buttons) -> None:
    position = QPointF(*point)
    event = QMouseEvent(kind, position, widget.mapToGlobal(position), button, buttons, Qt.NoModifier)
    QApplication.sendEvent(widget, event)


def draw_stroke(canvas, points) -> None:
    """Press at the first point, move through the rest with the left button held, release."""
    send_mouse(canvas, QEvent.MouseButtonPress, points[0], Qt.LeftButton, Qt.LeftButton)
    for point in points[1:]:
        send_mouse(canvas, QEvent.MouseMove, point, Qt.NoButton, Qt.LeftButton)
    send_mouse(canvas, QEvent.MouseButtonRelease, points[-1], Qt.LeftButton, Qt.NoButton)


def seven_strokes() -> list[list[tuple[float, float]]]:
    """A '7' in canvas pixels: the top bar, then the diagonal."""
    top = [(70 + 7 * i, 60) for i in range(21)]
    diagonal = [(210 - 4 * i, 60 + 9 * i) for i in range(21)]
    return [top, diagonal]


def show_model(window, model) -> None:
    """Make ``model`` the window's current model, the way a finished run does, and wait until the
    visible view has drawn it (its numbers are computed in a worker thread)."""
    window.controller.set_model(model, None)
    wait_for_views(window)


def wait_for_views(window, timeout_s: float = 30.0) -> None:
    """Let the window's view worker finish and the visible view draw what it computed."""
    from gui.views import ViewRefresher

    refresher = window.findChild(ViewRefresher, "viewRefresher")
    deadline = time.monotonic() + timeout_s
    while refresher.pending:
        assert time.monotonic() < deadline, "the views did not refresh in time"
        QApplication.processEvents(QEventLoop.AllEvents, 20)
        time.sleep(0.002)


RUN_TIMEOUT = 90_000


def configure(window, *, descent="mini", train_size=2000, epochs=1, batch_size=64, lr=None, schedule="constant"):
    """The run settings the window tests rely on (a constant schedule: the Quick start default is cosine)."""
    panel = window.training_panel
    panel.descent_radios[descent].setChecked(True)
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData(schedule))
    panel.train_size_spin.setValue(train_size)
    panel.batch_size_spin.setValue(batch_size)
    panel.epochs_spin.setValue(epochs)
    if lr is not None:
        panel.learning_rate_spin.setValue(lr)


def run_in_window(qtbot, window, click, button="startButton"):
    """Click ``button`` and wait until the window is idle again; the last run."""
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as blocker:
        click(button)
    return blocker.args[0]
