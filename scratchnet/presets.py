"""Named training recipes: a run configuration, and for comparisons the runs to set side by side.

A ``Preset`` is a name, a title, a description and a ``RunConfig`` (which builds the model, the
optimiser, the ``TrainConfig`` and the augmentation), including the data set it was tuned on.
A preset marked ``fast`` runs at full speed in the window; the others start at a pace a learner
can watch. A comparison preset lists ``variants``: each
is the preset with a few ``RunConfig`` fields changed (``preset.variant(label)``), trained one
after the other on the same data so their curves can be drawn together.
The figures quoted in the descriptions were measured with ``benchmarks/presets.py``
(see ``benchmarks/PRESETS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .run_config import RunConfig, hidden_layers


@dataclass(frozen=True)
class Variant:
    """One run of a comparison: a label and the ``RunConfig`` fields it changes, as (name, value) pairs."""

    label: str
    changes: tuple[tuple[str, object], ...]


def variant(label: str, **changes) -> Variant:
    return Variant(label, tuple(changes.items()))


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    config: RunConfig = RunConfig()
    variants: tuple[Variant, ...] = ()
    fast: bool = True  # False: the window starts it at a pace a learner can watch

    def __post_init__(self) -> None:
        for v in self.variants:
            try:
                self.config.replace(**dict(v.changes))
            except ValueError as exc:
                raise ValueError(f"preset {self.name!r}, variant {v.label!r}: {exc}") from None

    def variant(self, label: str) -> Preset:
        """This preset with the changes of the variant called ``label`` (and no variants of its own)."""
        for v in self.variants:
            if v.label == label:
                return replace(self, title=f"{self.title}: {label}", config=self.config.replace(**dict(v.changes)),
                               variants=())
        raise KeyError(f"preset {self.name!r} has no variant {label!r}; it has {[v.label for v in self.variants]}")


QUICK_START = Preset(
    name="quick-start",
    title="Quick start",
    description="A 784-128-10 ReLU network, mini-batches of 64 with momentum and a cosine schedule: about "
                "97.5% test accuracy in 3 epochs, a few seconds.",
    config=RunConfig(hidden=hidden_layers(128), init="he", descent="mini", batch_size=64, optimizer="momentum",
                     learning_rate=0.05, momentum=0.9, schedule="cosine", epochs=3),
    fast=False,  # a few seconds at full speed: too quick to see anything happen
)

THREE_DESCENTS = Preset(
    name="three-descents",
    title="The three descents",
    description="The same 784-64-10 network trained three ways with plain SGD on 10,000 images for 5 epochs: "
                "one update per epoch from the whole set (full batch), one per 64 images (mini-batch), one "
                "per image (stochastic). Compare the curves per epoch and per second: about 64%, 92% and "
                "94.5% test accuracy at the end.",
    config=RunConfig(hidden=hidden_layers(64), init="he", descent="mini", batch_size=64, optimizer="sgd",
                     learning_rate=0.1, momentum=0.0, epochs=5, train_size=10_000),
    variants=(
        variant("full batch", descent="full", learning_rate=0.3),
        variant("mini-batch 64", descent="mini", batch_size=64, learning_rate=0.1),
        variant("stochastic", descent="sgd", learning_rate=0.01),
    ),
)

BEST_ACCURACY = Preset(
    name="best-accuracy",
    title="Best accuracy",
    description="A wide 784-800-800-10 ReLU network with dropout, trained on randomly shifted, rotated and "
                "scaled digits with Nesterov momentum and a cosine schedule: about 99% test accuracy.",
    config=RunConfig(hidden=hidden_layers(800, 800), init="he", dropout=0.25, descent="mini", batch_size=128,
                     optimizer="nesterov", learning_rate=0.05, momentum=0.9, schedule="cosine", epochs=14,
                     augment=True),
)

INITIALISATION = Preset(
    name="initialisation",
    title="Why initialisation matters",
    description="A deep 784-256-256-256-10 sigmoid network trained twice for 2 epochs with plain SGD: from "
                "the classic small random start N(0, 0.01²) it stays at chance (about 10%), from He "
                "initialisation it reaches about 87%.",
    config=RunConfig(hidden=hidden_layers(256, 256, 256, activation="sigmoid"), init="he", descent="mini",
                     batch_size=64, optimizer="sgd", learning_rate=0.1, momentum=0.0, epochs=2),
    variants=(
        variant("small normal N(0, 0.01²)", init="normal"),
        variant("He", init="he"),
    ),
)

PRESETS: dict[str, Preset] = {p.name: p for p in (QUICK_START, THREE_DESCENTS, BEST_ACCURACY, INITIALISATION)}
