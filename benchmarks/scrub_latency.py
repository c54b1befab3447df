"""Time-slider latency (issue 16): from a move of ``timeSlider`` to the visible view redrawn.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/scrub_latency.py [--moves 15]

Runs the real main window offscreen, trains a 784-256-128-10 run of 2 epochs on 2,000 MNIST
images (about 24 checkpoints), then for each view tab moves the slider to random checkpoints and
times, per move, from the slider's coalesced request (``TimeBar.moved``) until the visible view
has drawn that checkpoint's model (its numbers computed in the view worker thread). The slider
itself waits ``SCRUB_COALESCE_MS`` for the drag to pause first; that wait is left out.

Idle, the window prepares the visible view's numbers for the checkpoints around the slider
(``ViewRefresher.prefetch``): the moves are timed once that is done (median and maximum, target
under 100 ms). Also printed: the first move to a checkpoint not yet prepared (the view worker
computes it then: the test-set predictions of 784-256-128-10 take most of it) and how long the
preparing took.
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
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow
from gui.time_travel import SCRUB_COALESCE_MS
from gui.views import ViewRefresher
from scratchnet.data import load_dataset
from scratchnet.run_config import hidden_layers


def wait(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        QApplication.processEvents(QEventLoop.AllEvents, 5)


def measure(moves: int, seed: int) -> dict[str, np.ndarray]:
    QApplication.instance() or QApplication([])
    dataset = load_dataset("mnist")
    window = MainWindow(dataset_loader=lambda name: dataset)
    window.resize(1280, 800)
    window.show()
    wait(lambda: window.dataset is not None)
    config = window.run_config().replace(hidden=hidden_layers(256, 128), train_size=2000, epochs=2,
                                         descent="mini", batch_size=64, schedule="constant")
    window.show_config(config)
    window.start_training()
    wait(lambda: not window.is_running and window.runs)
    refresher = window.findChild(ViewRefresher, "viewRefresher")
    bar = window.time_bar
    count = len(bar.points)
    rng = np.random.default_rng(seed)
    results = {}
    for index in range(1, window.views.count()):  # every view but the curves
        window.views.setCurrentIndex(index)
        started = time.perf_counter()
        wait(lambda: not refresher.pending)
        # cold: the first move to a checkpoint nobody prepared yet (the worker computes it then)
        cold_target = count // 2 if bar.index != count // 2 else 0
        start = time.perf_counter()
        bar.choose(cold_target)
        bar.flush()
        wait(lambda: not refresher.pending)
        cold = time.perf_counter() - start
        wait(lambda: not refresher.busy)  # idle, the refresher prepares the checkpoints around the slider
        prepared = time.perf_counter() - started
        times = []
        for _ in range(moves):
            target = int(rng.integers(0, count))
            if target == bar.index:
                target = (target + 1) % count
            start = time.perf_counter()
            bar.choose(target)
            bar.flush()  # the coalescing wait is the drag's, not the views'
            wait(lambda: not refresher.pending)
            QApplication.processEvents()
            times.append(time.perf_counter() - start)
        results[window.views.tabText(index)] = (np.array(times) * 1000, cold * 1000, prepared)
    window.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = measure(args.moves, args.seed)
    print(f"784-256-128-10, {args.moves} slider moves per view (after the drag's {SCRUB_COALESCE_MS} ms pause); "
          f"load average {os.getloadavg()[0]:.1f}")
    print("  view                  prepared: median      max  | first move, unprepared | all prepared after")
    for name, (ms, cold, prepared) in results.items():
        print(f"  {name:<20} {np.median(ms):8.1f} ms {ms.max():8.1f} ms  | {cold:8.1f} ms"
              f"              | {prepared:6.1f} s")


if __name__ == "__main__":
    main()
