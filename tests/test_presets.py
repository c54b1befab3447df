"""Presets: each one (and each comparison run) builds a working model, and `train --preset` uses them."""

import json

import numpy as np
import pytest

from cli import run_cli
from cli.train import build_parser, parse_args
from scratchnet.augment import Augmenter
from scratchnet.optimizers import SGD, Adam
from scratchnet.presets import PRESETS, Preset, variant
from scratchnet.training import TrainConfig, train


def _runs():
    """Every preset, and every variant of the comparison presets, as pytest params."""
    for preset in PRESETS.values():
        yield pytest.param(preset, id=preset.name)
        for v in preset.variants:
            yield pytest.param(preset.variant(v.label), id=f"{preset.name}/{v.label}")


def test_the_issue_names_four_presets():
    assert list(PRESETS) == ["quick-start", "three-descents", "best-accuracy", "initialisation"]
    assert PRESETS["best-accuracy"].augment and PRESETS["best-accuracy"].dropout > 0
    assert [v.label for v in PRESETS["three-descents"].variants] == ["full batch", "mini-batch 64", "stochastic"]
    inits = [PRESETS["initialisation"].variant(v.label).init for v in PRESETS["initialisation"].variants]
    assert inits == ["normal", "he"]


@pytest.mark.parametrize("preset", list(_runs()))
def test_each_run_builds_and_takes_a_training_step(preset):
    model = preset.build_model()
    widths = [layer.out_features for layer in model.dense_layers]
    assert widths == [*preset.hidden, 10]
    optimizer = preset.build_optimizer()
    assert optimizer.lr == preset.lr
    config = preset.train_config()
    assert isinstance(config, TrainConfig) and config.epochs == preset.epochs and config.descent == preset.descent
    augmenter = preset.build_augmenter()
    assert isinstance(augmenter, Augmenter) == preset.augment
    rng = np.random.default_rng(0)
    x = rng.random((40, 784), dtype=np.float32)
    y = rng.integers(0, 10, 40)
    short = TrainConfig(descent=config.descent, batch_size=config.batch_size, epochs=1, seed=preset.seed)
    before = model.state_dict()["0.W"].copy()
    logs = list(train(model, optimizer, x, y, short, augment=augmenter))
    assert logs[-1]["event"] == "done" and logs[-1]["epochs_completed"] == 1
    assert not np.array_equal(before, model.state_dict()["0.W"])


def test_variant_applies_its_changes_only():
    preset = PRESETS["three-descents"]
    full = preset.variant("full batch")
    assert (full.descent, full.lr, full.hidden, full.variants) == ("full", 0.3, preset.hidden, ())
    with pytest.raises(KeyError, match="no variant"):
        preset.variant("newton")


def test_unknown_variant_field_raises():
    with pytest.raises(ValueError, match="learning_rate"):
        Preset(name="x", title="X", description="", variants=(variant("a", learning_rate=1.0),))


def test_option_defaults_name_real_cli_options():
    dests = {action.dest for action in build_parser()._actions}
    for preset in PRESETS.values():
        assert set(preset.option_defaults()) <= dests


def test_preset_fills_defaults_and_explicit_flags_win():
    args = parse_args(["--preset", "best-accuracy", "--epochs", "2", "--no-augment"])
    preset = PRESETS["best-accuracy"]
    assert args.hidden == list(preset.hidden) and args.dropout == preset.dropout
    assert args.optimizer == preset.optimizer and args.schedule == preset.schedule
    assert args.epochs == 2 and args.augment is False
    assert parse_args(["--preset", "best-accuracy"]).augment is True
    plain = parse_args([])
    assert plain.preset is None and plain.augment is False


def test_optimisers_match_their_names():
    assert isinstance(PRESETS["quick-start"].build_optimizer(), SGD)
    assert isinstance(Preset(name="a", title="A", description="", optimizer="adam", lr=1e-3).build_optimizer(), Adam)


def test_train_preset_quick_start_on_a_subset(capsys):
    code = run_cli(["train", "--preset", "quick-start", "--train-size", "3000", "--epochs", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line.get("epoch") for line in lines[:-1]] == [1, 2]
    assert lines[-1]["event"] == "done" and lines[-1]["test_accuracy"] > 0.85


def test_train_with_augmentation_on_a_subset(capsys):
    code = run_cli(["train", "--augment", "--hidden", "32", "--train-size", "1000", "--epochs", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["test_accuracy"] > 0.5
