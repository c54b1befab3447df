"""One description of a training run: the network, the optimiser, the descent and the data.

``RunConfig`` is the single place where a hyperparameter is named, given its default and checked.
The command line, the presets, the window, its remembered settings and the metadata of saved models
all hold one; it builds what ``scratchnet.training.train`` takes::

    config = RunConfig(hidden=hidden_layers(256, 128), learning_rate=0.1, epochs=3)
    model = config.build_model(784, 10)
    logs = train(model, config.build_optimizer(), x, y, config.train_config(),
                 augment=config.build_augmenter())

It round-trips through ``to_dict`` / ``from_dict`` and ``to_json`` / ``from_json``. A value of the
wrong type or out of range raises ``ValueError`` naming the field, when the config is built and
when it is read.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from .augment import Augmenter
from .initializers import INITIALIZERS
from .layers import ACTIVATIONS, Dense, Dropout
from .limits import MAX_WIDTH
from .network import Sequential, mlp
from .optimizers import OPTIMIZER_NAMES, Optimizer, make_optimizer
from .schedules import SCHEDULES
from .stacks import build_stack, check_token, layer_tokens, parse_layers
from .training import DESCENTS, TrainConfig


def _check_choice(name: str, value, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _check_int(name: str, value, low: int, high: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        span = f"at least {low}" if high == math.inf else f"from {low} to {high}"
        raise ValueError(f"{name} must be a whole number {span}, got {value!r}")


def _check_float(name: str, value, low: float, high: float, low_open: bool) -> float:
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    inside = number and math.isfinite(value) and (value > low if low_open else value >= low) and value < high
    if not inside:
        span = f"{'above' if low_open else 'at least'} {low:g}" + (f" and below {high:g}" if high != math.inf else "")
        raise ValueError(f"{name} must be a number {span}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class HiddenLayer:
    """A hidden Dense layer of ``width`` units followed by its ``activation``."""

    width: int
    activation: str = "relu"

    def __post_init__(self) -> None:
        _check_int("hidden width", self.width, 1, MAX_WIDTH)
        _check_choice("hidden activation", self.activation, ACTIVATIONS)


def hidden_layers(*widths: int, activation: str = "relu") -> tuple[HiddenLayer, ...]:
    """Hidden layers of these widths, all with ``activation``: ``hidden_layers(256, 128)``."""
    return tuple(HiddenLayer(width, activation) for width in widths)


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs (the weights aside), as plain data."""

    # the network: hidden layers between the data's inputs and a softmax over its classes
    hidden: tuple[HiddenLayer, ...] = hidden_layers(128)
    # or any stack, as tokens of ``scratchnet.stacks`` ("conv5x5x8", "relu", "pool2", "flatten",
    # "dense128"...); when given, it replaces ``hidden`` and ``dropout`` (write dropout as a token)
    layers: tuple[str, ...] = ()
    init: str = "he"
    dropout: float = 0.0
    # the optimiser
    optimizer: str = "momentum"
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    # the descent: full batch, mini-batch or one sample per update
    descent: str = "mini"
    batch_size: int = 64
    epochs: int = 5
    schedule: str = "constant"
    seed: int = 0  # the initial weights, the shuffling, dropout and augmentation all draw from it
    augment: bool = False
    # the data: a data set name or a folder of IDX files, and how many training images (None: all)
    dataset: str = "mnist"
    train_size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, (tuple, list)) or not all(isinstance(h, HiddenLayer) for h in self.hidden):
            raise ValueError(f"hidden must be a sequence of HiddenLayer, got {self.hidden!r}")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if isinstance(self.layers, str):
            object.__setattr__(self, "layers", parse_layers(self.layers))
        if not isinstance(self.layers, (tuple, list)):
            raise ValueError(f"layers must be a list of layer tokens, got {self.layers!r}")
        object.__setattr__(self, "layers", tuple(self.layers))
        for token in self.layers:
            check_token(token)
        _check_choice("init", self.init, INITIALIZERS)
        _check_choice("optimizer", self.optimizer, OPTIMIZER_NAMES)
        _check_choice("descent", self.descent, DESCENTS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        for name, low, high, low_open in (("dropout", 0.0, 1.0, False), ("learning_rate", 0.0, math.inf, True),
                                          ("momentum", 0.0, 1.0, False), ("weight_decay", 0.0, math.inf, False)):
            object.__setattr__(self, name, _check_float(name, getattr(self, name), low, high, low_open))
        for name in ("batch_size", "epochs"):
            _check_int(name, getattr(self, name), 1)
        _check_int("seed", self.seed, 0)
        if self.train_size is not None:
            _check_int("train_size", self.train_size, 1)
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be true or false, got {self.augment!r}")
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"dataset must be a data set name or a folder, got {self.dataset!r}")

    # ---- plain data
    def to_dict(self) -> dict:
        """JSON-ready values; ``hidden`` is a list of ``{"width", "activation"}``, ``layers`` a list
        of tokens."""
        data = asdict(self)
        data["hidden"] = [asdict(layer) for layer in self.hidden]
        data["layers"] = list(self.layers)
        return data

    @classmethod
    def from_dict(cls, data: dict, base: RunConfig | None = None) -> RunConfig:
        """The config ``data`` describes; a field it leaves out keeps its value in ``base`` (default:
        ``RunConfig()``). An unknown field, or a value of the wrong type, raises ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError(f"a run configuration is a JSON object, got {type(data).__name__}")
        values = dict(data)
        if "hidden" in values:
            values["hidden"] = _hidden_from_data(values["hidden"])
        return (base or cls()).replace(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str, base: RunConfig | None = None) -> RunConfig:
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"a run configuration must be JSON text: {exc}") from None
        return cls.from_dict(data, base)

    def replace(self, **changes) -> RunConfig:
        """This config with some fields changed; an unknown field name raises ``ValueError``."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown run configuration field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
        return replace(self, **changes)

    # ---- what it builds
    def build_model(self, input_size: int, output_size: int) -> Sequential:
        """Dense -> activation (-> Dropout) per hidden layer, then Dense logits; seeded weights.
        With ``layers``: that stack (``scratchnet.stacks.build_stack``), which raises ValueError
        naming the layer that does not fit the images, or a network over the parameter cap."""
        if self.layers:
            return build_stack(self.layers, input_size, output_size, init=self.init,
                               rng=np.random.default_rng(self.seed))
        first = self.hidden[0].activation if self.hidden else "relu"
        model = mlp(input_size, [h.width for h in self.hidden], output_size, activation=first, init=self.init,
                    dropout=self.dropout, rng=np.random.default_rng(self.seed))
        # mlp gives every hidden layer one activation. Activations hold no weights and draw no
        # random numbers, so giving each layer its own keeps the seeded weights as they are.
        positions = [i for i, layer in enumerate(model.layers) if not isinstance(layer, (Dense, Dropout))]
        for position, layer in zip(positions, self.hidden, strict=True):
            model.layers[position] = ACTIVATIONS[layer.activation]()
        return model

    def build_optimizer(self) -> Optimizer:
        return make_optimizer(self.optimizer, self.learning_rate, momentum=self.momentum,
                              weight_decay=self.weight_decay)

    def train_config(self, **options) -> TrainConfig:
        """The ``TrainConfig`` of this run; ``options`` sets its other fields (``log_interval``...)."""
        return TrainConfig(descent=self.descent, batch_size=self.batch_size, epochs=self.epochs, seed=self.seed,
                           schedule=self.schedule, **options)

    def build_augmenter(self, side: int = 28) -> Augmenter | None:
        """The augmentation to pass to ``train(augment=...)`` for square images of ``side`` pixels a
        side, or None. Shifts are at most 2 pixels, and less on images under 8 pixels a side."""
        return Augmenter(max_shift=min(2.0, side / 4), side=side) if self.augment else None

    # ---- questions
    def widths(self, input_size: int, output_size: int) -> list[int]:
        return [input_size, *(h.width for h in self.hidden), output_size]

    def n_train(self, available: int) -> int:
        """How many of ``available`` training images the run uses."""
        return available if self.train_size is None else min(self.train_size, available)

    def with_architecture_of(self, model: Sequential) -> RunConfig:
        """This config with ``model``'s hidden layers and dropout, or for a network of images its
        ``layers`` tokens (init and seed are not stored in a model, so they stay)."""
        if model.is_image_network:
            return self.replace(layers=layer_tokens(model))
        hidden: list[HiddenLayer] = []
        dropout = 0.0
        activation_of_class = {cls: name for name, cls in ACTIVATIONS.items()}
        for layer in model.layers[:-1]:
            if isinstance(layer, Dense):
                hidden.append(HiddenLayer(layer.out_features))
            elif isinstance(layer, Dropout):
                dropout = layer.rate
            elif type(layer) in activation_of_class and hidden:
                hidden[-1] = HiddenLayer(hidden[-1].width, activation_of_class[type(layer)])
        return self.replace(hidden=tuple(hidden), dropout=dropout, layers=())

    def describes(self, model: Sequential) -> bool:
        """Whether ``model`` has this config's hidden layers, activations and dropout (the weights
        and their init aside)."""
        return self.with_architecture_of(model) == self


