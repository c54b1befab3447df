"""The status presenter: what the window says about data sets, runs and errors.

``StatusPresenter`` owns the status line (``statusLabel``), the epoch and run progress bars and
the error banner (``errorBanner``: the message in ``errorLabel`` and a close button,
``errorCloseButton``); the window only places them. It turns reports into text and bar
positions, and decides nothing. A success (``success``) clears the banner: it is about what went
wrong last, not what went wrong once.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QToolButton

from scratchnet.data import Dataset

from .run_record import RunRecord
from .views.widgets import WrappingLabel

PAUSED = " · paused"
ERROR_STATUS = "Error: see the message above the plots."
ERROR_STYLE = "#errorBanner { background: #fde8e8; border: 1px solid #e0a0a0; }"
ERROR_TEXT_STYLE = "color: #8a1010; padding: 6px;"


class StatusPresenter:
    def __init__(self) -> None:
        self.label = QLabel("Ready.")
        self.label.setObjectName("statusLabel")
        self.epoch_bar = _progress_bar("epochProgress", "epoch %p%", "Progress through the current epoch.")
        self.run_bar = _progress_bar("runProgress", "run %p%", "Progress through the whole run.")
        self.error_label = WrappingLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setStyleSheet(ERROR_TEXT_STYLE)
        self.error_label.setTextInteractionFlags(self.error_label.textInteractionFlags() | Qt.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setObjectName("errorCloseButton")
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Close this message.")
        self.close_button.clicked.connect(self.clear_error)
        self.error_banner = QFrame()
        self.error_banner.setObjectName("errorBanner")
        self.error_banner.setStyleSheet(ERROR_STYLE)
        row = QHBoxLayout(self.error_banner)
        row.setContentsMargins(0, 0, 2, 0)
        row.addWidget(self.error_label, 1)
        row.addWidget(self.close_button, 0, Qt.AlignTop)
        self.error_banner.hide()
        self.error_label.hide()

    def say(self, text: str) -> None:
        self.label.setText(text)

    def success(self, text: str) -> None:
        """Something the user asked for worked: say so, and close the banner of an earlier error."""
        self.clear_error()
        self.say(text)

    def loading(self, name: str) -> None:
        self.say(f"Loading {name}…")

    def dataset_ready(self, dataset: Dataset) -> None:
        self.success(f"{dataset.name}: {len(dataset.y_train):,} training and {len(dataset.y_test):,} test images.")

    def dataset_failed(self, name: str) -> None:
        self.say(f"Cannot load {name}.")

    def preparing(self, run: RunRecord) -> None:
        self.clear_error()
        self.reset_progress()
        self.say(f"Run #{run.run_id}: preparing {run.spec.config.dataset}…")

    def reset_progress(self) -> None:
        """Both bars back to 0 (a new run, or one that failed)."""
        self.epoch_bar.setValue(0)
        self.run_bar.setValue(0)

    def progress(self, run: RunRecord, progress: dict, paused: bool) -> None:
        """Both bars, and the epoch, update, speed and time left of ``run``."""
        epochs = run.spec.config.epochs
        per_epoch = max(run.updates_per_epoch, 1)
        within = progress["update"] - (progress["epoch"] - 1) * per_epoch
        self.epoch_bar.setValue(int(1000 * min(within / per_epoch, 1.0)))
        total = max(epochs * run.n_train, 1)
        seen = progress["samples_seen"]
        self.run_bar.setValue(int(1000 * min(seen / total, 1.0)))
        seconds = run.training_seconds
        rate = seen / seconds if seconds > 0 else math.nan
        parts = [f"Run #{run.run_id}", f"epoch {progress['epoch']}/{epochs}", f"update {progress['update']:,}"]
        if math.isfinite(rate):
            parts += [f"{rate:,.0f} samples/s", f"{_clock(max(total - seen, 0) / rate)} left"]
        if paused:
            parts.append("paused")
        self.say(" · ".join(parts))

    def paused(self) -> None:
        self.say(self.label.text().split(PAUSED)[0] + PAUSED)

    def finished(self, run: RunRecord) -> None:
        r = run.result
        if not r["stopped"]:
            self.epoch_bar.setValue(1000)
            self.run_bar.setValue(1000)
        self.success(
            f"Run #{run.run_id} {run.status}: test accuracy {100 * r['test_accuracy']:.2f}%, "
            f"test loss {r['test_loss']:.4f}, {r['update']:,} updates in {r['seconds']:.1f} s."
        )
        if not math.isfinite(r["test_loss"]):
            self.error(
                f"Run #{run.run_id}: the network's outputs on the test images are no longer finite "
                f"(test loss {r['test_loss']}). Lower the learning rate."
            )

    def error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.error_banner.show()
        self.say(ERROR_STATUS)

    def ended_with_error(self) -> None:
        """A run failed or diverged: no progress to show, the banner says why."""
        self.reset_progress()
        self.say(ERROR_STATUS)

    def clear_error(self) -> None:
        self.error_banner.hide()
        self.error_label.hide()
        if self.label.text() == ERROR_STATUS:
            self.say("Ready.")


def _progress_bar(name: str, text: str, tip: str) -> QProgressBar:
    bar = QProgressBar()
    bar.setObjectName(name)
    bar.setFormat(text)
    bar.setFixedWidth(150)
    bar.setToolTip(tip)
    bar.setRange(0, 1000)
    bar.setValue(0)
    return bar


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"
