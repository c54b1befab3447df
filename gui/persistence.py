"""What the window remembers between launches, kept in ``QSettings``.

Stored: the window geometry, the network and training settings (as JSON) and the folder of the
last opened or saved file. The preset is not stored: the window shows the one these settings
match. Whatever is read back is checked: a value of the wrong type or out of range (a
hand-edited or corrupt file, an older version) is ignored and the default takes its place, a
whole group at a time, so a window never starts from half a setting.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from scratchnet.initializers import INITIALIZERS
from scratchnet.layers import ACTIVATIONS
from scratchnet.optimizers import OPTIMIZER_NAMES
from scratchnet.schedules import SCHEDULES
from scratchnet.training import DESCENTS

from .defaults import DEFAULT_NETWORK, DEFAULT_TRAINING
from .settings import MAX_WIDTH, HiddenLayer, NetworkSettings, TrainingSettings
from .training_panel import DATASETS, MAX_TRAIN_SIZE

ORGANIZATION = APPLICATION = "scratchnet"
KEYS = {"geometry": "window/geometry", "network": "settings/network", "training": "settings/training",
        "folder": "files/lastFolder"}

# inclusive bounds of the numeric settings, as the panels' spin boxes allow them
NETWORK_BOUNDS = {"dropout": (0.0, 0.9), "seed": (0, 2**31 - 1)}
TRAINING_BOUNDS = {
    "batch_size": (1, MAX_TRAIN_SIZE), "learning_rate": (1e-5, 10.0), "momentum": (0.0, 0.999),
    "weight_decay": (0.0, 0.1), "epochs": (1, 500), "train_size": (1, MAX_TRAIN_SIZE),
}
TRAINING_CHOICES = {"descent": DESCENTS, "optimizer": OPTIMIZER_NAMES, "schedule": SCHEDULES}


@dataclass(frozen=True)
class StoredState:
    network: NetworkSettings = DEFAULT_NETWORK
    training: TrainingSettings = DEFAULT_TRAINING
    last_folder: str = ""
    geometry: QByteArray | None = None


def default_store() -> QSettings:
    """The user's settings file (``~/.config/scratchnet/scratchnet.conf`` on Linux)."""
    return QSettings(ORGANIZATION, APPLICATION)


def save_state(store: QSettings, state: StoredState) -> None:
    store.setValue(KEYS["network"], json.dumps(state.network.to_dict()))
    store.setValue(KEYS["training"], json.dumps(state.training.to_dict()))
    store.setValue(KEYS["folder"], state.last_folder)
    if state.geometry is not None:
        store.setValue(KEYS["geometry"], state.geometry)
    store.sync()


def load_state(store: QSettings) -> StoredState:
    """The stored state; each part that is missing or invalid is the default."""
    network = _read(store, "network", network_from_json, DEFAULT_NETWORK)
    training = _read(store, "training", training_from_json, DEFAULT_TRAINING)
    folder = _read(store, "folder", _existing_folder, "")
    geometry = store.value(KEYS["geometry"])
    return StoredState(network, training, folder, geometry if isinstance(geometry, QByteArray) else None)


def _read(store: QSettings, key: str, parse, default):
    value = store.value(KEYS[key])
    if value is None:
        return default
    try:
        return parse(value)
    except (ValueError, TypeError, KeyError, AttributeError):
        return default


def network_from_json(text: str) -> NetworkSettings:
    data = json.loads(text)
    hidden = tuple(
        HiddenLayer(_bounded_int(layer["width"], 1, MAX_WIDTH), _choice(layer["activation"], ACTIVATIONS))
        for layer in data["hidden"]
    )
    return NetworkSettings(
        hidden=hidden,
        init=_choice(data["init"], INITIALIZERS),
        dropout=_bounded_float(data["dropout"], *NETWORK_BOUNDS["dropout"]),
        seed=_bounded_int(data["seed"], *NETWORK_BOUNDS["seed"]),
    )


def training_from_json(text: str) -> TrainingSettings:
    data = json.loads(text)
    values = {key: _choice(data[key], choices) for key, choices in TRAINING_CHOICES.items()}
    for key, (low, high) in TRAINING_BOUNDS.items():
        values[key] = (_bounded_int if isinstance(low, int) else _bounded_float)(data[key], low, high)
    dataset = data["dataset"]
    if not isinstance(dataset, str) or not (dataset in DATASETS or Path(dataset).is_dir()):
        raise ValueError(f"unknown data set {dataset!r}")
    if not isinstance(data["augment"], bool):
        raise TypeError("augment must be true or false")
    return TrainingSettings(**values, dataset=dataset, augment=data["augment"])


def _choice(value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{value!r} is not one of {sorted(choices)}")
    return value


def _bounded_int(value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{value!r} is not a whole number in [{low}, {high}]")
    return value


def _bounded_float(value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ValueError(f"{value!r} is not a number in [{low}, {high}]")
    return float(value)


def _existing_folder(value) -> str:
    if not isinstance(value, str) or not Path(value).is_dir():
        raise ValueError(f"{value!r} is not a folder")
    return value
