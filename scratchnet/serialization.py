"""Save and load models as one ``.npz``: a JSON config plus the weights, never a pickle.

The archive holds ``__config__`` (the UTF-8 bytes of a JSON document, as a uint8 array) and one
array per parameter under its dotted name. The JSON has ``format``, ``version``, the model's
``get_config()`` under ``model``, and free-form ``metadata`` (dataset, class names, history).
Saving writes a temporary file beside the target and renames it over the target (see ``files``),
so a crash or a full disk mid-save leaves the previous file intact.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelFileError
from .files import open_regular, read_npy_member, write_atomically
from .initializers import INITIALIZERS
from .layers import LAYER_TYPES
from .network import Sequential

FORMAT = "scratchnet-model"
VERSION = 1
CONFIG_KEY = "__config__"
SUFFIX = ".npz"
MAX_FEATURES = 1 << 20  # a Dense side wider than this is not a file of ours
MAX_PARAMETERS = 200_000_000  # 800 MB of float32: refuse before allocating anything larger
MAX_LAYERS = 1000
MAX_CONFIG_BYTES = 4 << 20  # the JSON config and metadata; ours take a few kB
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_WEIGHT_DTYPES = ("float32", "float64")
# settings each layer type must have and may have, besides "type"
_LAYER_SETTINGS = {
    "Dense": ({"in_features", "out_features"}, {"init", "dtype"}),
    "LeakyReLU": (set(), {"alpha"}),
    "Dropout": ({"rate"}, set()),
    "ReLU": (set(), set()),
    "Sigmoid": (set(), set()),
    "Tanh": (set(), set()),
    "Conv2D": ({"in_channels", "out_channels", "kernel_size"}, {"stride", "padding", "init", "dtype"}),
    "MaxPool2D": ({"kernel_size"}, {"stride"}),
    "Flatten": (set(), set()),
    "Reshape": ({"shape"}, set()),
}
MAX_KERNEL = 256  # a kernel, stride or padding larger than this is not a file of ours
assert set(_LAYER_SETTINGS) == set(LAYER_TYPES)


@dataclass
class LoadedModel:
    model: Sequential
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Weight:
    shape: tuple[int, ...]
    dtype: np.dtype


def with_model_suffix(path: str | os.PathLike) -> Path:
    """``path`` with ``.npz`` added when it has no such suffix (``digits`` -> ``digits.npz``)."""
    path = Path(path)
    return path if path.suffix.lower() == SUFFIX else path.with_name(path.name + SUFFIX)


def save_model(model: Sequential, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``model`` (and JSON-able ``metadata``) to ``path`` atomically (see ``files``).
    Raises ``SaveError`` naming ``path``; the previous file is then unchanged."""
    document = {"format": FORMAT, "version": VERSION, "model": model.get_config(), "metadata": metadata or {}}
    config_bytes = json.dumps(document, allow_nan=False, default=_json_default).encode("utf-8")
    arrays = {CONFIG_KEY: np.frombuffer(config_bytes, dtype=np.uint8)}
    arrays.update(model.state_dict())
    write_atomically(path, lambda handle: np.savez(handle, **arrays))


def load_model(path: str | os.PathLike) -> Sequential:
    """Read a model saved by ``save_model``. Raises ``ModelFileError`` for anything else."""
    return load_model_file(path).model


def load_model_file(path: str | os.PathLike) -> LoadedModel:
    """Read a model and its metadata. Raises ``ModelFileError`` for anything that is not one.

    Only a regular file is read. Every entry's declared size is checked against what the config
    implies before it is read, so no file, however small, makes this allocate more than the
    model it describes; the config itself is capped at ``MAX_CONFIG_BYTES``.
    """
    path = Path(path)
    name = path.name or str(path)
    with open_regular(path, ModelFileError, name) as handle:
        try:
            if not zipfile.is_zipfile(handle):
                raise ModelFileError(f"{name}: not a scratchnet model (not a .npz archive)")
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                document, state = _read_archive(name, archive)
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{name}: corrupt archive ({exc or type(exc).__name__})") from None
        except (RuntimeError, NotImplementedError) as exc:  # zipfile: encrypted, unknown compression
            raise ModelFileError(f"{name}: unsupported archive ({exc or type(exc).__name__})") from None
    try:
        model = Sequential.from_config(document["model"], rng=np.random.default_rng(0))
        model.load_state_dict(state)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{name}: invalid layer settings ({exc})") from None
    if model.is_image_network and model.input_size:
        try:
            model.shapes()  # the image layers' sizes are only known together: check that they fit
        except ValueError as exc:
            raise ModelFileError(f"{name}: the layers do not fit together: {exc}") from None
    return LoadedModel(model, document.get("metadata") or {})