FIELDS = tuple(f.name for f in fields(RunConfig))


def _hidden_from_data(data) -> tuple[HiddenLayer, ...]:
    if not isinstance(data, (list, tuple)):
        raise ValueError(f"hidden must be a list of layers, got {data!r}")
    layers = []
    for i, layer in enumerate(data):
        if not isinstance(layer, dict) or set(layer) - {"width", "activation"} or "width" not in layer:
            raise ValueError(f"hidden layer {i} must be {{\"width\": N, \"activation\": NAME}}, got {layer!r}")
        layers.append(HiddenLayer(layer["width"], layer.get("activation", "relu")))
    return tuple(layers)


def model_metadata(config: RunConfig, class_names=(), **extra) -> dict:
    """The metadata a saved model carries about its run: ``run`` (``config.to_dict()``), ``dataset``,
    ``class_names`` and any ``extra`` entries."""
    return {"run": config.to_dict(), "dataset": config.dataset, "class_names": list(class_names), **extra}


def config_from_metadata(metadata: dict, base: RunConfig) -> RunConfig:
    """The run configuration in a saved model's ``metadata``; what it leaves out comes from ``base``.

    Reads ``run`` (``model_metadata``), or the ``network`` and ``training`` objects that the window
    saved before there was one run configuration (their keys are ``RunConfig`` fields), or else only
    the ``dataset``. Raises ``ValueError`` when what is there is not a valid configuration."""
    if "run" in metadata:
        return RunConfig.from_dict(metadata["run"], base)
    data: dict = {}
    for group in ("network", "training"):
        part = metadata.get(group, {})
        if not isinstance(part, dict):
            raise ValueError(f"metadata {group!r} must be a JSON object, got {part!r}")
        data.update(part)
    if not data and "dataset" in metadata:
        data = {"dataset": metadata["dataset"]}
    return RunConfig.from_dict(data, base)

