"""The editor settings stored in a model file's metadata, checked before the window applies them.

A model file's weights are validated by ``scratchnet.serialization``; its metadata is free-form
JSON that anyone can edit. Settings read from it are used only when they are complete, valid,
and (for the network) describe the weights actually in the file; otherwise the window falls back
to what the model itself shows, or keeps its current training settings.
"""

from __future__ import annotations

import math

from scratchnet.initializers import INITIALIZERS
from scratchnet.layers import ACTIVATIONS
from scratchnet.limits import MAX_HIDDEN_LAYERS
from scratchnet.network import Sequential
from scratchnet.optimizers import OPTIMIZER_NAMES, make_optimizer
from scratchnet.schedules import SCHEDULES
from scratchnet.training import DESCENTS

from .persistence import NETWORK_BOUNDS, TRAINING_BOUNDS
from .settings import MAX_WIDTH, NetworkSettings, TrainingSettings, network_from_model

_METADATA_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


def network_from_metadata(metadata: dict, model: Sequential) -> NetworkSettings:
    """The stored network settings when they are valid and match ``model``'s layer widths;
    otherwise the architecture read off ``model`` (activations and dropout included)."""
    try:
        network = NetworkSettings.from_dict(metadata["network"])
    except _METADATA_ERRORS:
        return network_from_model(model)
    widths = [dense.out_features for dense in model.dense_layers[:-1]]
    valid = (
        network.init in INITIALIZERS
        and _within(network, NETWORK_BOUNDS)
        and len(network.hidden) <= MAX_HIDDEN_LAYERS
        and all(h.activation in ACTIVATIONS and 1 <= h.width <= MAX_WIDTH for h in network.hidden)
        and [h.width for h in network.hidden] == widths
    )
    return network if valid else network_from_model(model)


def training_from_metadata(metadata: dict, current: TrainingSettings) -> TrainingSettings:
    """The stored training settings when they are all valid; otherwise ``current``."""
    try:
        training = TrainingSettings.from_dict(metadata.get("training") or {"dataset": metadata["dataset"]})
        training.train_config(0)  # validates batch size, epochs and schedule
        make_optimizer(training.optimizer, training.learning_rate,
                       momentum=training.momentum, weight_decay=training.weight_decay)
    except _METADATA_ERRORS:
        return current
    valid = (
        training.descent in DESCENTS
        and training.optimizer in OPTIMIZER_NAMES
        and training.schedule in SCHEDULES
        and isinstance(training.dataset, str) and training.dataset != ""
        and isinstance(training.augment, bool)
        and _within(training, TRAINING_BOUNDS)
    )
    return training if valid else current


def _within(settings, bounds: dict) -> bool:
    """Every bounded field is a number of the right kind inside the range its spin box allows
    (``epochs`` of 1e18 would otherwise raise from the spin box after other fields were set)."""
    for key, (low, high) in bounds.items():
        value = getattr(settings, key)
        kind_ok = _is_int(value) if isinstance(low, int) else _is_number(value) and math.isfinite(value)
        if not kind_ok or not low <= value <= high:
            return False
    return True


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
