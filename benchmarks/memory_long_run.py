"""Does a long run keep the window's memory flat?

Opens the real window offscreen and trains its default network (784-128-10, Momentum) with
mini-batch 32 for 30 epochs on the full 60,000 MNIST images, live plots drawing and the
inspection views attached: every few seconds another view tab is brought to the front, so each
one redraws from fresh snapshots of the model. A timer on the GUI thread samples the process
RSS (VmRSS in /proc/self/status). Prints the RSS once epoch 1 has ended, at the end and at its
peak, and the growth after epoch 1 (target: < 50 MB).

Measured on 2 cores: 362.5 MB after epoch 1, 395.9 MB at the end (also the peak), so +33.4 MB
in 35 s; 60 epochs grew +38.5 MB, so the growth levels off rather than climbing.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/memory_long_run.py [--train-size 60000] [--epochs 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

SAMPLE_MS = 100
TAB_SWITCH_S = 3.0
MB = 1024 * 1024


def rss_bytes() -> int:
    """The resident set size of this process, from /proc/self/status (VmRSS, in kB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


@dataclass
class MemoryFigures:
    after_first_epoch: int
    end: int
    peak: int
    seconds: float
    epochs: int

    @property
    def growth(self) -> int:
        """Bytes the process grew between the end of epoch 1 and the end of the run."""
        return self.end - self.after_first_epoch

    def report(self) -> str:
        return (f"{self.epochs} epochs in {self.seconds:.0f} s: "
                f"RSS after epoch 1 {self.after_first_epoch / MB:.1f} MB, at the end {self.end / MB:.1f} MB, "
                f"peak {self.peak / MB:.1f} MB, "
                f"growth after epoch 1 {self.growth / MB:+.1f} MB")


def measure_long_run(window, *, train_size: int, epochs: int, batch_size: int = 32,
                     timeout_s: float = 3600.0) -> MemoryFigures:
    """Train from ``window`` (a shown MainWindow with its data set loaded) and sample its RSS.

    The tabs of the central area are rotated while it trains, so every view and the plots stay
    live. Raises TimeoutError when the run takes longer than ``timeout_s``.
    """
    panel = window.training_panel
    panel.descent_radios["mini"].setChecked(True)
    panel.train_size_spin.setValue(train_size)
    panel.batch_size_spin.setValue(batch_size)
    panel.epochs_spin.setValue(epochs)
    samples: dict[str, int] = {"peak": 0}
    last_switch = [time.perf_counter()]

    def sample() -> None:
        rss = rss_bytes()
        samples["peak"] = max(samples["peak"], rss)
        # "epoch" in the progress report is the epoch being trained: 2 means epoch 1 has ended
        if "first" not in samples and window.progress.get("epoch", 0) >= 2:
            samples["first"] = rss
        if time.perf_counter() - last_switch[0] >= TAB_SWITCH_S:
            window.views.setCurrentIndex((window.views.currentIndex() + 1) % window.views.count())
            last_switch[0] = time.perf_counter()

    timer = QTimer()
    timer.setInterval(SAMPLE_MS)
    timer.timeout.connect(sample)
    loop = QEventLoop()
    window.training_finished.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    started = time.perf_counter()
    timer.start()
    window.start_training()
    loop.exec()
    timer.stop()
    window.training_finished.disconnect(loop.quit)
    if window.is_running:
        window.stop_training()
        raise TimeoutError(f"the run did not finish within {timeout_s:.0f} s")
    QApplication.processEvents()
    end = rss_bytes()
    return MemoryFigures(samples.get("first", end), end, max(samples["peak"], end),
                         time.perf_counter() - started, epochs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(sys.argv)

    from gui.main_window import MainWindow

    # a fresh settings file: the window starts from the defaults (784-128-10, Momentum), not from
    # whatever the user's last session stored, and writes nothing there
    folder = tempfile.TemporaryDirectory()
    window = MainWindow(settings=QSettings(str(Path(folder.name) / "settings.ini"), QSettings.IniFormat))
    window.show()
    while window.dataset is None:
        app.processEvents()
        time.sleep(0.01)
    print(f"RSS before training {rss_bytes() / MB:.1f} MB", flush=True)
    figures = measure_long_run(window, train_size=args.train_size, epochs=args.epochs, batch_size=args.batch_size)
    print(f"mini-batch {args.batch_size}, {args.train_size:,} images, live plots and views: {figures.report()}")
    window.close()
    folder.cleanup()
    return 0 if figures.growth < 50 * MB else 1


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main())