def _read_archive(name: str, archive: zipfile.ZipFile) -> tuple[dict, dict[str, np.ndarray]]:
    members = {}
    for info in archive.infolist():
        key = info.filename.removesuffix(".npy")
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{name}: entry {key!r} is encrypted; refused")
        if info.compress_type not in _COMPRESSIONS:
            raise ModelFileError(f"{name}: entry {key!r} uses zip compression method {info.compress_type}, "
                                 f"not one of {', '.join(_COMPRESSIONS.values())}")
        members[key] = info
    if CONFIG_KEY not in members:
        raise ModelFileError(f"{name}: not a scratchnet model (no {CONFIG_KEY} entry)")
    if members[CONFIG_KEY].file_size > MAX_CONFIG_BYTES:
        raise ModelFileError(f"{name}: the config entry holds {members[CONFIG_KEY].file_size:,} bytes, "
                             f"more than the {MAX_CONFIG_BYTES:,} a model file may use")
    raw = _read_npy(name, archive, members[CONFIG_KEY], expected=None)
    document = _parse_config(name, raw)
    expected = _expected_weights(name, document["model"])
    weight_keys = set(members) - {CONFIG_KEY}
    missing = sorted(set(expected) - weight_keys)
    extra = sorted(weight_keys - set(expected))
    if missing:
        raise ModelFileError(f"{name}: weight {missing[0]!r} is missing")
    if extra:
        raise ModelFileError(f"{name}: unexpected entry {extra[0]!r}")
    state = {}
    for key, weight in expected.items():
        value = _read_npy(name, archive, members[key], expected=weight)
        with np.errstate(over="ignore", invalid="ignore"):
            value = value.astype(weight.dtype)
        if not np.isfinite(value).all():
            raise ModelFileError(f"{name}: weight {key!r} holds NaN or infinite values (as {weight.dtype})")
        state[key] = value
    return document, state


def _read_npy(name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, expected: _Weight | None) -> np.ndarray:
    """One ``.npy`` entry: its header is checked (dtype, shape, and the bytes it implies against
    the entry's declared size) before its data is read. ``expected=None``: the JSON config bytes."""

    def check(key: str, shape: tuple, dtype: np.dtype) -> None:
        if dtype.hasobject:
            raise ModelFileError(f"{name}: holds Python objects (a pickle); refused for safety")
        if expected is None:
            if dtype != np.uint8 or len(shape) != 1:
                raise ModelFileError(f"{name}: the config entry is not JSON bytes")
        else:
            if dtype.kind != "f":
                raise ModelFileError(f"{name}: weight {key!r} has dtype {dtype}, expected floats")
            if shape != expected.shape:
                raise ModelFileError(f"{name}: weight {key!r} has shape {shape}, expected {expected.shape}")

    return read_npy_member(archive, info, ModelFileError, name, check)


def _parse_config(name: str, raw: np.ndarray) -> dict:
    try:
        document = json.loads(raw.tobytes().decode("utf-8"))
    except RecursionError:
        raise ModelFileError(f"{name}: the config is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, or an integer of 5,000 digits
        raise ModelFileError(f"{name}: the config is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{name}: not a scratchnet model (unknown format)")
    if document.get("version") != VERSION or isinstance(document.get("version"), bool):
        raise ModelFileError(f"{name}: model file version {document.get('version')!r} is not supported")
    model = document.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("layers"), list) or not model["layers"]:
        raise ModelFileError(f"{name}: the config has no layer list")
    if not isinstance(document.get("metadata", {}), dict):
        raise ModelFileError(f"{name}: the metadata is not a JSON object")
    return document


