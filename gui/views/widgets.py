"""Small widget factories shared by the views."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QPushButton


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
