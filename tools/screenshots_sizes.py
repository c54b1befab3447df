"""Screenshots of the window on a small (1024x600) and a large (1920x1080) screen, for issue 13.

Run once per screen size, under Xvfb with a screen of that size (the first window sizes itself
to the screen's available geometry):
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1024x600x24" .venv/bin/python tools/screenshots_sizes.py docs
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python tools/screenshots_sizes.py docs
Writes ``screenshot-<W>x<H>-<what>.png``: the first launch with the guided tour, slow motion
during a run, a single step's report, the descent advice with its warning, each view tab after
the run (each section of Inside the network where it shows one at a time), and the three descents
compared. The window fills the screen (there is no window manager to maximise it).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QObject
from PySide6.QtWidgets import QApplication

from tools.screenshots import screen_filling_window, shoot, wait


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_dir = tempfile.TemporaryDirectory()
    window, tag = screen_filling_window(settings_dir.name)
    wait(800)
    shoot(window, out / f"screenshot-{tag}-first-launch-tour.png")
    window.tour.skip()

    panel = window.training_panel
    window.settings_tabs.setCurrentIndex(1)
    panel.descent_radios["sgd"].click()  # Quick start's momentum 0.9 and lr 0.05 stay: advice and warning
    wait(300)
    shoot(window, out / f"screenshot-{tag}-descent-advice.png")
    panel.use_tested_settings()
    panel.descent_radios["mini"].click()
    panel.use_tested_settings()

    panel.train_size_spin.setValue(12_800)
    panel.epochs_spin.setValue(2)
    window.speed_control.set_speed(2)
    finished = QEventLoop()
    window.training_finished.connect(finished.quit)
    window.start_training()
    while window.progress.get("update", 0) < 4:
        wait(100)
    wait(300)
    shoot(window, out / f"screenshot-{tag}-slow-motion.png")
    window.toggle_pause()
    wait(600)
    stepped = QEventLoop()
    window.controller.stepped.connect(stepped.quit)
    window.step_once()
    stepped.exec()
    wait(600)
    shoot(window, out / f"screenshot-{tag}-step.png")
    window.speed_control.set_speed(None)
    window.toggle_pause()
    finished.exec()
    wait(800)
    refresher = window.findChild(QObject, "viewRefresher")
    for index in range(1, window.views.count()):
        window.views.setCurrentIndex(index)
        while refresher.pending:  # its numbers are computed in a worker thread first
            wait(100)
        wait(500)
        name = window.views.tabText(index).lower().replace(" ", "-")
        shoot(window, out / f"screenshot-{tag}-{name}.png")
        sections = getattr(window.views.currentWidget(), "section_bar", None)
        if sections is not None and sections.isVisible():  # one section at a time: each of the others too
            for section in range(1, sections.count()):
                sections.setCurrentIndex(section)
                wait(500)
                shoot(window, out / f"screenshot-{tag}-{name}-{section + 1}.png")
            sections.setCurrentIndex(0)
    window.views.setCurrentIndex(0)
    panel.train_size_spin.setValue(3_000)
    panel.epochs_spin.setValue(3)
    compared = QEventLoop()
    window.training_finished.connect(compared.quit)
    window.compare_descents()
    compared.exec()
    wait(800)
    shoot(window, out / f"screenshot-{tag}-compare-descents.png")
    window.close()
    settings_dir.cleanup()
    app.quit()
    return 0


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main(sys.argv[1:]))
