"""Saving and loading models: round trips, atomic saves, and every way a model file can be wrong."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

from scratchnet import serialization
from scratchnet.errors import ModelFileError
from scratchnet.network import mlp
from scratchnet.serialization import CONFIG_KEY, load_model, load_model_file, save_model


@pytest.fixture
def model():
    return mlp(12, [8, 6], 4, dropout=0.2, activation="tanh", init="xavier", rng=np.random.default_rng(0))


def _write_npz(path, arrays, allow_pickle=False):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


def _document(net, **overrides):
    doc = {"format": "scratchnet-model", "version": 1, "model": net.get_config(), "metadata": {}}
    doc.update(overrides)
    return np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)


def test_round_trip_keeps_weights_architecture_and_metadata(tmp_path, model):
    path = tmp_path / "m.npz"
    save_model(model, path, {"dataset": "mnist", "accuracy": np.float32(0.97)})
    loaded = load_model_file(path)
    assert loaded.model.get_config() == model.get_config()
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(loaded.model.parameters()[name], value)
    assert loaded.metadata["dataset"] == "mnist"
    x = np.random.default_rng(1).standard_normal((5, 12)).astype(np.float32)
    np.testing.assert_array_equal(load_model(path).predict_proba(x), model.predict_proba(x))


def test_save_leaves_no_temporary_files(tmp_path, model):
    save_model(model, tmp_path / "m.npz")
    save_model(model, tmp_path / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


class TestAtomicSave:
    def test_a_failed_write_keeps_the_previous_file(self, tmp_path, model, monkeypatch):
        path = tmp_path / "m.npz"
        save_model(model, path)
        before = path.read_bytes()
        other = mlp(12, [8, 6], 4, dropout=0.2, activation="tanh", init="xavier", rng=np.random.default_rng(9))

        real_savez = np.savez

        def failing_savez(handle, **arrays):
            real_savez(handle, **arrays)
            handle.seek(handle.tell() // 2)
            handle.truncate()
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(serialization.np, "savez", failing_savez)
        with pytest.raises(OSError, match="cannot save to .*m.npz: the disk is full"):
            save_model(other, path)
        assert path.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
        load_model(path)

    def test_a_crash_before_the_rename_keeps_the_previous_file(self, tmp_path, model, monkeypatch):
        path = tmp_path / "m.npz"
        save_model(model, path)
        before = path.read_bytes()

        def crash(*args):
            raise KeyboardInterrupt

        monkeypatch.setattr(serialization.os, "replace", crash)
        with pytest.raises(KeyboardInterrupt):
            save_model(model, path, {"note": "changed"})
        assert path.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


class TestMalformedModelFiles:
    def test_not_a_zip(self, tmp_path):
        path = tmp_path / "m.npz"
        path.write_bytes(b"hello, not a model")
        with pytest.raises(ModelFileError, match="m.npz: not a scratchnet model"):
            load_model(path)

    def test_empty_file(self, tmp_path):
        path = tmp_path / "m.npz"
        path.write_bytes(b"")
        with pytest.raises(ModelFileError, match="not a scratchnet model"):
            load_model(path)

    def test_missing_file_and_folder(self, tmp_path):
        with pytest.raises(ModelFileError):
            load_model(tmp_path / "nope.npz")
        with pytest.raises(ModelFileError, match="folder"):
            load_model(tmp_path)

    def test_zip_without_config(self, tmp_path, model):
        path = _write_npz(tmp_path / "m.npz", model.state_dict())
        with pytest.raises(ModelFileError, match=CONFIG_KEY):
            load_model(path)

    def test_plain_zip_of_text(self, tmp_path):
        path = tmp_path / "m.npz"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hi")
        with pytest.raises(ModelFileError):
            load_model(path)

    def test_config_not_json(self, tmp_path, model):
        arrays = {CONFIG_KEY: np.frombuffer(b"{not json", dtype=np.uint8), **model.state_dict()}
        with pytest.raises(ModelFileError, match="not valid JSON"):
            load_model(_write_npz(tmp_path / "m.npz", arrays))

    def test_config_of_the_wrong_format(self, tmp_path, model):
        arrays = {CONFIG_KEY: _document(model, format="keras"), **model.state_dict()}
        with pytest.raises(ModelFileError, match="unknown format"):
            load_model(_write_npz(tmp_path / "m.npz", arrays))

    def test_absurd_sizes_are_refused_before_allocating(self, tmp_path, model):
        config = model.get_config()
        config["layers"][0]["out_features"] = 1_000_000_000
        arrays = {CONFIG_KEY: _document(model, model=config), **model.state_dict()}
        with pytest.raises(ModelFileError, match="invalid size"):
            load_model(_write_npz(tmp_path / "m.npz", arrays))
        config["layers"][0]["out_features"] = 1 << 20
        config["layers"][3]["in_features"] = 1 << 20
        config["layers"][3]["out_features"] = 1 << 20
        arrays = {CONFIG_KEY: _document(model, model=config), **model.state_dict()}
        with pytest.raises(ModelFileError, match="parameters; refused"):
            load_model(_write_npz(tmp_path / "m.npz", arrays))

    def test_unknown_layer_type(self, tmp_path, model):
        config = model.get_config()
        config["layers"][1] = {"type": "Conv3D"}
        arrays = {CONFIG_KEY: _document(model, model=config), **model.state_dict()}
        with pytest.raises(ModelFileError, match="unknown type"):
            load_model(_write_npz(tmp_path / "m.npz", arrays))

    def test_missing_weight_key(self, tmp_path, model):
        state = model.state_dict()
        del state["6.b"]
        with pytest.raises(ModelFileError, match=r"'6\.b' is missing"):
            load_model(_write_npz(tmp_path / "m.npz", {CONFIG_KEY: _document(model), **state}))

    def test_extra_weight_key(self, tmp_path, model):
        state = model.state_dict()
        state["9.W"] = np.zeros((2, 2), np.float32)
        with pytest.raises(ModelFileError, match=r"unexpected entry '9\.W'"):
            load_model(_write_npz(tmp_path / "m.npz", {CONFIG_KEY: _document(model), **state}))

    def test_wrong_shape(self, tmp_path, model):
        state = model.state_dict()
        state["0.W"] = np.zeros((12, 9), np.float32)
        with pytest.raises(ModelFileError, match=r"'0\.W' has shape \(12, 9\), expected \(12, 8\)"):
            load_model(_write_npz(tmp_path / "m.npz", {CONFIG_KEY: _document(model), **state}))

    def test_nan_weights(self, tmp_path, model):
        state = model.state_dict()
        state["0.W"][0, 0] = np.nan
        with pytest.raises(ModelFileError, match="NaN"):
            load_model(_write_npz(tmp_path / "m.npz", {CONFIG_KEY: _document(model), **state}))

    def test_object_arrays_are_refused_not_unpickled(self, tmp_path, model, monkeypatch):
        import pickle

        state = model.state_dict()
        state["0.W"] = np.array([{"evil": 1}], dtype=object)
        path = tmp_path / "m.npz"
        np.savez(path, **{CONFIG_KEY: _document(model)}, **state)
        called = []
        monkeypatch.setattr(pickle, "loads", lambda *a, **k: called.append(1))
        monkeypatch.setattr(pickle, "load", lambda *a, **k: called.append(1))
        with pytest.raises(ModelFileError, match="pickle"):
            load_model(path)
        assert not called

    def test_integer_weights(self, tmp_path, model):
        state = model.state_dict()
        state["0.b"] = np.zeros(8, np.int64)
        with pytest.raises(ModelFileError, match="dtype"):
            load_model(_write_npz(tmp_path / "m.npz", {CONFIG_KEY: _document(model), **state}))

    def test_truncated_archive(self, tmp_path, model):
        path = tmp_path / "m.npz"
        save_model(model, path)
        data = path.read_bytes()
        for cut in (len(data) // 3, len(data) - 30):
            path.write_bytes(data[:cut])
            with pytest.raises(ModelFileError):
                load_model(path)

    def test_unreadable_file(self, tmp_path, model):
        if os.geteuid() == 0:
            pytest.skip("root reads every file")
        path = tmp_path / "m.npz"
        save_model(model, path)
        path.chmod(0)
        with pytest.raises(ModelFileError):
            load_model(path)
