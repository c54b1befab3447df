"""Sequential: a stack of layers, run forwards and then backwards.

Parameters are named ``"<position>.<key>"`` (``"0.W"``, ``"0.b"``, ``"2.W"`` ...), as in a PyTorch
state dict. ``parameters()`` and ``named_grads()`` give the live arrays under those names, so an
optimiser can update them in place.

Training is ``forward``, the loss, ``backward`` and an optimiser step; ``backward`` can hand each
layer to the optimiser as soon as its gradients are ready (``on_grads``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .conv import CONV_LAYER_TYPES, Conv2D, Flatten, MaxPool2D, Reshape
from .initializers import UNDRAWN
from .layers import ACTIVATIONS, LAYER_TYPES, Dense, Dropout, Layer
from .losses import softmax

IMAGE_EVAL_BATCH = 256  # see Sequential.eval_batch

# what Sequential.backward does at a layer
_PARAMS, _IN_PLACE, _PLAIN = "parameters", "in place", "plain"


class Sequential:
    """Layers applied in order. Input (N, in_features) -> logits (N, classes)."""

    def __init__(self, layers: Iterable[Layer]) -> None:
        self.layers: list[Layer] = list(layers)
        self._plans: tuple | None = None  # see _make_plans
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is a {type(layer).__name__}, not a Layer")

    def forward(self, x, training: bool = False) -> np.ndarray:
        """Logits for inputs x: (N, in) or a ``ColumnSparse`` batch -> (N, C); one sample
        (in,) -> (C,). A layer with an in-place option overwrites the output of a layer below it
        that returns new arrays (a ReLU after a Dense layer), which nobody else holds."""
        plans = self._plans
        if plans is None or plans[0] != self.layers:
            plans = self._make_plans()
        for layer, inplace in plans[1]:
            x = layer.forward(x, training, inplace=True) if inplace else layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray, *, input_grad: bool = True, accumulate: bool = False,
                 on_grads: Callable[[int, Layer], None] | None = None) -> np.ndarray | None:
        """Backpropagate dL/dlogits (N, C) through every layer, filling each layer's ``grads``
        (adding to them with ``accumulate``); returns dL/dinput (N, in).

        ``input_grad=False``: nobody needs dL/dinput, so the layers below the first layer with
        parameters are skipped, that layer computes only its own gradients, and None is returned.
        ``on_grads(i, layer)`` is called as soon as layer i's gradients are ready, before the
        layers below it are reached (the "optimizer step in backward" pattern: the gradient
        passed down was computed with the layer's weights of the forward pass).
        """
        plans = self._plans
        if plans is None or plans[0] != self.layers:
            plans = self._make_plans()
        for i, layer, kind, passes_down in plans[2] if input_grad else plans[3]:
            if kind is _PARAMS:
                grad = layer.backward(grad, input_grad=passes_down, accumulate=accumulate)
                if on_grads is not None:
                    on_grads(i, layer)
            elif kind is _IN_PLACE:
                grad = layer.backward(grad, inplace=True)  # the dL/dx that the layer above just made
            else:
                grad = layer.backward(grad)
        return grad if input_grad else None

    def _make_plans(self) -> tuple:
        """What forward and backward do at each layer, worked out once per list of layers (they
        run once per sample in pure SGD), kept in ``_plans``:
        [0] a copy of the list of layers the plans are for;
        [1] forward: (layer, in place) from the first layer up;
        [2] backward to dL/dinput and [3] backward without it: (index, layer, kind, whether the
            layer computes its dL/dx) from the last layer down, [3] stopping at the first layer
            with parameters.
        """
        layers = list(self.layers)
        forward = tuple(
            (layer, layer.in_place_option and i > 0 and layers[i - 1].new_outputs) for i, layer in enumerate(layers)
        )

        def backward(input_grad: bool) -> tuple:
            stop = 0
            if not input_grad:
                while stop < len(layers) and not layers[stop].params:
                    stop += 1
            steps = []
            for i in range(len(layers) - 1, stop - 1, -1):
                layer = layers[i]
                above = layers[i + 1] if i + 1 < len(layers) else None
                if layer.params:
                    kind = _PARAMS
                elif layer.in_place_option and above is not None and above.new_outputs:
                    kind = _IN_PLACE
                else:
                    kind = _PLAIN
                steps.append((i, layer, kind, input_grad or i > stop))
            return tuple(steps)

        self._plans = (layers, forward, backward(True), backward(False))
        return self._plans

    def zero_grad(self) -> None:
        """Set every gradient to zero (before accumulating with ``backward(accumulate=True)``)."""
        for layer in self.layers:
            layer.zero_grad()

    def eval_batch(self, batch_size: int) -> int:
        """How many rows to evaluate at a time, at most ``batch_size``: a network of images takes at
        most ``IMAGE_EVAL_BATCH``, since its activations are many times its inputs (16x24x24 floats
        an image after a first 5x5x16 convolution, 302 MB for 8,192 images; in batches of 256 the
        10,000 MNIST test images took 1.0 s of CPU and +56 MB instead of 2.4 s and +534 MB)."""
        return min(batch_size, IMAGE_EVAL_BATCH) if self.is_image_network else batch_size

    def predict_proba(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Class probabilities (N, C) for inputs (N, features), evaluated in large batches."""
        x = np.atleast_2d(x)
        batch_size = self.eval_batch(batch_size)
        chunks = [softmax(self.forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.output_size), np.float32)

    def predict(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Predicted class indices (N,)."""
        x = np.atleast_2d(x)
        batch_size = self.eval_batch(batch_size)
        out = [np.argmax(self.forward(x[i : i + batch_size]), axis=1) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def parameters(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def named_grads(self) -> dict[str, np.ndarray]:
        """The gradients of the last backward, as arrays, under the parameters' names."""
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

        ``dtype`` overrides every Dense and Conv2D layer's stored dtype (gradient checks use float64).
        ``rng`` ``initializers.UNDRAWN`` leaves the weights uninitialised, for a copy (see ``copy``).
        """
        layers = []
        for i, spec in enumerate(config["layers"]):
            spec = dict(spec)
            kind = spec.pop("type", None)
            if kind not in LAYER_TYPES:
                raise ValueError(f"layer {i}: unknown layer type {kind!r}")
            if kind in ("Dense", "Conv2D"):
                spec["dtype"] = np.dtype(dtype if dtype is not None else spec.get("dtype", "float32"))
                spec["rng"] = rng
            elif kind == "Dropout":
                spec["rng"] = None if rng is UNDRAWN else rng
            layers.append(LAYER_TYPES[kind](**spec))
        return cls(layers)

    def param_count(self) -> int:
        return int(sum(v.size for v in self.parameters().values()))

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def input_size(self) -> int:
        """The number of input features: the first Dense layer's inputs, or for a network of images
        the size of its first ``Reshape`` (a stack that starts with Conv2D takes no flat rows:
        its C·H·W is given by the first layer's channels times an unknown image size, so 0)."""
        for layer in self.layers:
            if isinstance(layer, Reshape):
                return layer.size
            if isinstance(layer, Dense):
                return layer.in_features
            if isinstance(layer, (Conv2D, Flatten, MaxPool2D)):
                return 0
        raise ValueError("the network has no Dense or Reshape layer, so its input size is unknown")

    @property
    def is_image_network(self) -> bool:
        """True when the network has image layers (Conv2D, MaxPool2D, Reshape, Flatten): the views
        that read the first Dense layer's weights as pixels do not apply to it."""
        return any(isinstance(layer, CONV_LAYER_TYPES) for layer in self.layers)

    def shapes(self, input_shape: tuple[int, ...] | None = None) -> list[tuple[int, ...]]:
        """The shape of one sample after each layer, starting from ``input_shape`` (default
        (input_size,)): [input, after layer 0, after layer 1, ...]. Raises ValueError naming the
        first layer that does not fit what it receives, with both shapes."""
        shape = tuple(input_shape) if input_shape is not None else (self.input_size,)
        out = [shape]
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as exc:
                raise ValueError(f"layer {i} ({layer_label(layer)}): {exc}") from None
            out.append(shape)
        return out

    @property
    def output_size(self) -> int:
        return self.dense_layers[-1].out_features

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n])"

    def copy(self, dtype=None) -> Sequential:
        """An independent copy: the same layers and weights, in each layer's dtype or ``dtype``;
        fresh gradients and caches. Training or looking inside the copy never touches this model.
        No weights are drawn only to be overwritten."""
        copy = Sequential.from_config(self.get_config(), rng=UNDRAWN, dtype=dtype)
        copy.load_state_dict(self.parameters())
        return copy


def layer_label(layer: Layer) -> str:
    """A short name for messages: "Conv2D 5x5x8", "MaxPool2D 2", "Dense 128", "ReLU"."""
    if isinstance(layer, Conv2D):
        k = layer.kernel_size
        stride = f" stride {layer.stride}" if layer.stride != 1 else ""
        padding = f" pad {layer.padding}" if layer.padding else ""
        return f"Conv2D {k}x{k}x{layer.out_channels}{stride}{padding}"
    if isinstance(layer, MaxPool2D):
        stride = f" stride {layer.stride}" if layer.stride != layer.kernel_size else ""
        return f"MaxPool2D {layer.kernel_size}{stride}"
    if isinstance(layer, Dense):
        return f"Dense {layer.out_features}"
    if isinstance(layer, Reshape):
        return "Reshape " + "x".join(map(str, layer.shape))
    return type(layer).__name__


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
