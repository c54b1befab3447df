"""Screenshots of the Backprop tab for docs/: each stage of the walk, each page, and the tab with
no model, after a real 784-256-128-10 run in the window.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python tools/screenshots_backprop.py docs
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1024x600x24" .venv/bin/python tools/screenshots_backprop.py docs
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python tools/screenshots_backprop.py docs

The window fills the screen. At 1280x800 it writes backprop-<what>.png (no-model, input, forward,
loss, backward, first-layer, gradient-check, one-step, why-this-digit, gradient-noise); at any
other size, screenshot-<W>x<H>-backprop.png (the last stage) and
screenshot-<W>x<H>-backprop-noise.png.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from gui.defaults import DEFAULT_CONFIG
from gui.views import BackpropView
from scratchnet.run_config import hidden_layers
from tools.screenshots import run_until_idle, screen_filling_window, shoot, wait

TEST_INDEX = 8  # a 5 with some doubt in it: the loss and its gradients are not tiny


def settle(app: QApplication, view: BackpropView, ms: int = 400) -> None:
    """Until the tab's jobs are done, then ``ms`` more for the paint."""
    deadline = time.monotonic() + 60
    while view.runner.busy() and time.monotonic() < deadline:
        app.processEvents(QEventLoop.AllEvents, 50)
    wait(ms)


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_dir = tempfile.TemporaryDirectory()
    window, tag = screen_filling_window(settings_dir.name)
    full = tag == "1280x800"
    window.tour.skip()
    view = window.findChild(BackpropView, "backpropView")
    window.views.setCurrentWidget(view)
    wait(500)
    if full:
        shoot(window, out / "backprop-no-model.png")

    window.show_config(DEFAULT_CONFIG.replace(hidden=hidden_layers(256, 128), epochs=1, train_size=20_000))
    window.views.setCurrentIndex(0)
    run_until_idle(window, window.start_training)
    window.views.setCurrentWidget(view)
    view.show_test_digit(TEST_INDEX)
    settle(app, view)
    steps = view.steps
    shots = {0: "input", 3: "forward", 6: "loss", 8: "backward", 11: "first-layer"} if full else {11: ""}
    traced = view.trace

    def busiest(layer: int) -> int:
        """The unit of ``model.layers[layer]`` with the largest |dL/d(output)|: a unit that learns."""
        return int(abs(traced.steps[layer].grad_output).argmax())

    for stage, name in shots.items():
        steps.go(stage)
        if stage == 3:
            steps.select_unit(3, int(traced.steps[2].output.argmax()))
        if stage == 8:
            steps.select_unit(4, busiest(2))
        if stage == 11:
            steps.select_unit(2, busiest(0))
        settle(app, view, 300)
        shoot(window, out / (f"backprop-{name}.png" if full else f"screenshot-{tag}-backprop.png"))
    pages = {1: "gradient-check", 2: "one-step", 3: "why-this-digit", 4: "gradient-noise"} if full else {4: "noise"}
    for index, name in pages.items():
        view.pages.setCurrentIndex(index)
        settle(app, view)
        if name == "one-step":
            view.stepper.rate_spin.setValue(0.5)
            view.stepper.step_button.click()
            settle(app, view)
        shoot(window, out / (f"backprop-{name}.png" if full else f"screenshot-{tag}-backprop-{name}.png"))
    window.close()
    settings_dir.cleanup()
    return 0


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main(sys.argv[1:]))
