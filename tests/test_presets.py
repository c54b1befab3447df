"""Presets: each one (and each comparison run) builds a working model, and `train --preset` uses them."""

import json

import numpy as np
import pytest

from cli import run_cli
from cli.train import parse_args, run_config
from scratchnet.augment import Augmenter
from scratchnet.optimizers import SGD, Adam
from scratchnet.presets import PRESETS, Preset, variant
from scratchnet.run_config import RunConfig, hidden_layers
from scratchnet.training import TrainConfig, train


def _runs():
    """Every preset, and every variant of the comparison presets, as pytest params."""
    for preset in PRESETS.values():
        yield pytest.param(preset, id=preset.name)
        for v in preset.variants:
            yield pytest.param(preset.variant(v.label), id=f"{preset.name}/{v.label}")


def test_the_issue_names_four_presets_and_issue_18_a_fifth():
    assert list(PRESETS) == ["quick-start", "three-descents", "best-accuracy", "initialisation", "convolutional"]
    assert PRESETS["convolutional"].config.layers[0].startswith("conv")
    assert PRESETS["best-accuracy"].config.augment and PRESETS["best-accuracy"].config.dropout > 0
    assert [v.label for v in PRESETS["three-descents"].variants] == ["full batch", "mini-batch 64", "stochastic"]
    inits = [PRESETS["initialisation"].variant(v.label).config.init for v in PRESETS["initialisation"].variants]
    assert inits == ["normal", "he"]


@pytest.mark.parametrize("preset", list(_runs()))
def test_each_run_builds_and_takes_a_training_step(preset):
    run = preset.config
    model = run.build_model(784, 10)
    widths = [layer.out_features for layer in model.dense_layers]
    if run.layers:  # a stack of its own: its dense tokens give the widths
        assert widths == [*(int(t[5:]) for t in run.layers if t.startswith("dense")), 10]
    else:
        assert widths == [*(h.width for h in run.hidden), 10]
    optimizer = run.build_optimizer()
    assert optimizer.lr == run.learning_rate
    config = run.train_config()
    assert isinstance(config, TrainConfig) and config.epochs == run.epochs and config.descent == run.descent
    augmenter = run.build_augmenter()
    assert isinstance(augmenter, Augmenter) == run.augment
    rng = np.random.default_rng(0)
    x = rng.random((40, 784), dtype=np.float32)
    y = rng.integers(0, 10, 40)
    short = run.replace(epochs=1).train_config()
    first = next(iter(model.parameters()))  # "0.W", or "1.W" after a Reshape
    before = model.state_dict()[first].copy()
    logs = list(train(model, optimizer, x, y, short, augment=augmenter))
    assert logs[-1]["event"] == "done" and logs[-1]["epochs_completed"] == 1
    assert not np.array_equal(before, model.state_dict()[first])


def test_variant_applies_its_changes_only():
    preset = PRESETS["three-descents"]
    full = preset.variant("full batch")
    assert (full.config.descent, full.config.learning_rate, full.config.hidden, full.variants) == (
        "full", 0.3, preset.config.hidden, ())
    assert full.config.replace(descent="mini", learning_rate=0.1) == preset.config
    with pytest.raises(KeyError, match="no variant"):
        preset.variant("newton")


def test_unknown_or_invalid_variant_fields_raise_naming_them():
    with pytest.raises(ValueError, match="variant 'a'.*unknown run configuration field 'lr'"):
        Preset(name="x", title="X", description="", variants=(variant("a", lr=1.0),))
    with pytest.raises(ValueError, match="variant 'b'.*learning_rate must be a number above 0"):
        Preset(name="x", title="X", description="", variants=(variant("b", learning_rate=-1.0),))


def test_preset_fills_defaults_and_explicit_flags_win():
    config = run_config(parse_args(["--preset", "best-accuracy", "--epochs", "2", "--no-augment"]))
    preset = PRESETS["best-accuracy"].config
    assert config == preset.replace(epochs=2, augment=False)
    assert run_config(parse_args(["--preset", "best-accuracy"])) == preset
    assert run_config(parse_args([])) == RunConfig()


def test_hidden_and_activation_flags_set_the_hidden_layers_together_or_alone():
    assert run_config(parse_args(["--hidden", "32,16"])).hidden == hidden_layers(32, 16)
    assert run_config(parse_args(["--preset", "initialisation", "--hidden", "32"])).hidden == hidden_layers(
        32, activation="sigmoid")
    assert run_config(parse_args(["--preset", "initialisation", "--activation", "tanh"])).hidden == hidden_layers(
        256, 256, 256, activation="tanh")
    assert run_config(parse_args(["--hidden", "none"])).hidden == ()


def test_every_run_configuration_field_is_a_command_line_option():
    flags = {"hidden": "32", "activation": "tanh", "init": "xavier", "dropout": "0.5", "optimizer": "adam",
             "lr": "0.003", "momentum": "0.5", "weight-decay": "0.01", "descent": "sgd", "batch-size": "7",
             "epochs": "2", "schedule": "step", "seed": "9", "augment": None, "dataset": "fashion-mnist",
             "train-size": "100", "layers": "conv3x3x4,relu,pool2,flatten"}
    argv = [item for flag, value in flags.items() for item in (f"--{flag}", value) if item is not None]
    config = run_config(parse_args(argv))
    differs = [name for name in RunConfig.__dataclass_fields__ if getattr(config, name) == getattr(RunConfig(), name)]
    assert differs == []


def test_optimisers_match_their_names():
    assert isinstance(PRESETS["quick-start"].config.build_optimizer(), SGD)
    assert isinstance(RunConfig(optimizer="adam", learning_rate=1e-3).build_optimizer(), Adam)


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


def test_tested_optimisers_come_from_the_three_descents_preset_and_failing_steps_are_named():
    from scratchnet.presets import divergence_warning, effective_step, tested_optimiser

    assert [tested_optimiser(d)["learning_rate"] for d in ("full", "mini", "sgd")] == [0.3, 0.1, 0.01]
    quick = PRESETS["quick-start"].config
    assert effective_step(quick) == pytest.approx(0.5) and effective_step(quick.replace(optimizer="adam")) is None
    # the issue's case: Stochastic clicked on Quick start keeps momentum 0.9 and lr 0.05
    assert "momentum 0.9 and learning rate 0.05" in divergence_warning(quick.replace(descent="sgd"))
    for name in PRESETS:  # every preset, and every descent's tested settings, is free of warnings
        assert divergence_warning(PRESETS[name].config) is None
    for descent in ("full", "mini", "sgd"):
        assert divergence_warning(quick.replace(descent=descent, **tested_optimiser(descent))) is None
    assert divergence_warning(quick.replace(descent="mini", optimizer="sgd", learning_rate=2.0)) is not None
    assert divergence_warning(quick.replace(descent="sgd", optimizer="adam", learning_rate=0.05)) is None
