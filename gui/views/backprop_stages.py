"""The stages the Backprop tab steps through, worked out from a model's layers.

For layers 0 .. L-1 (``model.layers``: Dense, activations, dropout) the diagram has L + 2
columns: the input (column 0), each layer's output (column k is the output of layer k - 1), and
the softmax with the loss (column L + 1). The stages are, in order:

- the input (column 0);
- one forward stage per layer: layer k - 1 fills column k with its output;
- the softmax and the loss (column L + 1);
- one backward stage per layer, from the last to the first: layer i receives dL/d(output) on
  column i + 1 and hands dL/d(input) down to column i (a Dense layer also makes dL/dW and dL/db).

So 2L + 2 stages in all: 4 for softmax regression (one Dense layer), 12 for 784-256-128-10.
"""

from __future__ import annotations

from dataclasses import dataclass

FORWARD = "forward"
LOSS = "loss"
BACKWARD = "backward"

# what each layer kind computes, forward then backward, as the diagram's titles and the stage texts say it
FORMULAS = {
    "Dense": ("z = x·W + b", "dL/dW = xᵀ·δ, dL/db = δ, dL/dx = δ·Wᵀ"),
    "ReLU": ("a = max(0, z)", "dL/dz = dL/da · [z > 0]"),
    "LeakyReLU": ("a = z if z > 0, else α·z", "dL/dz = dL/da · (1 or α)"),
    "Sigmoid": ("a = σ(z) = 1 / (1 + e^−z)", "dL/dz = dL/da · a(1 − a)"),
    "Tanh": ("a = tanh(z)", "dL/dz = dL/da · (1 − a²)"),
    "Dropout": ("a = z (dropout is off outside training)", "dL/dz = dL/da"),
}


@dataclass(frozen=True)
class Stage:
    """One step of the walk. ``layer``: the index in ``model.layers`` it runs (None for the input
    and the loss); ``column``: the diagram column it fills (highlighted); columns up to
    ``values_upto`` show their values, columns from ``gradients_from`` on (None: none) their
    gradients."""

    direction: str
    layer: int | None
    column: int
    values_upto: int
    gradients_from: int | None
    title: str


def layer_title(kind: str, position: int, sizes: tuple[int, int] | None) -> str:
    """"Dense 1 (784→256)", "ReLU", ... ``position``: the Dense layer's number from 1."""
    if kind == "Dense" and sizes is not None:
        return f"Dense {position} ({sizes[0]}→{sizes[1]})"
    return kind


def build_stages(kinds: list[str], titles: list[str]) -> list[Stage]:
    """The 2L + 2 stages for layers of ``kinds`` (type names), each named by ``titles``."""
    count = len(kinds)
    loss_column = count + 1
    stages = [Stage(FORWARD, None, 0, 0, None, "The input: the digit's pixels")]
    for i, (kind, title) in enumerate(zip(kinds, titles, strict=True)):
        formula = FORMULAS.get(kind, ("", ""))[0]
        stages.append(Stage(FORWARD, i, i + 1, i + 1, None, f"Forward through {title}: {formula}"))
    stages.append(Stage(LOSS, None, loss_column, loss_column, None, "Softmax and the loss"))
    for i in range(count - 1, -1, -1):
        formula = FORMULAS.get(kinds[i], ("", ""))[1]
        stages.append(Stage(BACKWARD, i, i, loss_column, i, f"Backward through {titles[i]}: {formula}"))
    return stages


def model_titles(model) -> tuple[list[str], list[str]]:
    """The kinds (type names) and titles of ``model.layers``."""
    kinds, titles, dense = [], [], 0
    for layer in model.layers:
        kind = type(layer).__name__
        sizes = None
        if kind == "Dense":
            dense += 1
            sizes = (layer.in_features, layer.out_features)
        kinds.append(kind)
        titles.append(layer_title(kind, dense, sizes))
    return kinds, titles
