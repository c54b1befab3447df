"""How fast the "see the network" views are (issue 15):

- the network diagram's redraw at 784-800-800-10 (target < 50 ms): one digit's forward, the
  16 most active units per layer, the strongest links and the scene, painted into a pixmap the
  size of the tab, at 3 and at 16 links per unit;
- the neuron lab's edit -> accuracy at 784-256-128-10 on all 10,000 test images (target < 200 ms):
  building the edited copy and its accuracy (``EditedAccuracy``), for a silenced first-layer unit,
  a shifted first-layer bias (the whole forward again), a second-layer unit, and 50% pruning.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/see_speed.py [--repeats 15]

Prints the median and the worst of the repeats. Untrained weights: the time does not depend on
them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication

from gui.views.network_diagram import NetworkDiagram
from gui.views.neuron_lab import UnitEdit, edited_model
from gui.views.predictions import ModelContext
from scratchnet.data import load_dataset
from scratchnet.explain import EditedAccuracy
from scratchnet.network import mlp


def timed(function, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times), max(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    dataset = load_dataset("mnist")

    diagram = NetworkDiagram()
    diagram.resize(620, 500)
    diagram.show()
    diagram.set_context(ModelContext(mlp(784, [800, 800], 10, rng=np.random.default_rng(0)), dataset))
    app.processEvents()
    canvas = QPixmap(diagram.canvas.viewport().size())
    digits = iter(range(10_000))

    def redraw() -> None:
        diagram.test_spin.setValue(next(digits))  # a new digit: forward, choice of units, scene
        diagram.canvas.viewport().render(canvas)  # and the paint

    print("Network diagram, 784-800-800-10, redraw for a new digit (target < 50 ms):")
    for links in (3, 16):
        diagram.link_slider.setValue(links)
        median, worst = timed(redraw, args.repeats)
        print(f"  {links:2d} links per unit: median {median:5.1f} ms, worst {worst:5.1f} ms")

    model = mlp(784, [256, 128], 10, rng=np.random.default_rng(0))
    start = time.perf_counter()
    lab = EditedAccuracy(model, dataset.x_test, dataset.y_test)
    print(f"\nNeuron lab, 784-256-128-10, 10,000 test images (target < 200 ms per edit); "
          f"cache of every layer's outputs: {1000 * (time.perf_counter() - start):.0f} ms, once per model")
    cases = {
        "switch off a first-layer unit": ({(1, 7): UnitEdit(off=True)}, 0.0),
        "scale a first-layer unit 1.5x": ({(1, 7): UnitEdit(scale=1.5)}, 0.0),
        "shift a first-layer bias": ({(1, 7): UnitEdit(shift=0.5)}, 0.0),
        "switch off a second-layer unit": ({(3, 7): UnitEdit(off=True)}, 0.0),
        "prune 50% of every layer": ({}, 0.5),
    }
    for name, (edits, fraction) in cases.items():
        median, worst = timed(lambda e=edits, f=fraction: lab.accuracy(edited_model(model, e, f)), args.repeats)
        print(f"  {name:32s} median {median:5.1f} ms, worst {worst:5.1f} ms (ran from layer {lab.start})")
    diagram.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
