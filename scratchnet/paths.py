"""Where scratchnet finds its bundled resources and keeps its downloads."""

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The `resources/` folder (bundled MNIST, icons).

    Inside the PyInstaller bundle when frozen; `scratchnet/resources` in an installed wheel, where
    pyproject.toml maps it; else the checkout's top-level `resources/` (`make run`, editable installs).
    """
    if getattr(sys, "frozen", False):
        return Path(sys._MEIPASS) / "resources"
    package = Path(__file__).resolve().parent
    installed = package / "resources"
    return installed if installed.is_dir() else package.parent / "resources"


def user_cache_dir() -> Path:
    """Per-user cache for downloaded data sets.

    `$SCRATCHNET_CACHE_DIR` if set, else `$XDG_CACHE_HOME/scratchnet`, else `~/.cache/scratchnet`.
    The folder is not created here.
    """
    override = os.environ.get("SCRATCHNET_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says a relative path is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "scratchnet"
