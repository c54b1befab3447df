"""`scratchnet explain (IMAGE | --test-index N)`: its numbers against backprop written out by hand
for a 784-64-10 ReLU network; bad input exits with a one-line message."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_predict_cli import save_grey, upscaled

from cli import run_cli
from cli.explain import PER_LAYER
from cli.predict import DEFAULT_MODEL_NAME
from scratchnet.network import mlp
from scratchnet.preprocess import prepare_drawing
from scratchnet.serialization import save_model

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("private_cache")


def by_hand(model, x, label):
    """Forward and backward of Dense-ReLU-Dense written out: each layer's (output, dL/doutput,
    dL/dinput), dL/dW of both Dense layers, the probabilities and the loss."""
    (w1, b1), (w2, b2) = [(d.params["W"].astype(np.float64), d.params["b"].astype(np.float64))
                          for d in model.dense_layers]
    x = x.astype(np.float64)
    z1 = x @ w1 + b1
    h = np.maximum(z1, 0)
    logits = h @ w2 + b2
    e = np.exp(logits - logits.max())
    p = e / e.sum()
    d_logits = p - np.eye(10)[label]
    d_h = w2 @ d_logits
    d_z1 = d_h * (z1 > 0)
    d_x = w1 @ d_z1
    layers = [(z1, d_z1, d_x), (h, d_h, d_z1), (logits, d_logits, d_h)]
    return layers, [np.outer(x, d_z1), np.outer(h, d_logits)], p, -np.log(p[label])


def explain_json(capsys, *args) -> dict:
    assert run_cli(["explain", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_test_digit_numbers_are_those_of_backprop_by_hand(mnist, saved_digit_model, capsys):
    model, path = saved_digit_model
    report = explain_json(capsys, "--test-index", 3, "--model", path)
    label = int(mnist.y_test[3])
    assert (report["dataset"], report["test_index"], report["test_label"]) == ("mnist", 3, label)
    assert (report["label"], report["label_from"]) == (label, "test label")
    layers, weight_grads, p, loss = by_hand(model, mnist.x_test[3], label)
    assert report["loss"] == pytest.approx(loss, rel=1e-9)
    assert report["probability"] == pytest.approx(p[label], rel=1e-9)
    assert [t["class"] for t in report["top"]] == list(np.argsort(-p)[:3])
    for t in report["top"]:
        assert t["probability"] == pytest.approx(p[t["class"]], rel=1e-9)
    assert report["input_norm"] == pytest.approx(np.linalg.norm(mnist.x_test[3]), rel=1e-9)
    assert report["input_grad_norm"] == pytest.approx(np.linalg.norm(layers[0][2]), rel=1e-9)
    assert [e["kind"] for e in report["layers"]] == ["Dense", "ReLU", "Dense"]
    assert [(e["input_shape"], e["output_shape"]) for e in report["layers"]] == [([784], [64]), ([64], [64]),
                                                                                 ([64], [10])]
    for entry, (output, grad_output, grad_input) in zip(report["layers"], layers, strict=True):
        assert entry["output_norm"] == pytest.approx(np.linalg.norm(output), rel=1e-9)
        assert entry["grad_output_norm"] == pytest.approx(np.linalg.norm(grad_output), rel=1e-9)
        assert entry["grad_input_norm"] == pytest.approx(np.linalg.norm(grad_input), rel=1e-9)
    dense = [e for e in report["layers"] if e["kind"] == "Dense"]
    for entry, grad in zip(dense, weight_grads, strict=True):
        assert entry["grad_W_norm"] == pytest.approx(np.linalg.norm(grad), rel=1e-9)
        assert entry["weight_shape"] == list(grad.shape)
    check = report["gradient_check"]
    assert check["weights"] == 2 * PER_LAYER
    worst = check["worst"]
    assert worst["analytic"] == pytest.approx(weight_grads[worst["layer"] // 2][worst["row"], worst["column"]],
                                              rel=1e-9, abs=1e-15)
    assert check["worst_relative_error"] < 1e-3


def test_text_output(mnist, saved_digit_model, capsys):
    _, path = saved_digit_model
    assert run_cli(["explain", "--test-index", "3", "--model", str(path)]) == 0
    text = capsys.readouterr().out
    report = explain_json(capsys, "--test-index", 3, "--model", path)
    lines = text.splitlines()
    assert lines[0] == f"mnist test image 3 (label {mnist.y_test[3]})"
    assert lines[2].split() == ["input", "784", f"{report['input_norm']:.4g}", f"{report['input_grad_norm']:.4g}"]
    first = report["layers"][0]
    assert lines[3].split() == ["0", "Dense", "784→64", f"{first['output_norm']:.4g}",
                                f"{first['grad_output_norm']:.4g}", f"{first['grad_W_norm']:.4g}"]
    assert lines[4].split()[:3] == ["1", "ReLU", "64→64"]
    label = report["label"]
    assert lines[6] == (f"loss: -log p({label}) = -log {report['probability']:.4g} = {report['loss']:.4g}  "
                        f"(class {label}: the test label)")
    assert lines[7] == "top 3: " + ", ".join(f"{t['name']} {100 * t['probability']:.1f}%" for t in report["top"])
    assert lines[8].startswith(f"gradient check: worst relative error "
                               f"{report['gradient_check']['worst_relative_error']:.1e} over 16 weights")


def test_image_uses_the_predicted_class_unless_a_label_is_given(tmp_path, mnist, saved_digit_model, capsys):
    model, path = saved_digit_model
    image = save_grey(tmp_path / "digit.png", 1 - upscaled(mnist.x_test[0].reshape(28, 28)))
    x = prepare_drawing(np.round(upscaled(mnist.x_test[0].reshape(28, 28)) * 255) / 255)
    _, _, p, _ = by_hand(model, x, 0)
    report = explain_json(capsys, image, "--model", path)
    assert report["image"] == str(image)
    assert (report["label"], report["label_from"]) == (int(np.argmax(p)), "predicted class")
    assert report["loss"] == pytest.approx(-np.log(p.max()), rel=1e-5)  # the PNG round trip
    other = explain_json(capsys, image, "--model", path, "--label", 4)
    assert (other["label"], other["label_from"]) == (4, "--label")
    assert other["loss"] == pytest.approx(-np.log(p[4]), rel=1e-5)


def test_without_a_model_the_cached_default_model_is_used(tmp_path, mnist, saved_digit_model, capsys):
    model, path = saved_digit_model
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / DEFAULT_MODEL_NAME).write_bytes(path.read_bytes())  # as if `predict` had trained it
    report = explain_json(capsys, "--test-index", 5)
    assert report["loss"] == pytest.approx(by_hand(model, mnist.x_test[5], int(mnist.y_test[5]))[3], rel=1e-9)
    assert capsys.readouterr().err == ""


def test_registered_in_main(saved_digit_model):
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "explain", "--test-index", "0", "--model", str(saved_digit_model[1])],
        check=False, capture_output=True, text=True, env=os.environ.copy(), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("gradient check: worst relative error")


@pytest.mark.parametrize(("args", "message"), [
    ([], "one of the arguments image --test-index is required"),
    (["a.png", "--test-index", "1"], "not allowed with"),
    (["--test-index", "-1"], "must not be negative"),
    (["--test-index", "10000"], "--test-index 10000 is out of range: mnist has 10,000 test images (0 to 9999)"),
    (["--test-index", "0", "--label", "10"], "--label 10 is not a class of this model (0 to 9)"),
])
def test_invalid_arguments_exit_2(capsys, saved_digit_model, args, message):
    assert run_cli(["explain", *args, "--model", str(saved_digit_model[1])]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err


def test_runtime_failures_exit_1(tmp_path, capsys, saved_digit_model):
    other = tmp_path / "other.npz"
    save_model(mlp(100, [8], 10, rng=np.random.default_rng(0)), other)
    blank = save_grey(tmp_path / "blank.png", np.full((40, 40), 0.9))
    for args, message in [
        (["--test-index", "0", "--model", str(other)], "100 inputs"),
        (["--test-index", "0", "--model", str(tmp_path / "missing.npz")], "missing.npz"),
        ([str(blank), "--model", str(saved_digit_model[1])], "no ink found"),
    ]:
        assert run_cli(["explain", *args]) == 1
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1 and message in err


def test_a_rounding_sized_error_is_said_to_be_one(tmp_path, mnist, saved_digit_model, capsys):
    """With the output weights scaled up, the digit is read with p ~ 1 - 1e-9: its gradients are
    close to what a central difference resolves, and the line says so; not for a plain digit."""
    model, path = saved_digit_model
    confident = model.copy()
    confident.layers[-1].params["W"] *= 4
    sure = tmp_path / "sure.npz"
    save_model(confident, sure, metadata={"dataset": "mnist"})
    for model_path, noted in ((sure, True), (path, False)):
        report = explain_json(capsys, "--test-index", 0, "--model", model_path)
        check = report["gradient_check"]
        assert check["resolution"] == pytest.approx(np.finfo(float).eps * max(1.0, report["loss"]) / 2e-4)
        assert (abs(check["worst"]["analytic"]) < 1000 * check["resolution"]) is noted
        assert run_cli(["explain", "--test-index", "0", "--model", str(model_path)]) == 0
        text = capsys.readouterr().out
        assert ("rounding of the loss, not backprop, makes that error" in text) is noted
