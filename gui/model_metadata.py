"""The run configuration stored in a model file's metadata, checked before the window applies it.

A model file's weights are validated by ``scratchnet.serialization``; its metadata is free-form
JSON that anyone can edit. The configuration read from it is used only when it is valid and fits
the window's widgets (``within_window_bounds``: an ``epochs`` of 10**18 would otherwise raise from
a spin box after other fields were set); otherwise the window keeps its current one. A ``run``
entry is used whole or not at all; the ``network`` and ``training`` objects of the older format
each whole or not at all, as the remembered settings of that format are. Either way, the network
part follows the weights actually in the file when the metadata describes other layers.
"""

from __future__ import annotations

from scratchnet.network import Sequential
from scratchnet.run_config import RunConfig, config_from_metadata

from .settings import within_window_bounds

LEGACY_GROUPS = ("network", "training")


def config_for_model(metadata: dict, model: Sequential, current: RunConfig) -> RunConfig:
    """The stored configuration where it is valid (else ``current``), with ``model``'s architecture
    when the stored one does not describe it."""
    legacy = "run" not in metadata and any(group in metadata for group in LEGACY_GROUPS)
    parts = [{group: metadata[group]} for group in LEGACY_GROUPS if group in metadata] if legacy else [metadata]
    config = current
    for part in parts:
        try:
            config = within_window_bounds(config_from_metadata(part, config))
        except (ValueError, TypeError):
            pass
    return config if config.describes(model) else config.with_architecture_of(model)
