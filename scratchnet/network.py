"""Sequential: a stack of layers, run forwards and then backwards.

Parameters are named ``"<position>.<key>"`` (``"0.W"``, ``"0.b"``, ``"2.W"`` ...), as in a PyTorch
state dict. ``parameters()`` and ``named_grads()`` give the live arrays under those names, so an
optimiser can update them in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .layers import ACTIVATIONS, LAYER_TYPES, Dense, Dropout, Layer
from .losses import softmax


class Sequential:
    """Layers applied in order. Input (N, in_features) -> logits (N, classes)."""

    def __init__(self, layers: Iterable[Layer]) -> None:
        self.layers: list[Layer] = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is a {type(layer).__name__}, not a Layer")

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """Backpropagate dL/dlogits; fills every layer's ``grads`` and returns dL/dinput."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def predict_proba(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Class probabilities (N, C) for inputs (N, features), evaluated in large batches."""
        x = np.atleast_2d(x)
        chunks = [softmax(self.forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.output_size), np.float32)

    def predict(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Predicted class indices (N,)."""
        x = np.atleast_2d(x)
        out = [np.argmax(self.forward(x[i : i + batch_size]), axis=1) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def parameters(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def named_grads(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters under their dotted names."""
        return {name: value.copy() for name, value in self.parameters().items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the parameters. Names and shapes must match exactly."""
        params = self.parameters()
        missing = sorted(set(params) - set(state))
        extra = sorted(set(state) - set(params))
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise KeyError(f"state dict is missing {missing[0]!r}{more}")
        if extra:
            raise KeyError(f"state dict has unexpected key {extra[0]!r}")
        for name, target in params.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"{name!r} has shape {value.shape}, the model expects {target.shape}")
        for name, target in params.items():
            target[...] = state[name]

    def get_config(self) -> dict:
        return {"layers": [layer.get_config() for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict, rng: np.random.Generator | None = None, dtype=None) -> Sequential:
        """Rebuild the architecture (fresh weights) from ``get_config()`` data.

        ``dtype`` overrides every Dense layer's stored dtype (gradient checks use float64).
        """
        layers = []
        for i, spec in enumerate(config["layers"]):
            spec = dict(spec)
            kind = spec.pop("type", None)
            if kind not in LAYER_TYPES:
                raise ValueError(f"layer {i}: unknown layer type {kind!r}")
            if kind == "Dense":
                spec["dtype"] = np.dtype(dtype if dtype is not None else spec.get("dtype", "float32"))
                spec["rng"] = rng
            elif kind == "Dropout":
                spec["rng"] = rng
            layers.append(LAYER_TYPES[kind](**spec))
        return cls(layers)

    def param_count(self) -> int:
        return int(sum(v.size for v in self.parameters().values()))

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def input_size(self) -> int:
        return self.dense_layers[0].in_features

    @property
    def output_size(self) -> int:
        return self.dense_layers[-1].out_features

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n])"

    def copy(self) -> Sequential:
        """An independent copy: the same layers (each Dense keeps its dtype) and weights; fresh
        gradients and caches. Training or looking inside the copy never touches this model."""
        copy = Sequential.from_config(self.get_config())
        copy.load_state_dict(self.state_dict())
        return copy


def mlp(
    input_size: int,
    hidden: Sequence[int],
    output_size: int,
    *,
    activation: str = "relu",
    init: str = "he",
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
    dtype=np.float32,
) -> Sequential:
    """A multi-layer perceptron: Dense -> activation (-> Dropout) for each hidden width, then a
    Dense output layer producing logits. An empty ``hidden`` gives softmax regression."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    rng = rng if rng is not None else np.random.default_rng()
    layers: list[Layer] = []
    fan_in = input_size
    for width in hidden:
        layers.append(Dense(fan_in, width, init=init, rng=rng, dtype=dtype))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(Dropout(dropout, rng=rng))
        fan_in = width
    layers.append(Dense(fan_in, output_size, init=init, rng=rng, dtype=dtype))
    return Sequential(layers)
