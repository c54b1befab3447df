"""Shared fixtures. GUI tests load MNIST once per session and inject it into each window."""

from __future__ import annotations

import pytest

from scratchnet.data import load_dataset
from scratchnet.errors import DatasetError


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path_factory, monkeypatch):
    """Every test's QSettings (the window's remembered state) live in a fresh temporary folder,
    never in the user's ~/.config."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("qsettings")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    for fmt in (QSettings.NativeFormat, QSettings.IniFormat):
        QSettings.setPath(fmt, QSettings.UserScope, str(folder))
    return folder


@pytest.fixture(autouse=True)
def isolated_data_home(tmp_path_factory, monkeypatch):
    """Every test's user data (My digits, the import cache, the run library) lives in a fresh
    temporary folder, never in the user's ~/.local/share (a test that sets XDG_DATA_HOME itself
    keeps its own)."""
    folder = tmp_path_factory.mktemp("data-home")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


@pytest.fixture
def isolated_run_library(isolated_data_home):
    """The run library of this test (``scratchnet.run_store.runs_root``)."""
    return isolated_data_home / "scratchnet" / "runs"


@pytest.fixture(scope="session")
def mnist():
    """The bundled MNIST, loaded once for the whole session."""
    return load_dataset("mnist")


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """No test writes to the real user cache, in-process or in a subprocess (the command-line
    tests use it for every test: ``pytestmark = pytest.mark.usefixtures("private_cache")``)."""
    monkeypatch.setenv("SCRATCHNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def saved_digit_model(mnist, tmp_path_factory):
    """(model, path): 784-64-10 ReLU trained for one epoch on 20,000 digits (about 94%), saved with
    MNIST's class names (no data set name)."""
    import numpy as np

    from scratchnet.network import mlp
    from scratchnet.optimizers import make_optimizer
    from scratchnet.serialization import save_model
    from scratchnet.training import TrainConfig, train

    data = mnist.subset(20_000)
    model = mlp(784, [64], 10, rng=np.random.default_rng(0))
    for _ in train(model, make_optimizer("momentum", 0.05), data.x_train, data.y_train, TrainConfig(epochs=1)):
        pass
    path = tmp_path_factory.mktemp("model") / "small.npz"
    save_model(model, path, metadata={"class_names": list(data.class_names)})
    return model, path


@pytest.fixture
def mnist_loader(mnist):
    """A window's data set loader: MNIST from the session fixture; other names fail like a
    missing download would."""

    def loader(name: str):
        if name == "mnist":
            return mnist
        raise DatasetError(f"{name}: not available in tests")

    return loader


@pytest.fixture
def window(qtbot, mnist_loader):
    """A MainWindow that gets MNIST from the session fixture, shown, and closed cleanly after
    the test."""
    from gui.main_window import MainWindow

    win = MainWindow(dataset_loader=mnist_loader)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.dataset is not None, timeout=10_000)
    yield win
    win.close()


@pytest.fixture
def store(tmp_path):
    """A settings file of the test's own, for ``open_window``."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "scratchnet.ini"), QSettings.IniFormat)


@pytest.fixture
def open_window(qtbot, mnist_loader):
    """open_window(store): a shown MainWindow remembering into ``store``, closed after the test."""
    from gui.main_window import MainWindow

    windows = []

    def make(store):
        win = MainWindow(dataset_loader=mnist_loader, settings=store)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.dataset is not None, timeout=10_000)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()


@pytest.fixture
def click(qtbot, window):
    """click(name): a real mouse click on the window's button of that objectName, after
    bringing its settings tab to the front."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QAbstractButton, QRadioButton

    def click_button(name: str) -> None:
        button = window.findChild(QAbstractButton, name)
        assert button is not None, name
        tabs = window.settings_tabs
        for index in range(tabs.count()):
            if tabs.widget(index).isAncestorOf(button):
                tabs.setCurrentIndex(index)
        qtbot.waitExposed(button)
        # a radio button reacts on its indicator and label, not on the blank space beyond
        pos = QPoint(8, button.height() // 2) if isinstance(button, QRadioButton) else button.rect().center()
        qtbot.mouseClick(button, Qt.LeftButton, pos=pos)

    return click_button
