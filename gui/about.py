"""The About dialog (version, licences, credits) and the app icon from ``resources/icons``."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

import scratchnet
from scratchnet.paths import resources_dir

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
LOGO_SIZE = 96

ABOUT_HTML = """
<h2 style="margin-bottom: 2px;">scratchnet {version}</h2>
<p>A desktop app that shows how a neural network learns. The network, its backpropagation and its
optimisers are written from scratch in NumPy; you choose the layers and the training settings,
watch the loss and accuracy as it trains, look inside at the weights and mistakes, and draw digits
for it to read.</p>
<h3>Licences</h3>
<ul>
<li><b>scratchnet</b>: MIT licence, © 2026 the scratchnet authors.</li>
<li><b>MNIST</b> (bundled) by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, under the
<a href="https://creativecommons.org/licenses/by-sa/3.0/">Creative Commons Attribution-Share Alike
3.0</a> licence (CC BY-SA 3.0); redistributed unmodified from
<a href="http://yann.lecun.com/exdb/mnist/">yann.lecun.com/exdb/mnist</a>.</li>
<li><b>Fashion-MNIST</b> (optional download): MIT licence, © 2017 Zalando SE.</li>
</ul>
<h3>Credits</h3>
<p>Built with <a href="https://numpy.org">NumPy</a>, <a href="https://www.qt.io">Qt</a> through
<a href="https://doc.qt.io/qtforpython/">PySide6</a> (LGPLv3) and
<a href="https://www.pyqtgraph.org">pyqtgraph</a> (MIT). The teaching follows Michael Nielsen's
<i>Neural Networks and Deep Learning</i> and Andrej Karpathy's micrograd.</p>
"""


def app_icon() -> QIcon:
    """The scratchnet icon at every rendered size (an empty icon if the files are missing)."""
    icon = QIcon()
    folder = resources_dir() / "icons"
    for size in ICON_SIZES:
        path = folder / f"scratchnet-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon


class AboutDialog(QDialog):
    """Modeless by default: ``open()`` shows it window-modal without blocking the caller."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About scratchnet")
        logo = QLabel()
        logo.setPixmap(QPixmap(str(resources_dir() / "icons" / "scratchnet-128.png")).scaled(
            LOGO_SIZE, LOGO_SIZE, Qt.KeepAspectRatio, Qt.SmoothTransformation))
        logo.setAlignment(Qt.AlignTop)
        self.text = QLabel(ABOUT_HTML.format(version=scratchnet.__version__))
        self.text.setObjectName("aboutText")
        self.text.setWordWrap(True)
        self.text.setOpenExternalLinks(True)
        self.text.setTextInteractionFlags(Qt.TextBrowserInteraction)
        self.text.setMinimumWidth(460)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(logo)
        row.addWidget(self.text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(buttons)
