"""Screenshots of what the window keeps of runs (issue 13), after real training runs at 1280x800.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python tools/screenshots_runs.py docs
Writes into the given folder (default docs/):
- runs-diverged.png     Quick start, then 784-128-64-32-10 at learning rate 10: the diverged run kept;
- runs-lr-change.png    a run whose learning rate was lowered mid-run, marked on the curves;
- runs-step.png         paused, one Step: its batch, its loss before and after, each layer's move;
- runs-train-eval.png   dropout and augmentation, with the end-of-epoch train accuracy drawn;
- runs-continue.png     a 3-epoch run continued for 3 more, drawn on epochs 4-6;
- runs-compare.png      Compare descents with every line labelled, raw losses, accuracy zoomed;
- runs-compare-init.png Compare initialisations: each run named by its initialisation.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow
from tools.screenshots import fresh_window, run_until_idle, shoot, wait, wait_until


def configure(window: MainWindow, *, hidden=(128,), lr=None, train_size=5000, epochs=3, schedule=None) -> None:
    editor, panel = window.layer_editor, window.training_panel
    while editor.table.rowCount() < len(hidden):
        editor.add_layer()
    while editor.table.rowCount() > len(hidden):
        editor.remove_layer()
    for row, width in enumerate(hidden):
        editor.width_spin(row).setValue(width)
    panel.train_size_spin.setValue(train_size)
    panel.epochs_spin.setValue(epochs)
    if lr is not None:
        panel.learning_rate_spin.setValue(lr)
    if schedule is not None:
        panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData(schedule))


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_dir = tempfile.TemporaryDirectory()
    window = fresh_window(settings_dir.name, (1280, 800))
    window.tour.skip()  # offered on a first launch: not what these pictures are about
    remove = window.runs_panel.remove_button

    window.apply_preset("quick-start")
    configure(window, train_size=10_000, epochs=2)
    run_until_idle(window, window.start_training)
    configure(window, hidden=(128, 64, 32), lr=10.0, train_size=60_000, epochs=1)
    run_until_idle(window, window.start_training)
    window.views.setCurrentIndex(0)
    window.runs_panel.list.setCurrentRow(1)
    wait(400)
    shoot(window, out / "runs-diverged.png")

    window.runs_panel.list.selectAll()
    remove.click()
    window.apply_preset("quick-start")
    configure(window, train_size=20_000, epochs=3, schedule="constant")
    window.training_panel.batch_size_spin.setValue(16)
    window.start_training()
    wait_until(lambda: window.progress.get("update", 0) > 500)
    window.training_panel.learning_rate_spin.setValue(0.005)
    loop = QEventLoop()
    window.training_finished.connect(loop.quit)
    wait_until(lambda: window.progress.get("update", 0) > 2000)
    window.training_panel.learning_rate_spin.setValue(0.1)
    loop.exec()
    window.runs_panel.list.setCurrentRow(0)
    wait(600)
    shoot(window, out / "runs-lr-change.png")

    remove.click()
    window.start_training()
    wait_until(lambda: window.progress.get("update", 0) > 50)
    window.toggle_pause()
    wait(400)
    window.step_once()
    wait_until(lambda: window.step_panel.report is not None)
    wait(600)
    shoot(window, out / "runs-step.png")
    window.stop_training()
    loop = QEventLoop()
    window.training_finished.connect(loop.quit)
    loop.exec()

    window.runs_panel.list.selectAll()
    remove.click()
    window.layer_editor.dropout_spin.setValue(0.5)
    window.training_panel.augment_check.setChecked(True)
    window.curve_options.train_eval_check.setChecked(True)
    configure(window, lr=0.05, train_size=20_000, epochs=4)
    run_until_idle(window, window.start_training)
    shoot(window, out / "runs-train-eval.png")

    remove.click()
    window.curve_options.train_eval_check.setChecked(False)
    window.apply_preset("quick-start")
    configure(window, train_size=5000, epochs=3)
    run_until_idle(window, window.start_training)
    window.continue_check.setChecked(True)
    run_until_idle(window, window.start_training)
    shoot(window, out / "runs-continue.png")

    window.runs_panel.list.selectAll()
    remove.click()
    window.apply_preset("three-descents")
    configure(window, hidden=(64,), train_size=3000, epochs=3)
    window.curve_options.raw_loss_check.setChecked(True)
    window.curve_options.zoom_check.setChecked(True)
    run_until_idle(window, window.compare_descents)
    shoot(window, out / "runs-compare.png")

    window.runs_panel.list.selectAll()
    remove.click()
    window.curve_options.raw_loss_check.setChecked(False)
    window.curve_options.zoom_check.setChecked(False)
    window.apply_preset("initialisation")
    configure(window, hidden=(256, 256, 256), train_size=5000, epochs=3)
    run_until_idle(window, window.compare_initialisations)
    shoot(window, out / "runs-compare-init.png")

    window.close()
    settings_dir.cleanup()
    app.quit()
    return 0


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main(sys.argv[1:]))
