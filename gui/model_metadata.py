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
from scratchnet.network import Sequential
from scratchnet.optimizers import OPTIMIZER_NAMES, make_optimizer
from scratchnet.schedules import SCHEDULES
from scratchnet.training import DESCENTS

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
        and 0.0 <= network.dropout < 1.0
        and 0 <= network.seed < 2**31
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
        and all(_is_int(v) and v >= 1 for v in (training.batch_size, training.epochs, training.train_size))
        and all(_is_number(v) and math.isfinite(v)
                for v in (training.learning_rate, training.momentum, training.weight_decay))
    )
    return training if valid else current


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
