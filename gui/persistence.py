"""What the window remembers between launches, kept in ``QSettings``.

Stored: the window geometry, the run configuration (as JSON) and the folder of the last opened
or saved file. The preset is not stored: the window shows the one these settings match. Whatever
is read back is checked: a value of the wrong type or out of range (a hand-edited or corrupt file)
is ignored and the default takes its place, so a window never starts from half a setting. A
field that a file from an older version leaves out takes its default. Before there was one run
configuration, the window stored its two tabs as two groups (``network``, ``training``): those
are still read, each group whole or not at all.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from scratchnet.run_config import FIELDS, RunConfig

from .defaults import DEFAULT_CONFIG
from .settings import NETWORK_FIELDS, TRAINING_FIELDS, within_window_bounds
from .training_panel import DATASETS

ORGANIZATION = APPLICATION = "scratchnet"
KEYS = {"geometry": "window/geometry", "run": "settings/run", "folder": "files/lastFolder",
        "network": "settings/network", "training": "settings/training"}
LEGACY_GROUPS = {"network": NETWORK_FIELDS, "training": TRAINING_FIELDS}


@dataclass(frozen=True)
class StoredState:
    config: RunConfig = DEFAULT_CONFIG
    last_folder: str = ""
    geometry: QByteArray | None = None


def default_store() -> QSettings:
    """The user's settings file (``~/.config/scratchnet/scratchnet.conf`` on Linux)."""
    return QSettings(ORGANIZATION, APPLICATION)


def save_state(store: QSettings, state: StoredState) -> None:
    store.setValue(KEYS["run"], state.config.to_json())
    for group in LEGACY_GROUPS:
        store.remove(KEYS[group])
    store.setValue(KEYS["folder"], state.last_folder)
    if state.geometry is not None:
        store.setValue(KEYS["geometry"], state.geometry)
    store.sync()


def load_state(store: QSettings) -> StoredState:
    """The stored state; each part that is missing or invalid is the default."""
    folder = _read(store, "folder", _existing_folder, "")
    geometry = store.value(KEYS["geometry"])
    return StoredState(_read_config(store), folder, geometry if isinstance(geometry, QByteArray) else None)


def _read_config(store: QSettings) -> RunConfig:
    if store.value(KEYS["run"]) is not None:
        return _read(store, "run", config_from_json, DEFAULT_CONFIG)
    config = DEFAULT_CONFIG
    for group, names in LEGACY_GROUPS.items():
        text = store.value(KEYS[group])
        if text is not None:
            with contextlib.suppress(ValueError, TypeError):
                config = config_from_json(text, config, names)
    return config


def _read(store: QSettings, key: str, parse, default):
    value = store.value(KEYS[key])
    if value is None:
        return default
    try:
        return parse(value)
    except (ValueError, TypeError):
        return default


def config_from_json(text: str, base: RunConfig = DEFAULT_CONFIG, names: tuple[str, ...] = FIELDS) -> RunConfig:
    """The configuration stored as ``text``, checked against the window's ranges. With ``names``
    (a legacy group), the object must hold exactly those fields."""
    data = json.loads(text)
    if names != FIELDS and (not isinstance(data, dict) or set(data) != set(names)):
        raise ValueError(f"the stored group must hold exactly {', '.join(names)}")
    config = within_window_bounds(RunConfig.from_dict(data, base))
    if not (config.dataset in DATASETS or Path(config.dataset).is_dir()):
        raise ValueError(f"unknown data set {config.dataset!r}")
    return config


def _existing_folder(value) -> str:
    if not isinstance(value, str) or not Path(value).is_dir():
        raise ValueError(f"{value!r} is not a folder")
    return value
