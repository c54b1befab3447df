"""Take the README screenshots: the app at 1280x800, after real training runs.

Run it through `make screenshots` (Xvfb, xcb) or directly:
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python tools/screenshots.py docs
Writes into the given folder (default docs/):
- screenshot-first-launch.png  a first launch (no remembered settings): Quick start chosen, the tour offered;
- screenshot-network.png   a finished 3-epoch mini-batch run, network panel in front;
- screenshot-training.png  a run in progress (paused), training panel in front;
- screenshot-compare.png   "Compare descents" overlaid, x axis in samples seen;
- screenshot-about.png     Help -> About scratchnet.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def run_until_idle(window: MainWindow, start) -> None:
    loop = QEventLoop()
    window.training_finished.connect(loop.quit)
    start()
    loop.exec()
    window.training_finished.disconnect(loop.quit)
    wait(600)  # let the last redraw land


def wait_until(condition, timeout_s: float = 60.0) -> None:
    """Let the window work until ``condition()`` holds, at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        wait(50)


def fresh_window(settings_dir: str, size: tuple[int, int] | None = None) -> MainWindow:
    """A window remembering into a fresh file in ``settings_dir`` (a first launch, and the user's
    settings left alone), at the top left and ``size`` (None: the whole screen, as there is no
    window manager to maximise it), shown once its data set has loaded."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(settings=QSettings(str(Path(settings_dir) / "scratchnet.ini"), QSettings.IniFormat))
    window.move(0, 0)
    window.resize(*size) if size else window.resize(app.primaryScreen().availableGeometry().size())
    window.show()
    wait_until(lambda: window.dataset is not None)
    return window


def screen_filling_window(settings_dir: str) -> tuple[MainWindow, str]:
    """``fresh_window`` filling the screen, and the screen's size, "WxH"."""
    window = fresh_window(settings_dir)
    screen = window.screen().availableGeometry()
    return window, f"{screen.width()}x{screen.height()}"


def shoot(window: MainWindow, path: Path) -> None:
    """The whole screen (the window fills it; there is no window manager) or else the window."""
    screen = window.screen()
    pixmap = screen.grabWindow(0) if QApplication.platformName() == "xcb" else window.grab()
    pixmap.save(str(path))
    print(f"wrote {path} ({pixmap.width()}x{pixmap.height()})")


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_dir = tempfile.TemporaryDirectory()
    window = fresh_window(settings_dir.name, (1280, 800))
    panel, editor = window.training_panel, window.layer_editor
    wait(600)
    shoot(window, out / "screenshot-first-launch.png")
    window.tour.skip()  # the first launch offers the guided tour; the other shots are without it

    editor.add_layer()
    editor.width_spin(1).setValue(64)
    panel.train_size_spin.setValue(20_000)
    panel.epochs_spin.setValue(3)
    run_until_idle(window, window.start_training)
    shoot(window, out / "screenshot-network.png")

    window.settings_tabs.setCurrentIndex(1)
    panel.epochs_spin.setValue(6)
    panel.batch_size_spin.setValue(32)
    window.start_training()
    while len(window.controller.run.epochs) < 2 if window.controller.run else True:
        wait(100)
    window.toggle_pause()
    wait(700)
    shoot(window, out / "screenshot-training.png")
    window.stop_training()
    loop = QEventLoop()
    window.training_finished.connect(loop.quit)
    loop.exec()

    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
    panel.learning_rate_spin.setValue(0.05)
    panel.train_size_spin.setValue(3000)
    panel.epochs_spin.setValue(3)
    run_until_idle(window, window.compare_descents)
    shoot(window, out / "screenshot-compare.png")

    about = window.show_about()
    wait(500)
    pixmap = about.grab()
    pixmap.save(str(out / "screenshot-about.png"))
    print(f"wrote {out / 'screenshot-about.png'} ({pixmap.width()}x{pixmap.height()})")
    about.close()
    window.close()
    settings_dir.cleanup()
    app.quit()
    return 0


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main(sys.argv[1:]))
