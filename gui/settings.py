"""How the window splits the one ``RunConfig`` between its panels, and what its widgets allow.

The Network tab (``LayerEditor``) edits ``NETWORK_FIELDS``, the Training tab (``TrainingPanel``)
the rest; together they edit every field but ``UNEDITED_FIELDS``. ``WINDOW_BOUNDS`` are the ranges of the panels' spin
boxes, narrower than what ``RunConfig`` accepts (a learning rate of 100 is valid, but no spin box
goes there), and remembered settings outside them are not restored.
"""

from __future__ import annotations

from dataclasses import dataclass

from scratchnet.limits import LAYERS_REASON, MAX_HIDDEN_LAYERS
from scratchnet.limits import parameter_count as param_count  # noqa: F401 (the editor's count)
from scratchnet.run_config import FIELDS, RunConfig

MAX_TRAIN_SIZE = 60_000

NETWORK_FIELDS = ("hidden", "layers", "init", "dropout", "seed")
UNEDITED_FIELDS: tuple[str, ...] = ()
TRAINING_FIELDS = tuple(name for name in FIELDS if name not in NETWORK_FIELDS + UNEDITED_FIELDS)

# inclusive ranges of the numeric fields, as the panels' spin boxes allow them
WINDOW_BOUNDS = {
    "dropout": (0.0, 0.9), "seed": (0, 2**31 - 1), "batch_size": (1, MAX_TRAIN_SIZE),
    "learning_rate": (1e-5, 10.0), "momentum": (0.0, 0.999), "weight_decay": (0.0, 0.1), "epochs": (1, 500),
    "train_size": (1, MAX_TRAIN_SIZE),
}


@dataclass(frozen=True)
class RunSpec:
    """A run the window queues: its configuration, the label the runs list shows (may be empty),
    and how many training images to measure in inference mode at each epoch's end (0: none; see
    ``TrainConfig.train_eval_size``)."""

    config: RunConfig
    label: str = ""
    train_eval_size: int = 0


def within_window_bounds(config: RunConfig) -> RunConfig:
    """``config`` itself when every numeric field is inside ``WINDOW_BOUNDS`` and it has no more
    hidden layers than the layer editor builds (``MAX_HIDDEN_LAYERS``); else ``ValueError``."""
    if len(config.hidden) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"{len(config.hidden):,} hidden layers is too many: {LAYERS_REASON}")
    for name, (low, high) in WINDOW_BOUNDS.items():
        value = getattr(config, name)
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name} {value!r} is outside the window's range [{low}, {high}]")
    return config
