"""The words and numbers of the Backprop tab: what each stage did, and one unit's equations with
its numbers plugged in. Every number comes from a ``scratchnet.explain.Trace`` (or its
``UnitEquations``); these functions only choose and format them (HTML for QLabels)."""

from __future__ import annotations

import html

import numpy as np

from scratchnet.explain import SumTerms, Trace, UnitEquations

from .backprop_stages import FORWARD, LOSS, Stage

SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
FUNCTIONS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "Sigmoid": "σ", "Tanh": "tanh", "identity": "identity",
             "Dropout": "identity"}


def num(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, with a true minus sign (and no "−0")."""
    text = f"{value + 0.0:.{digits}g}"  # + 0.0 turns −0.0 (a ReLU's x·[x > 0] of a negative x) into 0.0
    return text.replace("-", "−")


def norm(values: np.ndarray) -> float:
    """The Euclidean length of ``values``, summed by NumPy (a BLAS dot took ms on a busy machine)."""
    return float(np.sqrt(np.sum(np.square(values))))


def sub(k: int) -> str:
    """An index as subscript digits: 7 -> ₇."""
    return str(k).translate(SUBSCRIPTS)


def loss_line(traced: Trace) -> str:
    """"L = −log p₇ = −log 0.831 = 0.185": the loss written out for the traced label."""
    k = traced.label
    return f"L = −log p{sub(k)} = −log {num(float(traced.probs[k]))} = {num(traced.loss)}"


def stage_text(stage: Stage, traced: Trace, titles: list[str], names: list[str]) -> str:
    """What ``stage`` computed, with its numbers (HTML)."""
    if stage.direction == LOSS:
        return _loss_text(traced, names)
    if stage.layer is None:
        inked = int(np.count_nonzero(traced.x))
        return (f"The input: {traced.x.size} pixels x<sub>i</sub> from 0 (black) to 1 (white); {inked} of them "
                "are inked (not 0). They enter the first layer as they are.")
    step = traced.steps[stage.layer]
    title = html.escape(titles[stage.layer])
    if stage.direction == FORWARD:
        return _forward_text(step, title)
    return _backward_text(stage, traced, titles)


def _forward_text(step, title: str) -> str:
    n = step.output.size
    if step.kind == "Dense":
        return (f"<b>{title}</b>: z = x·W + b. Each of its {n} units adds up its {step.input.size} inputs, each "
                f"times its weight, plus its bias. Here z runs from {num(float(step.output.min()))} to "
                f"{num(float(step.output.max()))}. Click a unit to see its sum.")
    if step.kind in ("ReLU", "LeakyReLU"):
        active = int(np.count_nonzero(step.input > 0))
        rule = "a = max(0, z)" if step.kind == "ReLU" else "a = z if z > 0, else α·z"
        rest = "output 0" if step.kind == "ReLU" else "pass only α·z"
        return (f"<b>{title}</b>: {rule}. {active} of {n} units have z &gt; 0 and pass it on; the other "
                f"{n - active} {rest}, and will pass {'no' if step.kind == 'ReLU' else 'only α times the'} "
                "gradient back.")
    if step.kind == "Dropout":
        return f"<b>{title}</b>: off outside training, so a = z: the {n} values pass unchanged."
    squash = "(0, 1)" if step.kind == "Sigmoid" else "(−1, 1)"
    return (f"<b>{title}</b>: squashes each z into {squash}; here a runs from {num(float(step.output.min()))} "
            f"to {num(float(step.output.max()))}.")


def _loss_text(traced: Trace, names: list[str]) -> str:
    predicted = traced.predicted
    verdict = "right" if predicted == traced.label else "wrong"
    return (f"p = softmax(z): p<sub>j</sub> = e<sup>z<sub>j</sub></sup> / Σ<sub>k</sub> e<sup>z<sub>k</sub></sup>. "
            f"The network says <b>{html.escape(_name(names, predicted))}</b> with "
            f"p = {num(float(traced.probs[predicted]))} ({verdict}: the label is "
            f"{html.escape(_name(names, traced.label))}).<br>The loss is the surprise at the right answer: "
            f"<b>{loss_line(traced)}</b>")


def _backward_text(stage: Stage, traced: Trace, titles: list[str]) -> str:
    step = traced.steps[stage.layer]
    title = html.escape(titles[stage.layer])
    delta = norm(step.grad_output)
    below = "the input" if stage.layer == 0 else html.escape(titles[stage.layer - 1])
    last = stage.layer == len(traced.steps) - 1
    arrives = (f"δ = dL/dz = p − onehot({traced.label}) arrives from the loss" if last
               else "δ = dL/d(output) arrives from above")
    if step.kind == "Dense":
        w = step.grads["W"]
        first = stage.layer == 0
        passed = ("dL/dx = δ·Wᵀ is not needed to train (pixels are not parameters); it is shown on the input "
                  "column." if first else f"dL/dx = δ·Wᵀ goes down to {below}.")
        tiles = " Below: one 28×28 tile of dL/dW per unit, the inked pixels times the unit's δ." if (
            first and w.shape[0] == 784) else ""
        return (f"<b>{title}</b>: {arrives} (‖δ‖ = {num(delta)}). dL/dW = xᵀ·δ, {w.shape[0]}×{w.shape[1]} "
                f"(‖dL/dW‖ = {num(norm(w))}): weight W<sub>ij</sub> gets x<sub>i</sub>·δ<sub>j</sub>. "
                f"dL/db = δ. {passed}{tiles}")
    blocked = int(np.count_nonzero(step.slope == 0))
    n = step.output.size
    if step.kind == "ReLU":
        effect = (f"{blocked} of {n} units had z ≤ 0 (relu′ = 0): their gradient stops here; the other "
                  f"{n - blocked} pass δ down unchanged.")
    elif step.kind == "Dropout":
        effect = "Dropout is off outside training: δ passes unchanged."
    else:
        effect = (f"the slope a′(z) scales each δ: from {num(float(step.slope.min()))} to "
                  f"{num(float(step.slope.max()))} here.")
    return f"<b>{title}</b>: {arrives} (‖δ‖ = {num(delta)}). dL/dz = dL/da · a′(z): {effect}"


def _name(names: list[str], k: int) -> str:
    return names[k] if 0 <= k < len(names) else str(k)


# ---------------------------------------------------------------------------------------- one unit


def _terms(sum_terms: SumTerms, left: str, right: str) -> str:
    """"x₄₁₂·W₄₁₂,₃ = 0.98 × 0.31 = 0.304 + … + (the other 779 terms: −0.12)"."""
    parts = [f"{left}{sub(int(i))}·{right.format(i=sub(int(i)))} = {num(float(a))} × {num(float(b))} = {num(float(t))}"
             for i, a, b, t in zip(sum_terms.index, sum_terms.left, sum_terms.right, sum_terms.terms, strict=True)]
    if sum_terms.rest_count:
        parts.append(f"the other {sum_terms.rest_count} terms: {num(sum_terms.rest)}")
    return "<br>+ ".join(parts)


def unit_text(eq: UnitEquations, title: str, label: int) -> str:
    """Unit j of a Dense layer, forward then backward, with its numbers plugged in (HTML)."""
    j = sub(eq.unit)
    function = "softmax" if eq.activation == "softmax" else FUNCTIONS.get(eq.activation, eq.activation)
    lines = [f"<b>{html.escape(title)}, unit {eq.unit}</b>", "<u>Forward</u>",
             f"z{j} = Σ<sub>i</sub> x<sub>i</sub>·W<sub>i{j}</sub> + b{j}, the largest terms first:",
             "&nbsp;&nbsp;" + _terms(eq.weighted, "x", "W{i}," + j),
             f"+ b{j} = {num(eq.bias)}",
             f"z{j} = {num(eq.z)}"]
    if eq.activation == "softmax":
        lines.append(f"p{j} = e<sup>z{j}</sup> / Σ<sub>k</sub> e<sup>z<sub>k</sub></sup> = {num(eq.a)}")
    else:
        lines.append(f"a{j} = {function}(z{j}) = {function}({num(eq.z)}) = {num(eq.a)}")
    lines.append("<u>Backward</u>")
    if eq.upstream is None:
        hit = 1 if eq.unit == label else 0
        lines.append(f"δ{j} = dL/dz{j} = p{j} − [{eq.unit} = {label}] = {num(eq.a)} − {hit} = {num(eq.delta)}")
    else:
        lines += [f"δ{j} = {function}′(z{j}) · Σ<sub>k</sub> W{j}<sub>k</sub>·δ<sub>k</sub>, the largest terms first:",
                  "&nbsp;&nbsp;" + _terms(eq.upstream, "W" + j + ",", "δ{i}"),
                  f"δ{j} = {num(eq.slope)} × {num(eq.upstream.total)} = {num(eq.delta)}"]
    lines += [f"dL/dW<sub>i{j}</sub> = x<sub>i</sub>·δ{j}: {eq.grad_w.size} numbers, the unit's tile "
              f"(‖dL/dW<sub>·{j}</sub>‖ = {num(norm(eq.grad_w))})",
              f"dL/db{j} = δ{j} = {num(eq.grad_b)}"]
    return "<br>".join(lines)


def pixel_text(traced: Trace, pixel: int) -> str:
    """An input pixel: its value and dL/dx_i (HTML)."""
    side = int(round(traced.x.size ** 0.5))
    where = f" (row {pixel // side}, column {pixel % side})" if side * side == traced.x.size else ""
    i = sub(pixel)
    gradient = num(float(traced.steps[0].grad_input[pixel]))
    return (f"<b>Input pixel {pixel}</b>{where}<br>x{i} = {num(float(traced.x[pixel]))}<br>"
            f"dL/dx{i} = Σ<sub>j</sub> W{i}<sub>j</sub>·δ<sub>j</sub> = {gradient}: "
            "how the loss would move if this pixel were brighter. Training never uses it: pixels are not "
            "parameters.")
