"""RunConfig: one description of a run, checked field by field, round-tripped through JSON, and
building the same model, optimiser and TrainConfig as the engine's own constructors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchnet.augment import Augmenter
from scratchnet.layers import Dropout, ReLU, Sigmoid, Tanh
from scratchnet.network import mlp
from scratchnet.optimizers import SGD, Adam
from scratchnet.run_config import (
    FIELDS,
    HiddenLayer,
    RunConfig,
    config_from_metadata,
    hidden_layers,
    model_metadata,
)
from scratchnet.serialization import load_model_file, save_model
from scratchnet.training import TrainConfig

EVERY_FIELD_CHANGED = RunConfig(
    hidden=(HiddenLayer(32, "tanh"), HiddenLayer(16, "sigmoid")), init="xavier", dropout=0.25, optimizer="adam",
    learning_rate=0.003, momentum=0.5, weight_decay=0.01, descent="sgd", batch_size=7, epochs=2, schedule="step",
    seed=9, augment=True, dataset="fashion-mnist", train_size=100, layers=("conv3x3x4", "relu", "pool2", "flatten"),
)


def test_the_example_changes_every_field():
    assert all(getattr(EVERY_FIELD_CHANGED, name) != getattr(RunConfig(), name) for name in FIELDS)


def test_json_and_dict_round_trip_every_field():
    text = EVERY_FIELD_CHANGED.to_json()
    assert RunConfig.from_json(text) == EVERY_FIELD_CHANGED
    data = json.loads(text)
    assert data["hidden"] == [{"width": 32, "activation": "tanh"}, {"width": 16, "activation": "sigmoid"}]
    assert data["learning_rate"] == 0.003 and "lr" not in data
    assert RunConfig.from_dict(EVERY_FIELD_CHANGED.to_dict()) == EVERY_FIELD_CHANGED


def test_missing_fields_come_from_the_base():
    assert RunConfig.from_dict({"epochs": 4}) == RunConfig(epochs=4)
    assert RunConfig.from_dict({"epochs": 4}, base=EVERY_FIELD_CHANGED) == EVERY_FIELD_CHANGED.replace(epochs=4)


@pytest.mark.parametrize("field, value, message", [
    ("lr", 0.1, "unknown run configuration field 'lr'"),
    ("learning_rate", 0.0, "learning_rate must be a number above 0"),
    ("learning_rate", float("nan"), "learning_rate must be a number above 0"),
    ("learning_rate", "0.1", "learning_rate must be a number"),
    ("momentum", 1.0, "momentum must be a number at least 0 and below 1"),
    ("weight_decay", -0.1, "weight_decay must be a number at least 0"),
    ("dropout", 1.0, "dropout must be a number at least 0 and below 1"),
    ("batch_size", 0, "batch_size must be a whole number at least 1"),
    ("batch_size", True, "batch_size must be a whole number"),
    ("epochs", 2.5, "epochs must be a whole number"),
    ("seed", -1, "seed must be a whole number at least 0"),
    ("train_size", 0, "train_size must be a whole number at least 1"),
    ("descent", "newton", "descent must be one of full, mini, sgd"),
    ("optimizer", "lbfgs", "optimizer must be one of"),
    ("schedule", "warm", "schedule must be one of"),
    ("init", "zeros", "init must be one of"),
    ("augment", "yes", "augment must be true or false"),
    ("dataset", "", "dataset must be"),
    ("hidden", "128", "hidden must be a list of layers"),
    ("hidden", [{"width": 0, "activation": "relu"}], "hidden width must be a whole number from 1 to 4096"),
    ("hidden", [{"width": 8, "activation": "swish"}], "hidden activation must be one of"),
    ("hidden", [{"width": 8, "colour": "red"}], "hidden layer 0 must be"),
])
def test_bad_values_raise_a_value_error_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        RunConfig.from_dict({field: value})


def test_bad_documents_raise_value_errors():
    for text in ("{not json", "[1, 2]", "42"):
        with pytest.raises(ValueError):
            RunConfig.from_json(text)
    with pytest.raises(ValueError, match="learning_rate"):
        RunConfig(learning_rate=-1)


def test_it_builds_what_mlp_make_optimizer_and_train_config_build():
    config = RunConfig(hidden=hidden_layers(64, 32, activation="tanh"), init="xavier", dropout=0.2, seed=3,
                       optimizer="adam", learning_rate=0.01, descent="mini", batch_size=16, epochs=3,
                       schedule="cosine")
    model = config.build_model(784, 10)
    reference = mlp(784, [64, 32], 10, activation="tanh", init="xavier", dropout=0.2, rng=np.random.default_rng(3))
    assert model.get_config() == reference.get_config()
    for name, value in reference.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], value)
    optimizer = config.build_optimizer()
    assert isinstance(optimizer, Adam) and optimizer.lr == 0.01
    assert config.train_config() == TrainConfig(descent="mini", batch_size=16, epochs=3, seed=3, schedule="cosine")
    assert config.train_config(log_interval=0.5).log_interval == 0.5
    assert config.build_augmenter() is None and isinstance(config.replace(augment=True).build_augmenter(), Augmenter)
    momentum = RunConfig(optimizer="momentum", momentum=0.7).build_optimizer()
    assert isinstance(momentum, SGD) and momentum.momentum == 0.7


def test_each_hidden_layer_keeps_its_activation_and_the_seeded_weights():
    config = RunConfig(hidden=(HiddenLayer(20, "relu"), HiddenLayer(20, "sigmoid"), HiddenLayer(10, "tanh")),
                       dropout=0.1, seed=5)
    model = config.build_model(30, 4)
    assert [type(layer) for layer in model.layers[1::3]] == [ReLU, Sigmoid, Tanh]
    assert all(isinstance(layer, Dropout) for layer in model.layers[2::3])
    uniform = RunConfig(hidden=hidden_layers(20, 20, 10), dropout=0.1, seed=5).build_model(30, 4)
    for name, value in uniform.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], value)
    assert config.describes(model) and not uniform_config_describes(model)
    assert RunConfig().with_architecture_of(model) == RunConfig().replace(hidden=config.hidden, dropout=0.1)


def uniform_config_describes(model) -> bool:
    return RunConfig(hidden=hidden_layers(20, 20, 10), dropout=0.1).describes(model)


def test_train_size_none_means_every_image():
    assert RunConfig().n_train(500) == 500
    assert RunConfig(train_size=100).n_train(500) == 100
    assert RunConfig(train_size=1000).n_train(500) == 500


def test_saved_model_metadata_carries_the_configuration(tmp_path):
    config = EVERY_FIELD_CHANGED
    model = config.build_model(784, 10)
    save_model(model, tmp_path / "m.npz", model_metadata(config, [str(i) for i in range(10)], note="hi"))
    metadata = load_model_file(tmp_path / "m.npz").metadata
    assert metadata["dataset"] == "fashion-mnist" and metadata["class_names"][3] == "3" and metadata["note"] == "hi"
    assert config_from_metadata(metadata, RunConfig()) == config


def test_metadata_in_the_format_saved_before_run_configurations_still_loads():
    """What the window wrote into model files until now: "network" and "training" objects."""
    metadata = {
        "network": {"hidden": [{"width": 128, "activation": "relu"}, {"width": 40, "activation": "tanh"}],
                    "init": "he", "dropout": 0.0, "seed": 11},
        "training": {"descent": "mini", "batch_size": 64, "optimizer": "momentum", "learning_rate": 0.02,
                     "momentum": 0.9, "weight_decay": 0.0, "schedule": "cosine", "epochs": 3, "train_size": 1000,
                     "dataset": "mnist", "augment": False},
        "dataset": "mnist", "class_names": [str(i) for i in range(10)],
    }
    config = config_from_metadata(metadata, RunConfig())
    assert config == RunConfig(hidden=(HiddenLayer(128), HiddenLayer(40, "tanh")), seed=11, learning_rate=0.02,
                               schedule="cosine", epochs=3, train_size=1000)
    # the command line saved only the data set that a window can use
    cli = {"dataset": "mnist", "class_names": [], "note": "", "cli_args": {"lr": 0.5}}
    assert config_from_metadata(cli, EVERY_FIELD_CHANGED) == EVERY_FIELD_CHANGED.replace(dataset="mnist")
    with pytest.raises(ValueError, match="metadata 'network' must be a JSON object"):
        config_from_metadata({"network": "128 relu"}, RunConfig())


def test_layers_build_the_stack_and_a_model_gives_its_tokens_back():
    config = RunConfig(layers="conv5x5x6p2,relu,pool2,conv5x5x16,relu,pool2,flatten,dense120,relu,dropout0.25")
    assert config.layers[0] == "conv5x5x6p2" and RunConfig.from_json(config.to_json()) == config
    model = config.build_model(784, 10)
    assert [type(layer).__name__ for layer in model.layers[:4]] == ["Reshape", "Conv2D", "ReLU", "MaxPool2D"]
    assert model.shapes()[-1] == (10,) and model.layers[-1].out_features == 10
    np.testing.assert_array_equal(config.build_model(784, 10).layers[1].params["W"], model.layers[1].params["W"])
    assert config.describes(model) and RunConfig().with_architecture_of(model).layers == config.layers
    assert not RunConfig().describes(model)
    assert RunConfig().with_architecture_of(mlp(784, [16], 10)).layers == ()
    with pytest.raises(ValueError, match="unknown layer 'conv5'"):
        RunConfig(layers=("conv5",))
    with pytest.raises(ValueError, match="layer 3 'conv9x9x8': Conv2D kernel 9x9 is larger than its input 6x8x8"):
        RunConfig(layers="conv5x5x6,pool3,conv9x9x8,flatten").build_model(784, 10)
