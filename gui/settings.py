"""What the panels edit, as plain data: the network and the training settings.

Both round-trip through ``to_dict`` / ``from_dict`` so they can be stored in a model file's
metadata. ``build_model`` turns network settings into a ``scratchnet`` model with fresh weights
(through ``scratchnet.network.mlp``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from itertools import pairwise

import numpy as np

from scratchnet.layers import ACTIVATIONS, Dense, Dropout
from scratchnet.network import Sequential, mlp
from scratchnet.training import TrainConfig

MAX_WIDTH = 4096
# seconds between batch logs: 4 a second are plenty for plots redrawn twice a second, and each
# log makes the GUI thread take the GIL from the training loop once more. Every update's loss still
# reaches the plot: a log carries all the losses since the previous one.
BATCH_LOG_INTERVAL = 0.25


@dataclass(frozen=True)
class HiddenLayer:
    width: int
    activation: str = "relu"


@dataclass(frozen=True)
class NetworkSettings:
    """Hidden Dense layers between the fixed input and the softmax output."""

    hidden: tuple[HiddenLayer, ...] = ()
    init: str = "he"
    dropout: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetworkSettings:
        hidden = tuple(HiddenLayer(int(h["width"]), str(h["activation"])) for h in data["hidden"])
        return cls(hidden, str(data["init"]), float(data["dropout"]), int(data["seed"]))

    def widths(self, input_size: int, output_size: int) -> list[int]:
        return [input_size, *(h.width for h in self.hidden), output_size]


@dataclass(frozen=True)
class TrainingSettings:
    descent: str = "mini"
    batch_size: int = 64
    optimizer: str = "momentum"
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    epochs: int = 5
    train_size: int = 60_000
    dataset: str = "mnist"
    augment: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainingSettings:
        known = {f for f in cls.__dataclass_fields__}
        return replace(cls(), **{k: v for k, v in data.items() if k in known})

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(
            descent=self.descent, batch_size=self.batch_size, epochs=self.epochs, seed=seed,
            schedule=self.schedule, log_interval=BATCH_LOG_INTERVAL,
        )


@dataclass(frozen=True)
class RunSpec:
    """Everything a training run needs, fixed when it starts."""

    network: NetworkSettings
    training: TrainingSettings
    label: str = ""


def param_count(widths: list[int]) -> int:
    """Weights plus biases of the Dense layers joining consecutive ``widths``."""
    return sum(a * b + b for a, b in pairwise(widths))


def build_model(network: NetworkSettings, input_size: int, output_size: int) -> Sequential:
    """``network.mlp`` with the editor's widths, init, dropout and seed. ``mlp`` gives every hidden
    layer one activation, while the editor lets each choose its own, so each activation layer
    (weightless: the seeded weights stay the same) is then replaced by the chosen one."""
    for k, hidden in enumerate(network.hidden):
        if hidden.activation not in ACTIVATIONS:
            raise ValueError(f"hidden layer {k + 1}: unknown activation {hidden.activation!r}; "
                             f"choose one of {', '.join(ACTIVATIONS)}")
    model = mlp(input_size, [hidden.width for hidden in network.hidden], output_size, init=network.init,
                dropout=network.dropout, rng=np.random.default_rng(network.seed))
    slots = [i for i, layer in enumerate(model.layers) if not isinstance(layer, (Dense, Dropout))]
    for i, hidden in zip(slots, network.hidden, strict=True):
        model.layers[i] = ACTIVATIONS[hidden.activation]()
    return model


_ACTIVATION_OF_CLASS = {cls.__name__: name for name, cls in ACTIVATIONS.items()}


def network_from_model(model: Sequential, init: str = "he", seed: int = 0) -> NetworkSettings:
    """The editor settings that describe ``model``'s architecture (init and seed are not stored
    in a layer config, so they come from the caller, usually the file's metadata)."""
    hidden: list[HiddenLayer] = []
    dropout = 0.0
    for layer in model.layers[:-1]:
        config = layer.get_config()
        kind = config["type"]
        if kind == "Dense":
            hidden.append(HiddenLayer(layer.out_features, "relu"))
        elif kind == "Dropout":
            dropout = float(config["rate"])
        elif kind in _ACTIVATION_OF_CLASS and hidden:
            hidden[-1] = replace(hidden[-1], activation=_ACTIVATION_OF_CLASS[kind])
    return NetworkSettings(tuple(hidden), init, dropout, seed)


def architecture_matches(model: Sequential, network: NetworkSettings, input_size: int, output_size: int) -> bool:
    """Whether ``model`` has the layers ``build_model(network, input_size, output_size)`` would build
    (widths, activations, dropout; not the weights, init or seed)."""
    described = network_from_model(model)
    return (
        (model.input_size, model.output_size) == (input_size, output_size)
        and described.hidden == network.hidden
        and described.dropout == network.dropout
    )
