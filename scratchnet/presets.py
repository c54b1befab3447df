"""Named training recipes: a network, how to train it, and for comparisons the runs to set side by side.

A ``Preset`` is plain data. ``build_model``, ``build_optimizer``, ``train_config`` and
``build_augmenter`` turn it into the objects ``scratchnet.training.train`` takes. A comparison
preset lists ``variants``: each is the preset with a few fields changed (``preset.variant(label)``),
trained one after the other on the same data so their curves can be drawn together.
The figures quoted in the descriptions were measured with ``benchmarks/presets.py``
(see ``benchmarks/PRESETS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from .augment import Augmenter
from .network import Sequential, mlp
from .optimizers import Optimizer, make_optimizer
from .training import TrainConfig


@dataclass(frozen=True)
class Variant:
    """One run of a comparison: a label and the preset fields it changes, as (name, value) pairs."""

    label: str
    changes: tuple[tuple[str, object], ...]


def variant(label: str, **changes) -> Variant:
    return Variant(label, tuple(changes.items()))


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    hidden: tuple[int, ...] = (128,)
    activation: str = "relu"
    init: str = "he"
    dropout: float = 0.0
    descent: str = "mini"
    batch_size: int = 64
    optimizer: str = "momentum"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    epochs: int = 5
    augment: bool = False
    seed: int = 0
    train_size: int | None = None
    variants: tuple[Variant, ...] = ()

    def __post_init__(self) -> None:
        names = {f.name for f in fields(self)} - {"name", "title", "description", "variants"}
        for v in self.variants:
            unknown = [key for key, _ in v.changes if key not in names]
            if unknown:
                raise ValueError(f"preset {self.name!r}, variant {v.label!r}: unknown fields {', '.join(unknown)}")

    def variant(self, label: str) -> Preset:
        """This preset with the changes of the variant called ``label`` (and no variants of its own)."""
        for v in self.variants:
            if v.label == label:
                return replace(self, title=f"{self.title}: {label}", variants=(), **dict(v.changes))
        raise KeyError(f"preset {self.name!r} has no variant {label!r}; it has {[v.label for v in self.variants]}")

    def option_defaults(self) -> dict:
        """The training settings as ``scratchnet train`` option names (dests) and values."""
        skip = {"name", "title", "description", "variants"}
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        values["hidden"] = list(self.hidden)
        return values

    def build_model(self, input_size: int = 784, output_size: int = 10) -> Sequential:
        return mlp(input_size, list(self.hidden), output_size, activation=self.activation, init=self.init,
                   dropout=self.dropout, rng=np.random.default_rng(self.seed))

    def build_optimizer(self) -> Optimizer:
        return make_optimizer(self.optimizer, self.lr, momentum=self.momentum, weight_decay=self.weight_decay)

    def train_config(self) -> TrainConfig:
        return TrainConfig(descent=self.descent, batch_size=self.batch_size, epochs=self.epochs, seed=self.seed,
                           schedule=self.schedule)

    def build_augmenter(self) -> Augmenter | None:
        """The augmentation to pass to ``train(augment=...)``, or None when the preset has none."""
        return Augmenter() if self.augment else None


QUICK_START = Preset(
    name="quick-start",
    title="Quick start",
    description="A 784-128-10 ReLU network, mini-batches of 64 with momentum and a cosine schedule: about "
                "97.5% test accuracy in 3 epochs, a few seconds.",
    hidden=(128,), activation="relu", init="he", descent="mini", batch_size=64, optimizer="momentum", lr=0.05,
    momentum=0.9, schedule="cosine", epochs=3,
)

THREE_DESCENTS = Preset(
    name="three-descents",
    title="The three descents",
    description="The same 784-64-10 network trained three ways with plain SGD on 10,000 images for 5 epochs: "
                "one update per epoch from the whole set (full batch), one per 64 images (mini-batch), one "
                "per image (stochastic). Compare the curves per epoch and per second: about 64%, 92% and "
                "94.5% test accuracy at the end.",
    hidden=(64,), activation="relu", init="he", descent="mini", batch_size=64, optimizer="sgd", lr=0.1,
    momentum=0.0, epochs=5, train_size=10_000,
    variants=(
        variant("full batch", descent="full", lr=0.3),
        variant("mini-batch 64", descent="mini", batch_size=64, lr=0.1),
        variant("stochastic", descent="sgd", lr=0.01),
    ),
)

BEST_ACCURACY = Preset(
    name="best-accuracy",
    title="Best accuracy",
    description="A wide 784-800-800-10 ReLU network with dropout, trained on randomly shifted, rotated and "
                "scaled digits with Nesterov momentum and a cosine schedule: about 99% test accuracy.",
    hidden=(800, 800), activation="relu", init="he", dropout=0.25, descent="mini", batch_size=128,
    optimizer="nesterov", lr=0.05, momentum=0.9, schedule="cosine", epochs=14, augment=True,
)

INITIALISATION = Preset(
    name="initialisation",
    title="Why initialisation matters",
    description="A deep 784-256-256-256-10 sigmoid network trained twice for 2 epochs with plain SGD: from "
                "the classic small random start N(0, 0.01²) it stays at chance (about 10%), from He "
                "initialisation it reaches about 87%.",
    hidden=(256, 256, 256), activation="sigmoid", init="he", descent="mini", batch_size=64, optimizer="sgd",
    lr=0.1, momentum=0.0, epochs=2,
    variants=(
        variant("small normal N(0, 0.01²)", init="normal"),
        variant("He", init="he"),
    ),
)

PRESETS: dict[str, Preset] = {p.name: p for p in (QUICK_START, THREE_DESCENTS, BEST_ACCURACY, INITIALISATION)}
