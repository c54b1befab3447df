"""Screenshots of the inspection views for docs/: train a model in the real window, draw a
digit on the pad with mouse events, then grab each view.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python tools/screenshots_views.py

Writes docs/view-misclassified.png, view-digit-detail.png, view-confusion.png, view-weights.png
and view-drawing-pad.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gui.defaults import DEFAULT_CONFIG  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.views import ConfusionView, DrawingPad, MisclassifiedView, WeightsView  # noqa: E402

DOCS = ROOT / "docs"
EPOCHS = 2


def wait_for(app: QApplication, done, timeout_s: float) -> None:
    loop_timer = QTimer()
    loop_timer.setSingleShot(True)
    loop_timer.start(int(timeout_s * 1000))
    while not done():
        if not loop_timer.isActive():
            raise TimeoutError("gave up waiting")
        app.processEvents(QEventLoop.AllEvents, 50)


def three(samples: int = 60) -> list[QPointF]:
    """A '3' as one stroke in canvas pixels: two bowls, the upper one smaller."""
    upper = np.linspace(np.radians(-160), np.radians(90), samples // 2)
    lower = np.linspace(np.radians(-90), np.radians(155), samples // 2)
    points = [(140 + 48 * np.cos(a), 92 + 42 * np.sin(a)) for a in upper]
    points += [(145 + 58 * np.cos(a), 186 + 52 * np.sin(a)) for a in lower]
    return [QPointF(float(x), float(y)) for x, y in points]


def draw(canvas, points: list[QPointF]) -> None:
    def send(kind, point, button, buttons):
        event = QMouseEvent(kind, point, canvas.mapToGlobal(point), button, buttons, Qt.NoModifier)
        QApplication.sendEvent(canvas, event)

    send(QEvent.MouseButtonPress, points[0], Qt.LeftButton, Qt.LeftButton)
    for point in points[1:]:
        send(QEvent.MouseMove, point, Qt.NoButton, Qt.LeftButton)
    send(QEvent.MouseButtonRelease, points[-1], Qt.LeftButton, Qt.NoButton)


def shoot(app: QApplication, widget, name: str) -> None:
    app.processEvents()
    path = DOCS / name
    widget.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    DOCS.mkdir(exist_ok=True)
    window = MainWindow()
    window.show()
    wait_for(app, lambda: window.dataset is not None, 60)
    window.training_panel.set_config(DEFAULT_CONFIG.replace(epochs=EPOCHS))
    finished = []
    window.training_finished.connect(finished.append)
    window.start_training()
    wait_for(app, lambda: finished, 300)
    print(window.status_label.text())

    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    draw(pad.canvas, three())
    print(f"the pad's digit is read as {pad.prediction_label.text()}")
    shoot(app, window, "view-drawing-pad.png")

    weights = window.findChild(WeightsView, "weightsView")
    window.views.setCurrentWidget(weights)
    shoot(app, window, "view-weights.png")

    confusion = window.findChild(ConfusionView, "confusionView")
    window.views.setCurrentWidget(confusion)
    shoot(app, window, "view-confusion.png")

    grid = window.findChild(MisclassifiedView, "misclassifiedView")
    window.views.setCurrentWidget(grid)
    shoot(app, window, "view-misclassified.png")
    grid.open_detail(int(grid.page_indices()[0]))
    grid.detail.resize(grid.detail.sizeHint())
    shoot(app, grid.detail, "view-digit-detail.png")
    grid.detail.close()
    window.close()
    return 0


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main())
