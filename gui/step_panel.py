"""What the last Step did (``stepReportPanel``): the mini-batch it used, with each image's label and
prediction before → after, the loss on that batch before and after, and how far each layer's
weights moved. It draws a ``scratchnet.step_report.StepReport``; the numbers come from there."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from scratchnet.step_report import StepReport

from .views.images import DIGIT_SIDE, digit_pixmap
from .views.widgets import WrappingLabel

MAX_IMAGES = 16  # thumbnails shown; the rest of the batch is counted
THUMB_SIDE = DIGIT_SIDE


def step_summary(report: StepReport) -> str:
    """The loss line: which update, how many images, the loss before and after."""
    n = report.batch_size
    images = "1 training image" if n == 1 else f"{n:,} training images"
    change = report.loss_after - report.loss_before
    direction = "fell" if change < 0 else "rose"
    return (f"Update {report.update:,} used {images}: their loss {direction} from {report.loss_before:.4f} "
            f"to {report.loss_after:.4f} ({change:+.4f}, without dropout). Under each: its label, then the "
            "network's answer before → after.")


def moves_text(report: StepReport) -> str:
    """One line per Dense layer: how far its weights and biases moved."""
    return "\n".join(
        f"{move.name}: ‖ΔW‖ = {move.weight_change:.3g} ({100 * move.relative_change:.3g}% of ‖W‖), "
        f"‖Δb‖ = {move.bias_change:.3g}"
        for move in report.moves
    )


def image_caption(report: StepReport, row: int, class_names: list[str]) -> str:
    """One image of the batch: its label, then the network's answer before → after the update."""
    def name(k) -> str:
        return _short(class_names[k]) if k < len(class_names) else str(k)
    before, after = report.predicted_before[row], report.predicted_after[row]
    return f"{name(report.labels[row])}\n{name(before)}→{name(after)}"


def _short(name: str) -> str:
    return name if len(name) <= 6 else name[:5] + "…"


class StepPanel(QGroupBox):
    """Hidden until the first step of a run; ``show_report`` fills it, ``clear`` hides it."""

    def __init__(self, parent=None) -> None:
        super().__init__("What the last step did", parent)
        self.setObjectName("stepReportPanel")
        self.setToolTip("Step runs one update while training is paused. This panel shows the images that "
                        "update learned from (label, then the network's answer before → after it), the loss "
                        "on them before and after, and how far each layer's weights moved.")
        self.summary = WrappingLabel()
        self.summary.setObjectName("stepSummaryLabel")
        self.moves = QLabel()
        self.moves.setObjectName("stepMovesLabel")
        self.moves.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.images = QWidget()
        self.images_grid = QGridLayout(self.images)
        self.images_grid.setContentsMargins(0, 0, 0, 0)
        self.images_grid.setHorizontalSpacing(4)
        self.images_grid.setVerticalSpacing(0)
        scroll = QScrollArea()  # a batch wider than the window scrolls instead of widening it
        scroll.setWidget(self.images)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setFixedHeight(THUMB_SIDE + 40)  # the image, two caption lines, a scroll bar
        self.more = QLabel()
        close = QPushButton("Hide")
        close.setObjectName("hideStepReportButton")
        close.setToolTip("Hide this panel until the next step.")
        close.clicked.connect(self.clear)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(close, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        images_row = QHBoxLayout()
        images_row.addWidget(scroll, 1)
        images_row.addWidget(self.more)
        layout.addLayout(images_row)
        layout.addWidget(self.moves)
        self.report: StepReport | None = None
        self.hide()

    def show_report(self, report: StepReport, class_names: list[str]) -> None:
        self.report = report
        self.summary.setText(step_summary(report))
        self.moves.setText(moves_text(report))
        while self.images_grid.count():
            self.images_grid.takeAt(0).widget().deleteLater()
        drawable = report.inputs.shape[1] == DIGIT_SIDE * DIGIT_SIDE
        shown = min(report.batch_size, MAX_IMAGES) if drawable else 0
        for row in range(shown):
            picture = QLabel()
            picture.setPixmap(digit_pixmap(report.inputs[row], THUMB_SIDE))
            picture.setToolTip(f"Training image #{report.indices[row]:,}")
            caption = QLabel(image_caption(report, row, class_names))
            caption.setAlignment(Qt.AlignHCenter)
            caption.setStyleSheet("font-size: 8pt;")
            self.images_grid.addWidget(picture, 0, row, Qt.AlignHCenter)
            self.images_grid.addWidget(caption, 1, row)
        rest = report.batch_size - shown
        self.more.setText(f"and {rest:,} more" if rest else "")
        self.show()

    def clear(self) -> None:
        self.report = None
        self.hide()
