"""What the window remembers between launches, kept in ``QSettings``.

Stored: the window geometry, the run configuration (as JSON) and the folder of the last opened
or saved file. The preset is not stored: the window shows the one these settings match. Whatever
is read back is checked: a value of the wrong type or out of range (a hand-edited or corrupt file)
is ignored and the default takes its place, so a window never starts from half a setting. A
field that a file from an older version leaves out takes its default. Before there was one run
configuration, the window stored its two tabs as two groups (``network``, ``training``): those
are still read, each group whole or not at all.

Reading never fails, whatever the file holds (JSON nested 100,000 deep, a folder name too long to
check, 10,000 layers, a network too big to train): the bad keys are rewritten with the defaults,
so the next launch reads them cleanly, and ``StoredState.note`` says which were reset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import partial

from PySide6.QtCore import QByteArray, QSettings

from scratchnet.files import is_folder
from scratchnet.limits import architecture_problem
from scratchnet.run_config import FIELDS, RunConfig
from scratchnet.stacks import stack_shapes

from .defaults import DEFAULT_CONFIG
from .settings import NETWORK_FIELDS, TRAINING_FIELDS, within_window_bounds
from .training_panel import DATASETS

ORGANIZATION = APPLICATION = "scratchnet"
KEYS = {"geometry": "window/geometry", "run": "settings/run", "folder": "files/lastFolder",
        "network": "settings/network", "training": "settings/training"}
# the network group stored before there was one run configuration had no stack of layers
LEGACY_NETWORK_FIELDS = tuple(name for name in NETWORK_FIELDS if name != "layers")
LEGACY_GROUPS = {"network": LEGACY_NETWORK_FIELDS, "training": TRAINING_FIELDS}
GROUP_NAMES = {"geometry": "window size", "run": "run settings", "network": "network", "training": "training",
               "folder": "last folder"}
# the stored network is checked against the parameter cap as if for MNIST's 28×28 inputs and 10 classes
MNIST_PIXELS, MNIST_CLASSES = 784, 10


@dataclass(frozen=True)
class StoredState:
    config: RunConfig = DEFAULT_CONFIG
    last_folder: str = ""
    geometry: QByteArray | None = None
    note: str = ""


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
    """The stored state; each part that is missing or invalid is the default, and is rewritten."""
    bad: list[str] = []
    config = _read_config(store, bad)
    folder = _read(store, "folder", _existing_folder, "", bad)
    geometry = _read(store, "geometry", _geometry, None, bad)
    state = StoredState(config, folder, geometry)
    if not bad:
        return state
    note = (f"Some remembered settings could not be used ({', '.join(GROUP_NAMES[key] for key in bad)}): "
            "the defaults were restored.")
    try:
        save_state(store, state)
        if "geometry" in bad:
            store.remove(KEYS["geometry"])
            store.sync()
    except Exception:  # a read-only settings file: the defaults still apply for this launch
        note += " The settings file could not be rewritten."
    return replace(state, note=note)


def _read_config(store: QSettings, bad: list[str]) -> RunConfig:
    config = _read(store, "run", config_from_json, None, bad)
    if config is not None or "run" in bad:
        return config or DEFAULT_CONFIG
    config = DEFAULT_CONFIG
    for group, names in LEGACY_GROUPS.items():  # each group whole or not at all
        config = _read(store, group, partial(config_from_json, base=config, names=names), config, bad)
    return config


def _read(store: QSettings, key: str, parse, default, bad: list[str]):
    """``parse`` of the value stored under ``key``; ``default`` when there is none, or when reading
    or parsing it fails in any way (then ``key`` joins ``bad``)."""
    try:
        value = store.value(KEYS[key])
        return default if value is None else parse(value)
    except Exception:  # whatever is in the file, the window starts: RecursionError, OSError, …
        bad.append(key)
        return default


def config_from_json(text: str, base: RunConfig = DEFAULT_CONFIG, names: tuple[str, ...] = FIELDS) -> RunConfig:
    """The configuration stored as ``text``, checked against the window's ranges and the network
    limits (as for MNIST). With ``names`` (a legacy group), the object must hold exactly those fields."""
    data = json.loads(text)
    if names != FIELDS and (not isinstance(data, dict) or set(data) != set(names)):
        raise ValueError(f"the stored group must hold exactly {', '.join(names)}")
    config = within_window_bounds(RunConfig.from_dict(data, base))
    problem = (stack_shapes(config.layers, MNIST_PIXELS, MNIST_CLASSES).problem if config.layers
               else architecture_problem(config.widths(MNIST_PIXELS, MNIST_CLASSES)))
    if problem is not None:
        raise ValueError(problem)
    if not (config.dataset in DATASETS or is_folder(config.dataset)):
        raise ValueError(f"unknown data set {config.dataset!r}")
    return config


def _geometry(value) -> QByteArray:
    if not isinstance(value, QByteArray):
        raise TypeError("the window geometry is not Qt's byte array")
    return value


def _existing_folder(value) -> str:
    if not isinstance(value, str) or not is_folder(value):
        raise ValueError(f"{value!r} is not a folder")
    return value


IMPORTS_KEY = "data/importOptions"
IMPORT_OPTION_NAMES = ("image_size", "held_out", "photo", "allow_large")


def save_import_options(store: QSettings, options: dict[str, dict]) -> None:
    """Remember how each imported path was imported (``load_dataset`` options), as JSON."""
    store.setValue(IMPORTS_KEY, json.dumps(options))


def load_import_options(store: QSettings) -> dict[str, dict]:
    """The remembered import options by path; entries that are not what ``save_import_options``
    wrote are dropped (the path then loads with the defaults)."""
    try:
        data = json.loads(str(store.value(IMPORTS_KEY, "{}")))
    except (TypeError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {path: options for path, options in data.items()
            if isinstance(path, str) and isinstance(options, dict) and set(options) <= set(IMPORT_OPTION_NAMES)}
