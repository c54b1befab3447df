"""The settings of a new window, in one place (a later "Quick start" preset tunes these)."""

from __future__ import annotations

from .settings import HiddenLayer, NetworkSettings, TrainingSettings

DEFAULT_NETWORK = NetworkSettings(
    hidden=(HiddenLayer(width=128, activation="relu"),),
    init="he",
    dropout=0.0,
    seed=0,
)

DEFAULT_TRAINING = TrainingSettings(
    descent="mini",
    batch_size=64,
    optimizer="momentum",
    learning_rate=0.05,
    momentum=0.9,
    weight_decay=0.0,
    schedule="constant",
    epochs=5,
    train_size=60_000,
    dataset="mnist",
)

NEW_LAYER = HiddenLayer(width=64, activation="relu")
