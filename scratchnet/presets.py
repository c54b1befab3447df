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

CONVOLUTIONAL = Preset(
    name="convolutional",
    title="Convolutional network",
    description="Two 5×5 convolutions (16 and 32 channels), each followed by ReLU and 2×2 max pooling, then "
                "a 128-unit Dense layer: 8 epochs of mini-batches of 64 with momentum and a cosine schedule, "
                "on randomly shifted, rotated and scaled digits: about 99.4% test accuracy in about 2¼ minutes.",
    config=RunConfig(layers=("conv5x5x16", "relu", "pool2", "conv5x5x32", "relu", "pool2", "flatten", "dense128",
                             "relu"), init="he", descent="mini", batch_size=64, optimizer="momentum",
                     learning_rate=0.02, momentum=0.9, schedule="cosine", epochs=8, augment=True),
)

PRESETS: dict[str, Preset] = {p.name: p for p in (QUICK_START, THREE_DESCENTS, BEST_ACCURACY, INITIALISATION,
                                                  CONVOLUTIONAL)}


# ---- advice for the window: the tested optimiser of each descent, and combinations known to fail

DESCENT_REASONS = {
    "full": "one update per epoch from the exact gradient of every image: there is no noise to smooth, so a "
            "large step with plain SGD works",
    "mini": "the gradient of 64 images at a time is only a little noisy: plain SGD at a moderate step works "
            "(momentum 0.9 needs a step about ten times smaller)",
    "sgd": "the gradient of one image is very noisy: only a small step keeps the noise from throwing the "
           "weights around, and momentum would add up the noise",
}
# Effective step (learning rate / (1 - momentum) with momentum, else the rate) from which a
# descent is known to fail, by descent and by plain SGD or momentum (Nesterov counts as momentum),
# measured on 10,000 MNIST images, one epoch, 784-128-10 ReLU, test accuracy (issue 13):
# - stochastic, plain: 0.01 -> 91%, 0.05 -> 90%, 0.1 -> 70%, 0.2 -> 12%;
#   momentum 0.9: lr 0.005 -> 90%, 0.01 -> 71%, 0.02 -> 17.5%, 0.05 -> 9.4%.
# - mini-batch 64, plain: 1 -> 67%, 2 -> 12.6%, 5 -> 8.9%;
#   momentum 0.9: lr 0.2 -> 91%, 0.5 -> 75%, 1 -> 29%.
FAILING_STEP = {("sgd", "plain"): 0.2, ("sgd", "momentum"): 0.2, ("mini", "plain"): 2.0, ("mini", "momentum"): 10.0}
DESCENT_PHRASES = {"sgd": "one-image steps", "mini": "mini-batch steps", "full": "full-batch steps"}


def tested_optimiser(descent: str) -> dict:
    """The optimiser fields the three-descents preset trains ``descent`` with (``RunConfig`` names)."""
    for v in THREE_DESCENTS.variants:
        changes = dict(v.changes)
        if changes["descent"] == descent:
            return {"optimizer": THREE_DESCENTS.config.optimizer, "momentum": THREE_DESCENTS.config.momentum,
                    "learning_rate": changes["learning_rate"]}
    raise ValueError(f"unknown descent {descent!r}")


def effective_step(config: RunConfig) -> float | None:
    """The step size momentum amounts to in the long run (lr / (1 - momentum)); None for the
    adaptive optimisers (RMSProp, Adam), whose step does not scale that way."""
    if config.optimizer == "sgd":
        return config.learning_rate
    if config.optimizer in ("momentum", "nesterov"):
        return config.learning_rate / max(1.0 - config.momentum, 1e-9)
    return None


def divergence_warning(config: RunConfig) -> str | None:
    """Why ``config``'s descent and optimiser are known to fail, or None."""
    kind = "plain" if config.optimizer == "sgd" else "momentum"
    limit, step = FAILING_STEP.get((config.descent, kind)), effective_step(config)
    if limit is None or step is None or step < limit:
        return None
    how = (f"learning rate {config.learning_rate:g}" if kind == "plain" else
           f"momentum {config.momentum:g} and learning rate {config.learning_rate:g} (a step of {step:.2g} "
           "in the long run)")
    return (f"Known to fail: {DESCENT_PHRASES[config.descent]} with {how} throw the weights around, and "
            f"accuracy stays near chance or far below what this descent can reach. Tested instead: plain "
            f"SGD at learning rate {tested_optimiser(config.descent)['learning_rate']:g}.")
