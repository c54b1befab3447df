"""Is the window responsive while it trains, with each tab in front, and does it slow training down?

Trains the Quick start settings (784-128-10 unless ``--hidden`` says otherwise, mini-batch 64,
Momentum 0.9) on MNIST, alternately headless (``scratchnet.training.train`` called directly) and
from the window (worker thread, live plots, the views refreshed about once a second), in one
process, with each tab of the window in front in turn. While the window trains, a 10 ms timer on
the GUI thread records how late each tick is. Prints, per tab, the p99 lateness (target <= 30 ms),
the worst single stall (target <= 150 ms) and the throughput ratio window / headless (target >=
95 %). This machine's speed drifts by 10-30 % from one run to the next, so the runs go H W H W
... W H: each window run is compared with the mean of the headless runs on either side, and the
figure is the median of those ratios. The same statistic for headless against headless
(identical code) is printed as the noise floor.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_responsiveness.py [--epochs 2] [--rounds 3]
        [--hidden 800,800] [--train-size 10000] [--tabs "Misclassified,Confusion matrix"]
        [--backprop-page "Gradient noise"]

The Backprop tab shows its "Step through" page unless ``--backprop-page`` names another (its
"Gradient noise" page measures again after finished epochs, the heaviest of its pages).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QTabWidget

from gui.defaults import DEFAULT_CONFIG
from gui.main_window import MainWindow
from gui.worker import limit_blas_threads
from scratchnet.data import load_dataset
from scratchnet.run_config import RunConfig, hidden_layers
from scratchnet.training import train

TICK_MS = 10
P99_TARGET_MS = 30
STALL_TARGET_MS = 150
THROUGHPUT_TARGET = 0.95


def headless_rate(dataset, config: RunConfig) -> float:
    """Median samples per training second over the epochs of a direct ``train`` run."""
    data = dataset.subset(config.n_train(len(dataset.y_train)))
    model = config.build_model(784, 10)
    # the same BLAS thread count as the window's worker uses for this descent
    with limit_blas_threads(config.descent):
        logs = list(train(model, config.build_optimizer(), data.x_train, data.y_train, config.train_config(),
                          x_test=data.x_test, y_test=data.y_test))
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


def window_rate(window: MainWindow, probe: LatenessProbe) -> float:
    """Train from the window; median samples per training second over its epochs."""
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


@dataclass
class TabResult:
    """One tab's figures: the GUI timer's lateness (seconds) over all its window runs, and the
    throughput of each window run against the headless runs on either side of it."""

    tab: str
    lateness: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    @property
    def p99_ms(self) -> float:
        return 1000 * float(np.percentile(self.lateness, 99))

    @property
    def worst_ms(self) -> float:
        return 1000 * max(self.lateness)

    @property
    def throughput(self) -> float:
        return statistics.median(self.ratios)

    @property
    def passed(self) -> bool:
        return (self.p99_ms <= P99_TARGET_MS and self.worst_ms <= STALL_TARGET_MS
                and self.throughput >= THROUGHPUT_TARGET)


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="window runs per tab")
    parser.add_argument("--hidden", default=None, help="hidden layer widths, e.g. 800,800 (default: Quick start's)")
    parser.add_argument("--train-size", type=int, default=None, help="training images (default: all 60,000)")
    parser.add_argument("--tabs", default=None, help="comma-separated tab titles (default: every tab)")
    parser.add_argument("--backprop-page", default="Step through", help="the Backprop tab's page in front")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.rounds < 1 or (args.train_size is not None and args.train_size < 1):
        parser.error("--epochs, --rounds and --train-size must be at least 1")
    try:
        args.hidden = None if args.hidden is None else [int(w) for w in args.hidden.split(",")]
    except ValueError:
        parser.error(f"--hidden takes widths separated by commas, like 800,800; got {args.hidden!r}")
    if args.hidden is not None and min(args.hidden) < 1:
        parser.error("--hidden widths must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = DEFAULT_CONFIG.replace(epochs=args.epochs, train_size=args.train_size)
    if args.hidden is not None:
        config = config.replace(hidden=hidden_layers(*args.hidden))

    app = QApplication.instance() or QApplication([])  # noqa: F841 - must outlive the window
    dataset = load_dataset("mnist")
    # a fresh settings file: the window must train with the defaults, as the headless run does,
    # not with whatever a previous session of the app remembered
    settings_dir = tempfile.TemporaryDirectory()
    settings = QSettings(str(Path(settings_dir.name) / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(dataset_loader=lambda name: dataset, settings=settings)
    window.resize(1280, 800)
    window.show()
    window.tour.skip()
    window.show_config(config)
    titles = [window.views.tabText(i) for i in range(window.views.count())]
    tabs = titles if args.tabs is None else [t.strip() for t in args.tabs.split(",")]
    unknown = [t for t in tabs if t not in titles]
    if unknown:
        print(f"unknown tab {unknown[0]!r}; the tabs are: {', '.join(titles)}", file=sys.stderr)
        return 2
    pages = window.findChild(QTabWidget, "backpropPages")
    page_titles = [pages.tabText(i) for i in range(pages.count())]
    if args.backprop_page not in page_titles:
        print(f"unknown Backprop page {args.backprop_page!r}; the pages are: {', '.join(page_titles)}",
              file=sys.stderr)
        return 2
    pages.setCurrentIndex(page_titles.index(args.backprop_page))
    probe = LatenessProbe()
    n_train = config.n_train(len(dataset.y_train))
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f}  "
          f"784-{'-'.join(str(h.width) for h in config.hidden)}-10, {n_train:,} images, "
          f"{args.epochs} epochs x {args.rounds} rounds per tab, mini-batch {config.batch_size}")

    # H W H W ... W H: each window run is bracketed by two headless runs, which cancels a steady
    # drift of the machine's speed; the headless-to-headless ratios show the noise floor
    headless, results = [headless_rate(dataset, config)], []
    for tab in tabs:
        window.views.setCurrentIndex(titles.index(tab))
        result = TabResult(tab)
        for round_ in range(1, args.rounds + 1):
            rate = window_rate(window, probe)
            result.lateness.extend(probe.lateness)
            headless.append(headless_rate(dataset, config))
            result.ratios.append(rate / ((headless[-2] + headless[-1]) / 2))
            print(f"{tab}, round {round_}: window {rate:,.0f} samples/s ({result.ratios[-1]:.1%} of headless), "
                  f"ticks {len(probe.lateness)}, p99 late {1000 * np.percentile(probe.lateness, 99):.1f} ms, "
                  f"worst {1000 * max(probe.lateness):.1f} ms", flush=True)
        results.append(result)
        if tab == "Backprop":
            result.tab = f"Backprop ({args.backprop_page})"

    print(f"\n| tab in front | p99 late (<= {P99_TARGET_MS} ms) | worst stall (<= {STALL_TARGET_MS} ms) "
          f"| throughput vs headless (>= {THROUGHPUT_TARGET:.0%}) | |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r.tab} | {r.p99_ms:.1f} ms | {r.worst_ms:.1f} ms | {r.throughput:.1%} | "
              f"{'pass' if r.passed else 'FAIL'} |")
    control = [headless[i + 1] / headless[i] for i in range(len(headless) - 1)]
    spread = np.percentile(control, [10, 90])
    print(f"noise floor, headless / the headless run before it: median {statistics.median(control):.1%}, "
          f"10-90% range {spread[0]:.0%}-{spread[1]:.0%}")
    print(f"peak RSS {rss_mb():.0f} MB")
    window.close()
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main())
