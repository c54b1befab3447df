"""``scratchnet explain (IMAGE | --test-index N)``: follow one digit forward and backward.

The digit is an image file, read as ``scratchnet predict`` reads it, or a test image of the data set
the model was trained on. ``scratchnet.explain.trace`` runs it through the model (float64, dropout
off) and this prints, for each layer, its shapes and the norms of its output and of the gradients;
then the loss written out, the three most likely classes, and a gradient check: the worst relative
error of ``PER_LAYER`` weights of each Dense layer against central differences. ``--json`` prints
the same as one JSON object.

The loss is the cross-entropy for ``--label K``; without it, for the test label with
``--test-index`` and for the predicted class with an image. Without ``--model`` the default model in
the user cache is used, trained first if missing (as ``predict`` does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scratchnet.data import load_dataset
from scratchnet.errors import ScratchnetError
from scratchnet.explain import Trace, gradient_check, trace

from .args import ArgumentParser, non_negative_int
from .predict import DEFAULT_MODEL_NAME, PredictError, load_or_train_model, printable, read_digit

PROG = "scratchnet explain"
TOP_K = 3
PER_LAYER = 8
SEED = 0  # which weights the gradient check draws: the same ones on every run
ROUNDING_ZONE = 1000  # a gradient below this many resolutions gets a note on rounding


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Follow one digit forward and backward through a model.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("image", type=Path, nargs="?", help="PNG, JPEG, … : dark ink on light paper or the reverse")
    source.add_argument("--test-index", type=non_negative_int, metavar="N",
                        help="test image N of the data set the model was trained on")
    p.add_argument("--label", type=non_negative_int, metavar="K",
                   help="the class of the loss (default: the test label, or the predicted class for an image)")
    p.add_argument("--model", type=Path, help=f"a saved model (default: the cached {DEFAULT_MODEL_NAME})")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        loaded = load_or_train_model(args.model)
        if args.test_index is None:
            x, test_label, source = read_digit(args.image, loaded), None, {"image": str(args.image)}
        else:
            from gui.image_reader import read_grey  # Qt only when a test image may be an image file

            data = load_dataset(loaded.dataset, **loaded.load_options(), read_image=read_grey)
            if args.test_index >= len(data.x_test):
                sys.stderr.write(f"{PROG}: error: --test-index {args.test_index} is out of range: "
                                 f"{data.name} has {len(data.x_test):,} test images (0 to {len(data.x_test) - 1})\n")
                return 2
            x, test_label = data.x_test[args.test_index], int(data.y_test[args.test_index])
            source = {"dataset": data.name, "test_index": args.test_index, "test_label": test_label}
        if args.label is not None and args.label >= loaded.model.output_size:
            sys.stderr.write(f"{PROG}: error: --label {args.label} is not a class of this model "
                             f"(0 to {loaded.model.output_size - 1})\n")
            return 2
        label, label_from = (args.label, "--label") if args.label is not None else (test_label, "test label")
        if label is None:
            label, label_from = trace(loaded.model, x, 0).predicted, "predicted class"
        traced = trace(loaded.model, x, label)
        checks = gradient_check(loaded.model, x, label, per_layer=PER_LAYER, rng=np.random.default_rng(SEED))
    except (PredictError, ScratchnetError) as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    report = _report(traced, checks, loaded.class_names, source, label_from)
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(_text(report))
    return 0


def _norm(array: np.ndarray) -> float:
    return float(np.linalg.norm(array))


def _report(traced: Trace, checks, class_names: list[str], source: dict, label_from: str) -> dict:
    layers = []
    for step in traced.steps:
        entry = {
            "layer": step.layer, "kind": step.kind,
            "input_shape": list(step.input.shape), "output_shape": list(step.output.shape),
            "output_norm": _norm(step.output), "grad_output_norm": _norm(step.grad_output),
            "grad_input_norm": _norm(step.grad_input),
        }
        if step.grads:
            entry["weight_shape"] = list(step.params["W"].shape)
            entry["grad_W_norm"] = _norm(step.grads["W"])
            entry["grad_b_norm"] = _norm(step.grads["b"])
        layers.append(entry)
    worst = max(checks, key=lambda c: c.relative_error)
    return {
        **source,
        "label": traced.label,
        "label_name": class_names[traced.label],
        "label_from": label_from,
        "probability": float(traced.probs[traced.label]),
        "loss": traced.loss,
        "top": [{"class": int(k), "name": class_names[k], "probability": float(traced.probs[k])}
                for k in traced.top(TOP_K)],
        "input_norm": _norm(traced.x),
        "input_grad_norm": _norm(traced.steps[0].grad_input),
        "layers": layers,
        "gradient_check": {
            "weights": len(checks),
            "per_layer": PER_LAYER,
            "worst_relative_error": worst.relative_error,
            "worst": {"layer": worst.layer, "row": worst.row, "column": worst.column,
                      "analytic": worst.analytic, "numeric": worst.numeric},
            "resolution": worst.resolution,
        },
    }


def _text(report: dict) -> str:
    if "image" in report:
        lines = [f"{printable(report['image'])}"]
    else:
        lines = [f"{report['dataset']} test image {report['test_index']} (label {report['test_label']})"]
    lines.append(f"{'layer':<6}{'kind':<10}{'shape':>12}  {'|output|':>10}  {'|dL/doutput|':>12}  {'|dL/dW|':>10}")
    lines.append(f"{'input':<6}{'':<10}{report['layers'][0]['input_shape'][0]:>12}  {report['input_norm']:>10.4g}  "
                 f"{report['input_grad_norm']:>12.4g}  {'':>10}")
    for entry in report["layers"]:
        shape = f"{entry['input_shape'][0]}→{entry['output_shape'][0]}"
        weights = f"{entry['grad_W_norm']:>10.4g}" if "grad_W_norm" in entry else f"{'':>10}"
        lines.append(f"{entry['layer']:<6}{entry['kind']:<10}{shape:>12}  {entry['output_norm']:>10.4g}  "
                     f"{entry['grad_output_norm']:>12.4g}  {weights}")
    name = printable(report["label_name"])
    lines.append(f"loss: -log p({name}) = -log {report['probability']:.4g} = {report['loss']:.4g}  "
                 f"(class {report['label']}: the {report['label_from']})")
    top = ", ".join(f"{printable(t['name'])} {100 * t['probability']:.1f}%" for t in report["top"])
    lines.append(f"top {len(report['top'])}: {top}")
    check = report["gradient_check"]
    worst = check["worst"]
    lines.append(f"gradient check: worst relative error {check['worst_relative_error']:.1e} over "
                 f"{check['weights']} weights ({check['per_layer']} per Dense layer), at layer {worst['layer']} "
                 f"W[{worst['row']}, {worst['column']}]: backprop {worst['analytic']:.6g}, "
                 f"central difference {worst['numeric']:.6g}")
    if abs(worst["analytic"]) < ROUNDING_ZONE * check["resolution"]:
        lines.append(f"  (a gradient this small is near what a central difference resolves, about "
                     f"{check['resolution']:.0e}: rounding of the loss, not backprop, makes that error)")
    return "\n".join(lines) + "\n"

