"""Time-slider latency (issue 16): from a move of ``timeSlider`` to the visible view redrawn.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/scrub_latency.py [--moves 15]

Runs the real main window offscreen, trains a 784-256-128-10 run of 2 epochs on 2,000 MNIST
images (about 24 checkpoints), then for each view tab moves the slider to random checkpoints and
times, per move, from the slider's coalesced request (``TimeBar.moved``) until the visible view
has drawn that checkpoint's model (its numbers computed in the view worker thread). The slider
itself waits ``SCRUB_COALESCE_MS`` for the drag to pause first; that wait is left out.

Idle, the window prepares the visible view's numbers for the checkpoints around the slider
(``ViewRefresher.prefetch``): the moves are timed once that is done (median and maximum, target
under 100 ms). Also timed, per view: first visits, moves to a checkpoint nobody prepared yet (the
view worker computes it then: the test-set predictions of 784-256-128-10 take most of it), median
and maximum over ``--cold`` of them, each made while the idle preparing of other checkpoints is
under way (as when a learner scrubs on), and how long preparing all checkpoints took.

The machine may be shared: print the load average, and compare two versions in the same run
(``SCRATCHNET_REPO=DIR`` runs another checkout's window with this script).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# SCRATCHNET_REPO=DIR: measure another checkout's window with this script (before/after in one run)
sys.path.insert(0, os.environ.get("SCRATCHNET_REPO", str(Path(__file__).resolve().parents[1])))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow
from gui.time_travel import SCRUB_COALESCE_MS
from gui.views import EmbeddingView, ViewRefresher
from scratchnet.data import load_dataset
from scratchnet.run_config import hidden_layers


def wait(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        QApplication.processEvents(QEventLoop.AllEvents, 5)


def forget_prepared(window) -> None:
    """Every checkpoint unprepared again: the time slider forgets the contexts it kept (with what
    the views computed for them)."""
    travel = window.time_travel
    travel._contexts.clear()
    travel._context_bytes = 0


def measure(moves: int, seed: int, cold_moves: int, only: str = "") -> dict[str, tuple]:
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
    # the Hidden-layer map draws its points in a job of its own, after its set_context: wait for them
    # too (a window without ``points_drawn`` draws the whole map, k-NN accuracy included, at once)
    embedding = window.findChild(EmbeddingView, "embeddingView")
    maps = []
    getattr(embedding, "points_drawn", embedding.mapped).connect(lambda: maps.append(time.perf_counter()))

    def move(target: int) -> float:
        """Seconds from the slider's move to ``target`` until the visible view has drawn it."""
        mapped = len(maps)
        start = time.perf_counter()
        bar.choose(target)
        bar.flush()  # the coalescing wait is the drag's, not the views'
        wait(lambda: not refresher.pending)
        if window.views.currentWidget() is embedding:
            wait(lambda: len(maps) > mapped)
        QApplication.processEvents()
        return time.perf_counter() - start
    results = {}
    for index in range(1, window.views.count()):  # every view but the curves
        if only.lower() not in window.views.tabText(index).lower():
            continue
        window.views.setCurrentIndex(index)
        wait(lambda: not refresher.pending)
        # cold: first visits, to checkpoints nobody prepared yet (the worker computes them then),
        # each while the idle preparing of the neighbours of the last one is under way
        cold = []
        for _ in range(cold_moves):
            forget_prepared(window)
            cold.append(move((bar.index + count // 2 + int(rng.integers(-2, 3))) % count))
            for _ in range(3):  # let the preparing of its neighbours start
                QApplication.processEvents(QEventLoop.AllEvents, 5)
        started = time.perf_counter()
        forget_prepared(window)  # then idle, the refresher prepares every checkpoint again, nearest first
        bar.choose((bar.index + 1) % count)
        bar.flush()
        wait(lambda: not refresher.busy)
        prepared = time.perf_counter() - started
        times = []
        for _ in range(moves):
            target = int(rng.integers(0, count))
            if target == bar.index:
                target = (target + 1) % count
            times.append(move(target))
        results[window.views.tabText(index)] = (np.array(times) * 1000, np.array(cold) * 1000, prepared)
    window.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=15)
    parser.add_argument("--cold", type=int, default=7, help="first visits per view (median and maximum)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--view", default="", help="only the views whose tab name contains this")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    results = measure(args.moves, args.seed, args.cold, args.view)
    print(f"{sys.path[0]}: 784-256-128-10, {args.moves} slider moves per view (after the drag's "
          f"{SCRUB_COALESCE_MS} ms pause); load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"  view                  prepared: median      max  | first visit ({args.cold}): median      max"
          " | all prepared after")
    for name, (ms, cold, prepared) in results.items():
        print(f"  {name:<20} {np.median(ms):8.1f} ms {ms.max():8.1f} ms  | {np.median(cold):8.1f} ms "
              f"{cold.max():8.1f} ms      | {prepared:6.1f} s")


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    main()
