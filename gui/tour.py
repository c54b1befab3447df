"""Help -> Getting started: a short guided tour that points at the real controls.

``GuidedTour`` is a card inside the main window (``tourCard``), never a modal dialog, so it blocks
nothing: each step brings its control into view (the right settings or view tab), outlines it
(``tourHighlight``) and places the card beside it. The window offers the tour on the first launch;
skipping or finishing it is remembered in the window's QSettings (``TOUR_DONE_KEY``), and the
Help menu reopens it at any time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from .views.widgets import make_button

TOUR_DONE_KEY = "tour/done"
CARD_WIDTH = 330
MARGIN = 8


@dataclass(frozen=True)
class TourStep:
    title: str
    text: str
    target: Callable[[QWidget], QWidget]  # window -> the control this step points at
    prepare: Callable[[QWidget], None] = lambda window: None  # bring the control into view


def _show_settings_tab(index: int) -> Callable[[QWidget], None]:
    return lambda window: window.settings_tabs.setCurrentIndex(index)


def _show_view(title: str) -> Callable[[QWidget], None]:
    def prepare(window) -> None:
        views = window.views
        for index in range(views.count()):
            if views.tabText(index) == title:
                views.setCurrentIndex(index)

    return prepare


def _view_tab(title: str) -> Callable[[QWidget], QWidget]:
    """The tab bar of the view tabs; ``GuidedTour.target_rect`` narrows it to the current tab
    (``_show_view(title)`` makes the tab called ``title`` current)."""
    return lambda window: window.views.tabBar()


STEPS: tuple[TourStep, ...] = (
    TourStep("1. Pick a recipe",
             "Each preset sets up a network and a way to train it that shows one idea. Choosing “Quick start” "
             "sets a small network for handwritten digits, and a speed at which you can watch it learn.",
             lambda w: w.preset_bar.combo),
    TourStep("2. Press Start",
             "The network starts with random weights and guesses. Each update shows it a few images, "
             "measures how wrong it is (the loss) and nudges every weight to be a little less wrong.",
             lambda w: w.start_button),
    TourStep("3. Watch it learn",
             "Drag the speed down to 1–5 updates a second to see every update: its loss, its images with "
             "the network's guesses, and the weights changing.",
             lambda w: w.speed_slider),
    TourStep("4. Read the curves",
             "The loss should fall and the accuracy rise. Test curves use images the network never trains "
             "on: if they stop improving while training curves still do, it is memorising.",
             lambda w: w.plots, _show_view("Training curves")),
    TourStep("5. Three ways down the slope",
             "Full batch, mini-batch and stochastic descent differ in how many images make one update. "
             "“Compare descents” trains all three so you can overlay them.",
             lambda w: w.training_panel.descent_radios["mini"].parentWidget(), _show_settings_tab(1)),
    TourStep("6. See its mistakes",
             "The Misclassified tab shows the test digits the network gets wrong, with what it guessed. "
             "Many are hard for people too.",
             _view_tab("Misclassified"), _show_view("Misclassified")),
    TourStep("7. Draw your own digit",
             "On the Drawing pad, draw a digit with the mouse: the trained network reads it as you draw. "
             "Reopen this tour from Help → Getting started.",
             _view_tab("Drawing pad"), _show_view("Drawing pad")),
)


class GuidedTour(QObject):
    """The tour over ``window``: ``start()``, ``next()``, ``back()``, ``skip()``. ``finished(bool)``:
    the tour closed (True when it reached its end, False when skipped)."""

    finished = Signal(bool)

    def __init__(self, window, steps: tuple[TourStep, ...] = STEPS) -> None:
        super().__init__(window)
        self.setObjectName("guidedTour")
        self._window = window
        self.steps = steps
        self.index = -1
        self.highlight = QFrame(window)
        self.highlight.setObjectName("tourHighlight")
        self.highlight.setStyleSheet("#tourHighlight { border: 3px solid #e07b00; border-radius: 4px; }")
        self.highlight.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.highlight.hide()
        self.card = QFrame(window)
        self.card.setObjectName("tourCard")
        self.card.setStyleSheet(
            "#tourCard { background: #fff8e6; border: 2px solid #e07b00; border-radius: 6px; }")
        self.card.setFixedWidth(CARD_WIDTH)
        self.title = QLabel()
        self.title.setObjectName("tourTitle")
        self.title.setStyleSheet("font-weight: bold;")
        self.text = QLabel()
        self.text.setObjectName("tourText")
        self.text.setWordWrap(True)
        self.back_button = make_button("Back", "tourBackButton", "The previous step.", self.back)
        self.next_button = make_button("Next", "tourNextButton", "The next step.", self.next)
        self.skip_button = make_button("Skip tour", "tourSkipButton",
                                        "Close the tour; Help → Getting started reopens it.", self.skip)
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self.card)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self.card.hide()
        window.installEventFilter(self)  # follow the window's size

    @property
    def active(self) -> bool:
        return self.card.isVisible()

    def start(self) -> None:
        self.show_step(0)

    @Slot()
    def next(self) -> None:
        if self.index + 1 >= len(self.steps):
            self._close(True)
        else:
            self.show_step(self.index + 1)

    @Slot()
    def back(self) -> None:
        self.show_step(max(self.index - 1, 0))

    @Slot()
    def skip(self) -> None:
        self._close(False)

    def show_step(self, index: int) -> None:
        self.index = index
        step = self.steps[index]
        step.prepare(self._window)
        self._scroll_into_view()
        self.title.setText(step.title)
        self.text.setText(step.text)
        self.back_button.setEnabled(index > 0)
        self.next_button.setText("Done" if index == len(self.steps) - 1 else "Next")
        self.card.show()
        self.highlight.show()
        self._place()

    def target(self) -> QWidget:
        return self.steps[self.index].target(self._window)

    def _scroll_into_view(self) -> None:
        """Scroll every scroll area that holds the target so that the target shows (a narrow
        window scrolls its views sideways)."""
        widget = self.target()
        rect = self.target_rect()
        parent = widget.parentWidget()
        while parent is not None and parent is not self._window:
            if isinstance(parent, QScrollArea) and parent.widget() is not None:
                content = parent.widget()
                centre = content.mapFrom(self._window, rect.center())
                parent.ensureVisible(centre.x(), centre.y(), rect.width() // 2 + 8, rect.height() // 2 + 8)
                rect = self.target_rect()
            parent = parent.parentWidget()

    def target_rect(self) -> QRect:
        """Where the current step's control is, in window coordinates (a view tab: that tab)."""
        widget = self.target()
        rect = QRect(widget.mapTo(self._window, QPoint(0, 0)), widget.size())
        if widget is self._window.views.tabBar():
            tab = self._window.views.currentIndex()
            local = widget.tabRect(tab)
            rect = QRect(widget.mapTo(self._window, local.topLeft()), local.size())
        return rect

    def _place(self) -> None:
        """Outline the target and put the card beside it (right, else left, else below), inside the window."""
        window = self._window
        target = self.target_rect()
        self.highlight.setGeometry(target.adjusted(-4, -4, 4, 4))
        self.card.adjustSize()
        size = self.card.sizeHint().expandedTo(self.card.minimumSizeHint())
        width, height = CARD_WIDTH, size.height()
        if target.right() + MARGIN + width <= window.width():
            x = target.right() + MARGIN
        elif target.left() - MARGIN - width >= 0:
            x = target.left() - MARGIN - width
        else:
            x = target.left()
        y = target.top() if x != target.left() else target.bottom() + MARGIN
        x = min(max(x, 0), max(window.width() - width, 0))
        y = min(max(y, 0), max(window.height() - height, 0))
        self.card.setGeometry(x, y, width, height)
        self.highlight.raise_()
        self.card.raise_()

    def _close(self, completed: bool) -> None:
        self.card.hide()
        self.highlight.hide()
        self.finished.emit(completed)

    def eventFilter(self, watched, event) -> bool:
        if watched is self._window and event.type() == QEvent.Resize and self.active:
            self._place()
        return False
