"""Small widget factories shared by the views."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton


def make_button(text: str, name: str, tip: str, slot) -> QPushButton:
    """A push button with an objectName (for tests) and a tooltip, clicked -> ``slot``."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    button.clicked.connect(slot)
    return button


def make_combo(name: str, tip: str, items: list[tuple[str, object]], slot) -> QComboBox:
    """A combo box of (text, data) items with an objectName and a tooltip; index changes -> ``slot``."""
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setToolTip(tip)
    for text, data in items:
        combo.addItem(text, data)
    combo.currentIndexChanged.connect(slot)
    return combo


class WrappingLabel(QLabel):
    """A word-wrapped label that asks for the height its text takes at its current width: a
    layout's minimum otherwise counts one line, and a squeezed panel drew its next row over it.
    It does not ask its layouts for height-for-width: in a scroll area that made the whole
    content as tall as all its parts' preferred heights (the plots 1,100 px tall under an error)."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def hasHeightForWidth(self) -> bool:
        return False

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()  # its height is for a guessed width: the text's at the real one instead
        return QSize(hint.width(), self.minimumHeight()) if self.minimumHeight() > 0 else hint

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit_height()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        needed = self.heightForWidth(self.width())
        if needed > 0 and needed != self.minimumHeight():
            self.setMinimumHeight(needed)
