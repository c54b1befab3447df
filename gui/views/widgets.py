"""Small widget factories shared by the views."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton


def make_button(text: str, name: str, tip: str, slot) -> QPushButton:
    """A push button with an objectName (for tests) and a tooltip, clicked -> ``slot``."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    button.clicked.connect(slot)
    return button