def _expected_weights(name: str, config: dict) -> dict[str, _Weight]:
    """Check every layer spec, then return the parameters it implies, before allocating."""
    layers = config["layers"]
    if len(layers) > MAX_LAYERS:
        raise ModelFileError(f"{name}: {len(layers):,} layers is more than a model file may hold ({MAX_LAYERS})")
    weights: dict[str, _Weight] = {}
    total = 0
    width = None
    for i, spec in enumerate(layers):
        kind = spec.get("type") if isinstance(spec, dict) else spec
        if not isinstance(kind, str) or kind not in LAYER_TYPES:
            raise ModelFileError(f"{name}: layer {i} has unknown type {_short(kind)}")
        required, optional = _LAYER_SETTINGS[kind]
        settings = set(spec) - {"type"}
        if required - settings:
            raise ModelFileError(f"{name}: layer {i} ({kind}) has no {sorted(required - settings)[0]!r}")
        if settings - required - optional:
            raise ModelFileError(f"{name}: layer {i} ({kind}) has unknown setting "
                                 f"{_short(sorted(settings - required - optional)[0])}")
        if kind in ("Conv2D", "MaxPool2D"):
            for key, low, high in (("in_channels", 1, MAX_FEATURES), ("out_channels", 1, MAX_FEATURES),
                                   ("kernel_size", 1, MAX_KERNEL), ("stride", 1, MAX_KERNEL),
                                   ("padding", 0, MAX_KERNEL)):
                value = spec.get(key, low)
                if key in spec and value is None and kind == "MaxPool2D" and key == "stride":
                    continue
                if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                    raise ModelFileError(f"{name}: layer {i} ({kind}) has an invalid {key} {_short(value)}")
        if kind == "Reshape":
            shape = spec["shape"]
            if (not isinstance(shape, list) or not 1 <= len(shape) <= 3
                    or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_FEATURES for v in shape)
                    or math.prod(shape) > MAX_FEATURES):
                raise ModelFileError(f"{name}: layer {i} (Reshape) has an invalid shape {_short(shape)}")
        if kind == "Conv2D":
            out, k = spec["out_channels"], spec["kernel_size"]
            dtype = spec.get("dtype", "float32")
            if not isinstance(dtype, str) or dtype not in _WEIGHT_DTYPES:
                raise ModelFileError(f"{name}: layer {i} has unsupported dtype {_short(dtype)}")
            if not isinstance(spec.get("init", "he"), str) or spec.get("init", "he") not in INITIALIZERS:
                raise ModelFileError(f"{name}: layer {i} has unknown init {_short(spec.get('init'))}")
            total += out * spec["in_channels"] * k * k + out
            if total > MAX_PARAMETERS:
                raise ModelFileError(f"{name}: the config asks for over {MAX_PARAMETERS:,} parameters; refused")
            weights[f"{i}.W"] = _Weight((out, spec["in_channels"], k, k), np.dtype(dtype))
            weights[f"{i}.b"] = _Weight((out,), np.dtype(dtype))
            width = None
        if kind == "Dense":
            fan_in, fan_out = spec["in_features"], spec["out_features"]
            for value in (fan_in, fan_out):
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_FEATURES:
                    raise ModelFileError(f"{name}: layer {i} has an invalid size {_short(value)}")
            if width is not None and fan_in != width:
                raise ModelFileError(f"{name}: layer {i} takes {fan_in} inputs but receives {width}")
            dtype = spec.get("dtype", "float32")
            if not isinstance(dtype, str) or dtype not in _WEIGHT_DTYPES:
                raise ModelFileError(f"{name}: layer {i} has unsupported dtype {_short(dtype)}")
            if not isinstance(spec.get("init", "he"), str) or spec.get("init", "he") not in INITIALIZERS:
                raise ModelFileError(f"{name}: layer {i} has unknown init {_short(spec.get('init'))}")
            total += fan_in * fan_out + fan_out
            if total > MAX_PARAMETERS:
                raise ModelFileError(f"{name}: the config asks for over {MAX_PARAMETERS:,} parameters; refused")
            weights[f"{i}.W"] = _Weight((fan_in, fan_out), np.dtype(dtype))
            weights[f"{i}.b"] = _Weight((fan_out,), np.dtype(dtype))
            width = fan_out
        for key in ("alpha", "rate"):
            if key in spec:
                value = spec[key]
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
                    raise ModelFileError(f"{name}: layer {i} has an invalid {key} {_short(value)}")
    if width is None:
        raise ModelFileError(f"{name}: the config has no Dense layer")
    return weights


def _short(value) -> str:
    """repr of a value from a file, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in model metadata")


__all__ = ["save_model", "load_model", "load_model_file", "LoadedModel", "with_model_suffix"]
