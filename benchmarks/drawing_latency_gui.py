"""Drawing-pad latency: from a stroke's release event to the updated probability bars.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/drawing_latency_gui.py [--strokes 200]

Runs the real main window offscreen with a 784-256-128-10 model on the drawing pad, sends mouse
events to the real canvas (press, moves with the left button held, release) and times, per
stroke, from just before the release event is sent until (a) the event has been handled, which
includes preparing the 28×28 input, the forward pass and setting the bars, and (b) the bars have
been repainted. Prints the median and the 99th percentile of each, in milliseconds, as wall time
and as the GUI thread's CPU time (which leaves out the time other processes on a busy machine
held the cores; the load average is printed too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow
from gui.views import DrawingPad
from scratchnet.data import load_dataset
from scratchnet.network import mlp


def send(canvas, kind, point, button, buttons) -> None:
    event = QMouseEvent(kind, point, canvas.mapToGlobal(point), button, buttons, Qt.NoModifier)
    QApplication.sendEvent(canvas, event)


def random_stroke(rng: np.random.Generator, samples: int = 25) -> list[QPointF]:
    """A smooth random curve inside the canvas: a few sine terms, like a pen wandering."""
    t = np.linspace(0.0, 1.0, samples)
    start, direction = rng.uniform(60, 220, 2), rng.uniform(-140, 140, 2)
    wobble = rng.uniform(-40, 40, (2, 2))
    xs = start[0] + direction[0] * t + wobble[0, 0] * np.sin(2 * np.pi * t) + wobble[0, 1] * np.sin(4 * np.pi * t)
    ys = start[1] + direction[1] * t + wobble[1, 0] * np.sin(2 * np.pi * t) + wobble[1, 1] * np.sin(4 * np.pi * t)
    return [QPointF(float(x), float(y)) for x, y in zip(np.clip(xs, 5, 275), np.clip(ys, 5, 275), strict=True)]


def measure(strokes: int, seed: int) -> dict[str, np.ndarray]:
    app = QApplication.instance() or QApplication([])
    dataset = load_dataset("mnist")
    window = MainWindow(dataset_loader=lambda name: dataset)
    window.show()
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    window.controller.set_model(mlp(784, [256, 128], 10, rng=np.random.default_rng(seed)), None)
    canvas, rng = pad.canvas, np.random.default_rng(seed)
    handled, painted, cpu = [], [], []
    for k in range(strokes):
        if k % 3 == 0:
            pad.clear()
        points = random_stroke(rng)
        send(canvas, QEvent.MouseButtonPress, points[0], Qt.LeftButton, Qt.LeftButton)
        for point in points[1:]:
            send(canvas, QEvent.MouseMove, point, Qt.NoButton, Qt.LeftButton)
        app.processEvents()
        start, start_cpu = time.perf_counter(), time.thread_time()
        send(canvas, QEvent.MouseButtonRelease, points[-1], Qt.LeftButton, Qt.NoButton)
        handled.append(time.perf_counter() - start)
        pad.bars.repaint()
        painted.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        assert pad.bars.probabilities() is not None
    window.close()
    return {
        "release handled, bars set": np.array(handled) * 1000,
        "bars repainted": np.array(painted) * 1000,
        "bars repainted, CPU time": np.array(cpu) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = measure(args.strokes, args.seed)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"drawing pad, 784-256-128-10, {args.strokes} strokes (release event -> probability bars), "
          f"{os.cpu_count()} cores, load average {load:.1f}")
    for name, ms in results.items():
        print(f"  {name:<28} median {np.median(ms):6.2f} ms   p99 {np.percentile(ms, 99):6.2f} ms   "
              f"max {ms.max():6.2f} ms")
    return 0


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main())
