"""Screenshots of My digits and of File → Import data… (issue 17), at 1280x800.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python tools/screenshots_data.py docs
Writes into the given folder (default docs/):
- my-digits.png      the My digits gallery after a short run and a fine-tune: 40 digits in one section
                     per label (headed by its count and the model's accuracy on it), the model's
                     prediction under each (mistakes on red), the before/after figures;
- import-dialog.png  the import dialog after importing a folder of 32x32 colour PNGs in 3 classes
                     (<class>/*.png) as 20x20 images, with the layout it found.
My digits and the import cache live in a temporary folder ($XDG_DATA_HOME), not the user's.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from tools.screenshots import fresh_window, run_until_idle, shoot, wait, wait_until

CLASSES = ("circle", "cross", "square")


def write_shapes(folder: Path, count: int = 90) -> None:
    """<class>/*.png: 32x32 colour pictures of three shapes, with noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    radius = np.hypot(yy - 15.5, xx - 15.5)
    shapes = [np.abs(radius - 10) < 2.5,
              (np.abs(yy - xx) < 2.5) | (np.abs(yy + xx - 31) < 2.5),
              (np.maximum(np.abs(yy - 15.5), np.abs(xx - 15.5)) < 12) & (np.maximum(np.abs(yy - 15.5),
                                                                                    np.abs(xx - 15.5)) > 8)]
    for index in range(count):
        label = index % 3
        grey = np.clip(shapes[label] * 200 + rng.integers(0, 60, (32, 32)), 0, 255).astype(np.uint8)
        rgb = np.ascontiguousarray(np.stack([grey, grey // 2, 255 - grey], axis=2))
        (folder / CLASSES[label]).mkdir(parents=True, exist_ok=True)
        QImage(rgb.data, 32, 32, 96, QImage.Format_RGB888).copy().save(str(folder / CLASSES[label] / f"{index}.png"))


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.TemporaryDirectory()
    os.environ["XDG_DATA_HOME"] = str(Path(scratch.name) / "data")
    QApplication.instance() or QApplication(sys.argv[:1])
    window = fresh_window(str(Path(scratch.name)), (1280, 800))
    window.tour.skip()
    from gui.views import MyDigitsView

    window.apply_preset("quick-start")
    window.training_panel.train_size_spin.setValue(3000)
    window.training_panel.epochs_spin.setValue(1)
    run_until_idle(window, window.start_training)
    view = window.findChild(MyDigitsView, "myDigitsView")
    mnist = window.dataset
    for label in range(10):  # four of each digit (MNIST test images standing in for drawn ones)
        for index in np.flatnonzero(mnist.y_test == label)[10:14]:
            view.add(mnist.x_test[index], label)
    window.views.setCurrentWidget(view)
    window.training_panel.train_size_spin.setValue(10_000)
    view.share_spin.setValue(20)
    run_until_idle(window, view.fine_tune_button.click)
    wait_until(lambda: "Before → after" in view.result_label.text())
    wait(600)
    shoot(window, out / "my-digits.png")

    pictures = Path(scratch.name) / "pictures"
    write_shapes(pictures)
    dialog = window.import_data()
    dialog.path_edit.setText(str(pictures))
    dialog.size_spin.setValue(20)
    dialog.held_out_spin.setValue(20.0)
    dialog.import_button.click()
    wait_until(lambda: not dialog.busy and window.dataset.name == "pictures")
    dialog.move(window.x() + 330, window.y() + 180)
    wait(600)
    shoot(window, out / "import-dialog.png")
    dialog.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
