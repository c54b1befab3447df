"""My digits (issue 17): what a learner waits for as the store grows.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/my_digits_speed.py [--digits 1000]

Adds ``--digits`` MNIST test digits to a store in a temporary folder (each add rewrites both IDX
files through temporary files, fsync and renames, as the drawing pad's "Add to my digits" does),
then times one more add, reading the store back, and the My digits gallery's redraw for a new
784-128-10 model: the part on the GUI thread (the digits drawn, the prediction job handed to a
worker thread) and the time until the predictions are drawn. Prints a Markdown table (median of
``--repeats``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp()
    import numpy as np
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from gui.views.my_digits import MyDigitsView
    from scratchnet.data import load_dataset
    from scratchnet.my_digits import MyDigits
    from scratchnet.network import mlp

    QApplication.instance() or QApplication([])
    mnist = load_dataset("mnist")
    store = MyDigits()
    for index in range(args.digits):
        store.add(mnist.x_test[index], int(mnist.y_test[index]))

    def timed(action) -> float:
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    add = timed(lambda: store.add(mnist.x_test[0], int(mnist.y_test[0])))
    read = timed(MyDigits)
    view = MyDigitsView(MyDigits())
    view.show()
    on_gui, until_drawn = [], []
    for repeat in range(args.repeats):
        model = mlp(784, [128], 10, rng=np.random.default_rng(repeat))  # a new model each time
        loop = QEventLoop()
        view.predicted.connect(loop.quit)
        start = time.perf_counter()
        view.set_model(model)
        on_gui.append(time.perf_counter() - start)
        loop.exec()
        until_drawn.append(time.perf_counter() - start)
        view.predicted.disconnect(loop.quit)
    redraw, predicted = (1000 * statistics.median(times) for times in (on_gui, until_drawn))
    print(f"| My digits, {args.digits:,} stored | median ms |\n| --- | ---: |")
    print(f"| one more add (both files rewritten, fsync) | {add:.1f} |")
    print(f"| reading the store | {read:.1f} |")
    print(f"| gallery redraw for a new model: on the GUI thread (digits drawn) | {redraw:.0f} |")
    print(f"| ... until its predictions are drawn (worker thread, then a second draw) | {predicted:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
