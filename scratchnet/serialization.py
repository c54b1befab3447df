"""Save and load models as one ``.npz``: a JSON config plus the weights, never a pickle.

The archive holds ``__config__`` (the UTF-8 bytes of a JSON document, as a uint8 array) and one
array per parameter under its dotted name. The JSON has ``format``, ``version``, the model's
``get_config()`` under ``model``, and free-form ``metadata`` (dataset, class names, history).
Saving writes a temporary file beside the target and renames it over the target, so a crash or
a full disk mid-save leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelFileError
from .layers import LAYER_TYPES
from .network import Sequential

FORMAT = "scratchnet-model"
VERSION = 1
CONFIG_KEY = "__config__"
MAX_FEATURES = 1 << 20  # a Dense side wider than this is not a file of ours
MAX_PARAMETERS = 200_000_000  # 800 MB of float32: refuse before allocating anything larger
MAX_LAYERS = 1000


@dataclass
class LoadedModel:
    model: Sequential
    metadata: dict = field(default_factory=dict)


def save_model(model: Sequential, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``model`` (and JSON-able ``metadata``) to ``path`` atomically."""
    path = Path(path)
    document = {"format": FORMAT, "version": VERSION, "model": model.get_config(), "metadata": metadata or {}}
    config_bytes = json.dumps(document, allow_nan=False, default=_json_default).encode("utf-8")
    arrays = {CONFIG_KEY: np.frombuffer(config_bytes, dtype=np.uint8)}
    arrays.update(model.state_dict())
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def load_model(path: str | os.PathLike) -> Sequential:
    """Read a model saved by ``save_model``. Raises ``ModelFileError`` for anything else."""
    return load_model_file(path).model


def load_model_file(path: str | os.PathLike) -> LoadedModel:
    """Read a model and its metadata, validating everything before allocating the network."""
    path = Path(path)
    name = path.name
    if path.is_dir():
        raise ModelFileError(f"{name}: is a folder, not a model file")
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as exc:
        raise ModelFileError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if not is_zip:
        raise ModelFileError(f"{name}: not a scratchnet model (not a .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if CONFIG_KEY not in keys:
                raise ModelFileError(f"{name}: not a scratchnet model (no {CONFIG_KEY} entry)")
            document = _parse_config(name, archive[CONFIG_KEY])
            layer_config = document["model"]
            expected = _expected_shapes(name, layer_config)
            weight_keys = keys - {CONFIG_KEY}
            missing = sorted(set(expected) - weight_keys)
            extra = sorted(weight_keys - set(expected))
            if missing:
                raise ModelFileError(f"{name}: weight {missing[0]!r} is missing")
            if extra:
                raise ModelFileError(f"{name}: unexpected entry {extra[0]!r}")
            state = {}
            for key, shape in expected.items():
                value = archive[key]
                if value.dtype.kind != "f":
                    raise ModelFileError(f"{name}: weight {key!r} has dtype {value.dtype}, expected floats")
                if value.shape != shape:
                    raise ModelFileError(f"{name}: weight {key!r} has shape {value.shape}, expected {shape}")
                if not np.isfinite(value).all():
                    raise ModelFileError(f"{name}: weight {key!r} holds NaN or infinite values")
                state[key] = value
    except ModelFileError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ModelFileError(f"{name}: holds Python objects (a pickle); refused for safety") from None
        raise ModelFileError(f"{name}: corrupt archive ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ModelFileError(f"{name}: corrupt archive ({exc})") from None
    model = Sequential.from_config(layer_config, rng=np.random.default_rng(0))
    model.load_state_dict(state)
    return LoadedModel(model, document.get("metadata") or {})


def _parse_config(name: str, raw: np.ndarray) -> dict:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{name}: the config entry is not JSON bytes")
    try:
        document = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{name}: the config is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{name}: not a scratchnet model (unknown format)")
    if document.get("version") != VERSION:
        raise ModelFileError(f"{name}: model file version {document.get('version')!r} is not supported")
    model = document.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("layers"), list) or not model["layers"]:
        raise ModelFileError(f"{name}: the config has no layer list")
    if not isinstance(document.get("metadata", {}), dict):
        raise ModelFileError(f"{name}: the metadata is not a JSON object")
    return document


def _expected_shapes(name: str, config: dict) -> dict[str, tuple[int, ...]]:
    """Check every layer spec, then return the parameter shapes it implies, before allocating."""
    layers = config["layers"]
    if len(layers) > MAX_LAYERS:
        raise ModelFileError(f"{name}: {len(layers)} layers is more than a model file may hold")
    shapes: dict[str, tuple[int, ...]] = {}
    total = 0
    width = None
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or spec.get("type") not in LAYER_TYPES:
            kind = spec.get("type") if isinstance(spec, dict) else spec
            raise ModelFileError(f"{name}: layer {i} has unknown type {kind!r}")
        if spec["type"] == "Dense":
            fan_in, fan_out = spec.get("in_features"), spec.get("out_features")
            for value in (fan_in, fan_out):
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_FEATURES:
                    raise ModelFileError(f"{name}: layer {i} has an invalid size {value!r}")
            if width is not None and fan_in != width:
                raise ModelFileError(f"{name}: layer {i} takes {fan_in} inputs but receives {width}")
            if spec.get("dtype", "float32") not in ("float32", "float64"):
                raise ModelFileError(f"{name}: layer {i} has unsupported dtype {spec.get('dtype')!r}")
            if spec.get("init", "he") not in ("he", "xavier", "lecun", "normal"):
                raise ModelFileError(f"{name}: layer {i} has unknown init {spec.get('init')!r}")
            total += fan_in * fan_out + fan_out
            if total > MAX_PARAMETERS:
                raise ModelFileError(f"{name}: the config asks for over {MAX_PARAMETERS:,} parameters; refused")
            shapes[f"{i}.W"] = (fan_in, fan_out)
            shapes[f"{i}.b"] = (fan_out,)
            width = fan_out
        else:
            extra = set(spec) - {"type", "alpha", "rate"}
            if extra:
                raise ModelFileError(f"{name}: layer {i} has unknown setting {sorted(extra)[0]!r}")
            for key in ("alpha", "rate"):
                if key in spec:
                    value = spec[key]
                    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
                        raise ModelFileError(f"{name}: layer {i} has an invalid {key} {value!r}")
    if width is None:
        raise ModelFileError(f"{name}: the config has no Dense layer")
    return shapes


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in model metadata")


__all__ = ["save_model", "load_model", "load_model_file", "LoadedModel"]
