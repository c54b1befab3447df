"""The run configuration stored in a model file's metadata, checked before the window applies it.

A model file's weights are validated by ``scratchnet.serialization``; its metadata is free-form
JSON that anyone can edit. The configuration read from it is used only when it is valid and fits
the window's widgets; otherwise the window keeps its current one. Either way, the network part
follows the weights actually in the file when the metadata describes other layers.
"""

from __future__ import annotations

from scratchnet.network import Sequential
from scratchnet.run_config import RunConfig, config_from_metadata

from .settings import within_window_bounds


def config_for_model(metadata: dict, model: Sequential, current: RunConfig) -> RunConfig:
    """The stored configuration when it is valid (else ``current``), with ``model``'s architecture
    when the stored one does not describe it."""
    try:
        config = within_window_bounds(config_from_metadata(metadata, current))
    except (ValueError, TypeError):
        config = current
    return config if config.describes(model) else config.with_architecture_of(model)
