"""Is the window responsive while it trains, and does it slow training down?

Trains 784-128-10 (mini-batch 64, Momentum 0.9, lr 0.05) on all 60,000 MNIST images, alternately
headless (``scratchnet.training.train`` called directly) and from the window (worker thread,
live plots), in one process. While the window trains, a 10 ms timer on the GUI thread records how
late each tick is. Prints the p99 lateness (target <= 30 ms) and the throughput ratio window /
headless (target >= 95 %). This machine's speed drifts by 10-30 % from one run to the next, so the
runs go H W H W ... W H: each window run is compared with the mean of the headless runs on either
side, and the figure is the median of those ratios. The same statistic for headless against
headless (identical code) is printed as the noise floor.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_responsiveness.py [--epochs 2] [--rounds 9]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from gui.defaults import DEFAULT_CONFIG
from gui.main_window import MainWindow
from gui.worker import limit_blas_threads
from scratchnet.data import load_dataset
from scratchnet.training import train

TICK_MS = 10


def headless_rate(dataset, epochs: int) -> float:
    """Median samples per training second over the epochs of a direct ``train`` run."""
    config = DEFAULT_CONFIG.replace(epochs=epochs)
    model = config.build_model(784, 10)
    # the same BLAS thread count as the window's worker uses for this descent
    with limit_blas_threads(config.descent):
        logs = list(train(model, config.build_optimizer(), dataset.x_train, dataset.y_train, config.train_config(),
                          x_test=dataset.x_test, y_test=dataset.y_test))
    return statistics.median(log["samples_per_second"] for log in logs if log["event"] == "epoch")


class LatenessProbe:
    """A precise 10 ms timer on the GUI thread; ``lateness`` lists each tick's delay in seconds."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.lateness.clear()
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        elapsed_ns = self._clock.nsecsElapsed()
        self._clock.restart()
        self.lateness.append(max(elapsed_ns / 1e9 - TICK_MS / 1000, 0.0))


def window_rate(window: MainWindow, probe: LatenessProbe, epochs: int) -> float:
    """Train from the window; median samples per training second over its epochs."""
    window.training_panel.epochs_spin.setValue(epochs)
    loop = QEventLoop()
    done: list = []

    def finish(run) -> None:
        done.append(run)
        loop.quit()

    window.training_finished.connect(finish)
    probe.start()
    window.start_button.click()
    loop.exec()
    probe.stop()
    window.training_finished.disconnect(finish)
    run = done[0]
    if run.status != "finished":
        raise RuntimeError(f"the window's run ended as {run.status}: {run.error}")
    return statistics.median(e["samples_per_second"] for e in run.epochs)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication([])  # noqa: F841 - must outlive the window
    dataset = load_dataset("mnist")
    # a fresh settings file: the window must train with the defaults, as the headless run does,
    # not with whatever a previous session of the app remembered
    settings_dir = tempfile.TemporaryDirectory()
    settings = QSettings(str(Path(settings_dir.name) / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(dataset_loader=lambda name: dataset, settings=settings)
    window.resize(1280, 800)
    window.show()
    probe = LatenessProbe()
    window.training_panel.train_size_spin.setValue(len(dataset.y_train))
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f}  {len(dataset.y_train):,} images, "
          f"{args.epochs} epochs x {args.rounds} rounds, mini-batch 64")

    # H W H W ... W H: each window run is bracketed by two headless runs, which cancels a steady
    # drift of the machine's speed; the headless-to-headless ratios show the noise floor
    headless, windowed, lateness = [headless_rate(dataset, args.epochs)], [], []
    for round_ in range(1, args.rounds + 1):
        windowed.append(window_rate(window, probe, args.epochs))
        lateness.extend(probe.lateness)
        headless.append(headless_rate(dataset, args.epochs))
        around = (headless[-2] + headless[-1]) / 2
        print(f"round {round_}: window {windowed[-1]:,.0f} samples/s, headless around it {around:,.0f} "
              f"({windowed[-1] / around:.1%}), ticks {len(probe.lateness)}, "
              f"p99 late {1000 * np.percentile(probe.lateness, 99):.1f} ms")

    p99 = 1000 * float(np.percentile(lateness, 99))
    ratios = [w / ((headless[i] + headless[i + 1]) / 2) for i, w in enumerate(windowed)]
    ratio = statistics.median(ratios)
    control = [headless[i + 1] / headless[i] for i in range(len(windowed))]
    spread = np.percentile(control, [10, 90])
    ratio_of_medians = statistics.median(windowed) / statistics.median(headless)
    print(f"GUI timer p99 lateness: {p99:.1f} ms (target <= 30 ms; max {1000 * max(lateness):.1f} ms)")
    print(f"throughput window / headless, median over the rounds: {ratio:.1%} (target >= 95%); "
          f"ratio of the medians {ratio_of_medians:.1%} "
          f"({statistics.median(windowed):,.0f} vs {statistics.median(headless):,.0f} samples/s)")
    print(f"noise floor, headless / the headless run before it: median {statistics.median(control):.1%}, "
          f"10-90% range {spread[0]:.0%}-{spread[1]:.0%}")
    print(f"peak RSS {rss_mb():.0f} MB")
    window.close()
    return 0 if p99 <= 30 and ratio >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
