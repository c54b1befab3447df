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
    A relative path in either variable is ignored, as the XDG spec says (it would depend on the
    working folder); `ignored_cache_settings` says so. The folder is not created here.
    """
    override = os.environ.get("SCRATCHNET_CACHE_DIR")
    if override and os.path.isabs(override):
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "scratchnet"


def user_data_dir() -> Path:
    """Per-user data: imported data sets' cache, "My digits".

    `$XDG_DATA_HOME/scratchnet` if that is an absolute path, else `~/.local/share/scratchnet`.
    The folder is not created here.
    """
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "scratchnet"


def ignored_cache_settings() -> list[str]:
    """One sentence per cache variable that `user_cache_dir` ignored because it is relative."""
    return [
        f"${name}={value!r} is a relative path and is ignored; the cache is {user_cache_dir()}"
        for name in ("SCRATCHNET_CACHE_DIR", "XDG_CACHE_HOME")
        if (value := os.environ.get(name)) and not os.path.isabs(value)
    ]
