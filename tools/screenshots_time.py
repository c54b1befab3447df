"""Screenshots of time travel (issue 16): the time slider back at an earlier checkpoint, and a fork.

    xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb .venv/bin/python tools/screenshots_time.py docs

Writes into the given folder (default docs/), at 1280x800, after real runs on 6,000 MNIST images
(the run library goes to a temporary folder, not the user's):
- time-slider.png       a 4-epoch run, the slider moved back to epoch 1: the confusion matrix of
                        that checkpoint, a cursor on the curves;
- time-fork.png         a fork from epoch 2 with a ten times smaller learning rate, drawn with its
                        parent and linked to it in the runs list;
- time-run-library.png  the Run library dialog.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screenshots import fresh_window, run_until_idle, shoot, wait

from gui.views import ConfusionView


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as settings_dir:
        os.environ["XDG_DATA_HOME"] = settings_dir  # the run library too
        window = fresh_window(settings_dir, (1280, 800))
        window.tour.skip()  # the first launch offers the guided tour
        config = window.run_config().replace(train_size=6000, epochs=4, schedule="constant", learning_rate=0.05)
        window.show_config(config)
        run_until_idle(window, window.start_training)
        parent = window.runs[-1]
        points = window.time_bar.points
        window.views.setCurrentWidget(window.findChild(ConfusionView))
        window.time_bar.choose(points.index((1, parent.updates_per_epoch, 6000)))
        window.time_bar.flush()
        wait(1500)
        shoot(window, out / "time-slider.png")

        window.views.setCurrentIndex(0)
        window.time_bar.choose(points.index((2, 2 * parent.updates_per_epoch, 12000)))
        window.time_bar.flush()
        dialog = window.time_travel.open_fork_dialog()
        dialog.learning_rate_spin.setValue(0.005)
        wait(300)
        shoot(window, out / "time-fork-dialog.png")
        run_until_idle(window, dialog.accept)
        wait(800)
        shoot(window, out / "time-fork.png")

        library = window.library.open_dialog()
        wait(500)
        library.grab().save(str(out / "time-run-library.png"))
        print(f"wrote {out / 'time-run-library.png'}")
        library.close()
        window.close()
    return 0


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main(sys.argv[1:]))
