"""What the window remembers between launches, kept in ``QSettings``.

Stored: the window geometry, the network and training settings (as JSON) and the folder of the
last opened or saved file. The preset is not stored: the window shows the one these settings
match. Whatever is read back is checked: a value of the wrong type or out of range (a
hand-edited or corrupt file, an older version) is ignored and the default takes its place, a
whole group at a time, so a window never starts from half a setting. Reading never fails, whatever
the file holds (JSON nested 100,000 deep, a folder name too long to check, 10,000 layers): the bad
keys are rewritten with the defaults, so the next launch reads them cleanly, and ``StoredState.note``
says which groups were reset.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

from PySide6.QtCore import QByteArray, QSettings

from scratchnet.files import is_folder
from scratchnet.initializers import INITIALIZERS
from scratchnet.layers import ACTIVATIONS
from scratchnet.limits import MAX_HIDDEN_LAYERS, architecture_problem
from scratchnet.optimizers import OPTIMIZER_NAMES
from scratchnet.schedules import SCHEDULES
from scratchnet.training import DESCENTS

from .defaults import DEFAULT_NETWORK, DEFAULT_TRAINING
from .settings import MAX_WIDTH, HiddenLayer, NetworkSettings, TrainingSettings
from .training_panel import DATASETS, MAX_TRAIN_SIZE

ORGANIZATION = APPLICATION = "scratchnet"
KEYS = {"geometry": "window/geometry", "network": "settings/network", "training": "settings/training",
        "folder": "files/lastFolder"}
GROUP_NAMES = {"geometry": "window size", "network": "network", "training": "training", "folder": "last folder"}
# the stored network is checked against the parameter cap as if for MNIST's 28×28 inputs and 10 classes
MNIST_PIXELS, MNIST_CLASSES = 784, 10

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
    note: str = ""


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
    """The stored state; each part that is missing or invalid is the default, and is rewritten."""
    bad: list[str] = []
    network = _read(store, "network", network_from_json, DEFAULT_NETWORK, bad)
    training = _read(store, "training", training_from_json, DEFAULT_TRAINING, bad)
    folder = _read(store, "folder", _existing_folder, "", bad)
    geometry = _read(store, "geometry", _geometry, None, bad)
    state = StoredState(network, training, folder, geometry)
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


def _read(store: QSettings, key: str, parse, default, bad: list[str]):
    try:
        value = store.value(KEYS[key])
        return default if value is None else parse(value)
    except Exception:  # whatever is in the file, the window starts: RecursionError, OSError, …
        bad.append(key)
        return default


def _geometry(value) -> QByteArray:
    if not isinstance(value, QByteArray):
        raise TypeError("the window geometry is not Qt's byte array")
    return value


def network_from_json(text: str) -> NetworkSettings:
    data = json.loads(text)
    if len(data["hidden"]) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"{len(data['hidden'])} hidden layers")
    hidden = tuple(
        HiddenLayer(_bounded_int(layer["width"], 1, MAX_WIDTH), _choice(layer["activation"], ACTIVATIONS))
        for layer in data["hidden"]
    )
    problem = architecture_problem([MNIST_PIXELS, *(layer.width for layer in hidden), MNIST_CLASSES])
    if problem is not None:
        raise ValueError(problem)
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
    if not isinstance(dataset, str) or not (dataset in DATASETS or is_folder(dataset)):
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
    if not isinstance(value, str) or not is_folder(value):
        raise ValueError(f"{value!r} is not a folder")
    return value
