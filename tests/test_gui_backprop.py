"""The Backprop tab in the real window: every control through its widget, and every number it
shows against an independent computation: a float64 forward and backward pass of a ReLU network
written out here by hand, central differences of its loss, and a hand-applied SGD step."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from gui_view_support import (
    configure,
    draw_stroke,
    quick_model,
    run_in_window,
    seven_strokes,
    show_model,
    wait_for_views,
)
from PySide6.QtCore import QEventLoop, QPoint, Qt
from PySide6.QtWidgets import QApplication, QPushButton, QTableWidget, QTabWidget

import gui.views.backprop as backprop_module
from gui.views import BackpropView, DrawingPad, MisclassifiedView
from gui.views.backprop_tools import NOISE_BATCH_SIZES
from gui.views.backprop_widgets import heat_rgba
from gui.views.weights import tile_mosaic
from scratchnet.network import mlp

SIGNIFICANT = 3  # the digits the stage and unit texts show


# ------------------------------------------------------------------ the independent computation
def plain_pass(model, x, label):
    """A ReLU network's forward and backward for one input, written out in float64 NumPy: each
    layer's output and dL/d(output), each Dense layer's dL/dW and dL/db, dL/dx, the
    probabilities and the loss."""
    value = np.asarray(x, np.float64)
    inputs, outputs = [], []
    for layer in model.layers:
        inputs.append(value)
        if type(layer).__name__ == "Dense":
            value = value @ layer.params["W"].astype(np.float64) + layer.params["b"].astype(np.float64)
        else:
            assert type(layer).__name__ == "ReLU"
            value = np.maximum(value, 0.0)
        outputs.append(value)
    e = np.exp(value - value.max())
    probs = e / e.sum()
    grad = probs - np.eye(len(probs))[label]
    grad_outputs, dW, db = [None] * len(inputs), {}, {}
    for i in range(len(model.layers) - 1, -1, -1):
        grad_outputs[i] = grad
        layer = model.layers[i]
        if type(layer).__name__ == "Dense":
            dW[i], db[i] = np.outer(inputs[i], grad), grad.copy()
            grad = layer.params["W"].astype(np.float64) @ grad
        else:
            grad = grad * (inputs[i] > 0)
    return {"outputs": outputs, "grad_outputs": grad_outputs, "dW": dW, "db": db, "dx": grad,
            "probs": probs, "loss": float(-np.log(probs[label]))}


def plain_loss(weights, x, label):
    """The loss of a ReLU network given as [(W, b), ...] (float64), for central differences."""
    value = np.asarray(x, np.float64)
    for k, (w, b) in enumerate(weights):
        value = value @ w + b
        if k < len(weights) - 1:
            value = np.maximum(value, 0.0)
    value = value - value.max()
    return float(np.log(np.exp(value).sum()) - value[label])


def dense_weights(model):
    return [(d.params["W"].astype(np.float64), d.params["b"].astype(np.float64)) for d in model.dense_layers]


def as_float(text: str) -> float:
    return float(text.replace("−", "-"))


def close(shown: float, exact: float, digits: int = SIGNIFICANT) -> bool:
    """``shown`` is ``exact`` written to ``digits`` significant digits."""
    return float(f"{exact:.{digits}g}") == pytest.approx(shown, rel=1e-12, abs=1e-300)


NUMBER = r"(−?\d+(?:\.\d+)?(?:e[−+]\d+)?)"


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture(scope="module")
def model(mnist):
    """784-32-16-10 ReLU, one short epoch: mostly right, with mistakes to browse."""
    return quick_model(mnist, hidden=(32, 16), train_size=3000)


def settle(window, timeout_s: float = 30.0) -> None:
    """Let the view refresher and the tab's jobs finish, and their results be drawn."""
    view = tab(window)
    deadline = time.monotonic() + timeout_s
    while True:
        wait_for_views(window, timeout_s)
        QApplication.processEvents(QEventLoop.AllEvents, 20)
        if not view.runner.busy():
            QApplication.processEvents()
            if not view.runner.busy():
                return
        assert time.monotonic() < deadline, "the Backprop tab's jobs did not finish in time"
        time.sleep(0.003)


def tab(window) -> BackpropView:
    view = window.findChild(BackpropView, "backpropView")
    assert view is not None
    return view


def button(window, name: str) -> QPushButton:
    widget = window.findChild(QPushButton, name)
    assert widget is not None, name
    return widget


def press(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.LeftButton, pos=widget.rect().center())


def open_tab(window, model, page: str | None = None) -> BackpropView:
    """The Backprop tab in front, showing ``model`` (and its ``page``), everything computed."""
    view = tab(window)
    window.views.setCurrentWidget(view)
    show_model(window, model)
    if page is not None:
        pages = view.pages
        pages.setCurrentIndex([pages.tabText(k) for k in range(pages.count())].index(page))
    settle(window)
    return view


def walk_to(qtbot, view, stage: int) -> None:
    """Click Next or Back until ``stage``."""
    while view.steps.stage < stage:
        press(qtbot, view.next_button)
    while view.steps.stage > stage:
        press(qtbot, view.back_button)


# ------------------------------------------------------------------ the tab, with and without a model
def test_named_widgets_exist_from_the_start_and_explain_how_to_get_a_model(window):
    view = tab(window)
    for name, cls in (("backpropNextButton", QPushButton), ("backpropBackButton", QPushButton),
                      ("oneStepButton", QPushButton), ("gradCheckTable", QTableWidget),
                      ("backpropPages", QTabWidget)):
        assert window.findChild(cls, name) is not None, name
    assert view.findChild(object, "saliencyView") is not None
    assert view.findChild(object, "gradientNoisePlot") is not None
    assert window.views.tabText(window.views.indexOf(view)) == "Backprop"
    window.views.setCurrentWidget(view)
    wait_for_views(window)
    assert window.current_model is None
    assert "No model yet" in view.note.text() and "Start" in view.note.text()
    for name in ("backpropNextButton", "backpropBackButton", "oneStepButton", "recheckButton",
                 "noiseRecomputeButton", "nextMisclassifiedButton", "keepStepButton"):
        widget = button(window, name)
        assert not widget.isEnabled(), name
        assert "Not available" in widget.toolTip() and ("No model yet" in widget.toolTip()
                                                        or name == "keepStepButton"), name


def test_next_walks_forward_layer_by_layer_then_backward_and_back_returns(qtbot, window, model, mnist):
    view = open_tab(window, model)
    x, label = mnist.x_test[0], int(mnist.y_test[0])
    plain = plain_pass(model, x, label)
    layers = len(model.layers)  # Dense ReLU Dense ReLU Dense
    stages = view.steps.stages
    assert len(stages) == 2 * layers + 2 == 12
    assert view.steps.stage == 0 and not view.back_button.isEnabled() and view.next_button.isEnabled()
    columns = view.steps.columns
    assert len(columns) == layers + 2
    seen = []
    for k in range(len(stages)):
        walk_to(qtbot, view, k)
        seen.append(view.steps.stage_label.text())
        stage = stages[k]
        assert [c.highlighted for c in columns] == [c == stage.column for c in range(len(columns))]
        # values: the columns reached so far going forward, each equal to the plain forward
        for c, column in enumerate(columns):
            shown = column.values.values
            if c > stage.values_upto:
                assert shown is None
            elif c == 0:
                np.testing.assert_allclose(shown, x)
            elif c == layers + 1:
                np.testing.assert_allclose(shown, plain["probs"], rtol=1e-6, atol=1e-12)
            else:
                np.testing.assert_allclose(shown, plain["outputs"][c - 1], rtol=1e-5, atol=1e-6)
            gradient = column.gradients.values
            if stage.gradients_from is None or c < stage.gradients_from or c == layers + 1:
                assert gradient is None
            elif c == 0:
                np.testing.assert_allclose(gradient, plain["dx"], rtol=1e-5, atol=1e-9)
            else:
                np.testing.assert_allclose(gradient, plain["grad_outputs"][c - 1], rtol=1e-5, atol=1e-9)
    assert [t.split(":")[0] for t in seen] == [f"Stage {k} of 12" for k in range(1, 13)]
    assert "Forward through Dense 1 (784→32)" in seen[1] and "Softmax and the loss" in seen[6]
    assert "Backward through Dense 3 (16→10)" in seen[7] and "Backward through Dense 1 (784→32)" in seen[11]
    assert not view.next_button.isEnabled()
    press(qtbot, view.back_button)
    assert view.steps.stage == 10 and columns[1].highlighted and columns[1].gradients.values is not None
    assert columns[0].gradients.values is None  # dL/dx is not reached any more


def test_the_loss_is_written_out_with_its_numbers(qtbot, window, model, mnist):
    view = open_tab(window, model)
    walk_to(qtbot, view, 6)
    text = view.steps.stage_text.text()
    label = int(mnist.y_test[0])
    plain = plain_pass(model, mnist.x_test[0], label)
    match = re.search(rf"L = −log p(\S+) = −log {NUMBER} = {NUMBER}", text)
    assert match is not None, text
    assert match.group(1) == "₀₁₂₃₄₅₆₇₈₉"[label]
    assert close(as_float(match.group(2)), plain["probs"][label])
    assert close(as_float(match.group(3)), plain["loss"])
    np.testing.assert_allclose(view.steps.probabilities.probabilities(), plain["probs"], rtol=1e-6, atol=1e-12)
    predicted = int(np.argmax(plain["probs"]))
    assert f"The network says <b>{predicted}</b>" in text


def test_backward_stages_show_the_first_layers_gradient_tiles_and_bias_gradient(qtbot, window, model, mnist):
    view = open_tab(window, model)
    plain = plain_pass(model, mnist.x_test[0], int(mnist.y_test[0]))
    walk_to(qtbot, view, 7)  # the output layer's backward: dL/dW as a heat map, not tiles
    steps = view.steps
    assert steps.weight_gradient.isVisible() and not steps.gradient_tiles.isVisible()
    np.testing.assert_allclose(steps.weight_gradient.values, plain["dW"][4].ravel(), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(steps.bias_gradient.values, plain["db"][4], rtol=1e-5, atol=1e-9)
    norm = re.search(rf"‖dL/dW‖ = {NUMBER}", steps.stage_text.text())
    assert close(as_float(norm.group(1)), np.linalg.norm(plain["dW"][4]))
    walk_to(qtbot, view, 11)  # the first layer's backward: a 28×28 tile per unit
    assert steps.gradient_tiles.isVisible() and not steps.weight_gradient.isVisible()
    dw = plain["dW"][0]
    expected = tile_mosaic(dw, 0, dw.shape[1], float(np.abs(dw).max()),
                           max_columns=steps.gradient_tiles.shown_columns)
    image = steps.gradient_tiles.image
    assert image.shape == expected.shape
    assert np.mean(np.all(image == expected, axis=2)) > 0.999  # a colour code may round the other way
    np.testing.assert_allclose(steps.bias_gradient.values, plain["db"][0], rtol=1e-5, atol=1e-9)
    delta = re.search(rf"‖δ‖ = {NUMBER}", steps.stage_text.text())
    assert close(as_float(delta.group(1)), np.linalg.norm(plain["grad_outputs"][0]))


def test_stage_texts_count_what_they_say(qtbot, window, model, mnist):
    view = open_tab(window, model)
    plain = plain_pass(model, mnist.x_test[0], int(mnist.y_test[0]))
    walk_to(qtbot, view, 0)
    inked = re.search(r"(\d+) of them are inked", view.steps.stage_text.text())
    assert int(inked.group(1)) == np.count_nonzero(mnist.x_test[0])
    walk_to(qtbot, view, 1)
    span = re.search(rf"z runs from {NUMBER} to {NUMBER}", view.steps.stage_text.text())
    assert close(as_float(span.group(1)), plain["outputs"][0].min())
    assert close(as_float(span.group(2)), plain["outputs"][0].max())
    walk_to(qtbot, view, 2)
    active = re.search(r"(\d+) of 32 units have z &gt; 0", view.steps.stage_text.text())
    assert int(active.group(1)) == np.count_nonzero(plain["outputs"][0] > 0)
    walk_to(qtbot, view, 10)  # backward through the first ReLU
    blocked = re.search(r"(\d+) of 32 units had z ≤ 0", view.steps.stage_text.text())
    assert int(blocked.group(1)) == np.count_nonzero(plain["outputs"][0] <= 0)


def test_clicking_a_unit_shows_its_equations_with_the_numbers_plugged_in(qtbot, window, model, mnist):
    view = open_tab(window, model)
    x, label = mnist.x_test[0], int(mnist.y_test[0])
    plain = plain_pass(model, x, label)
    walk_to(qtbot, view, 11)
    column = view.steps.columns[2]  # the first ReLU's output: the units of Dense 1
    j = int(np.argmax(plain["outputs"][0]))  # an active unit
    qtbot.mouseClick(column.values, Qt.LeftButton, pos=QPoint(*map(int, column.values.unit_center(j))))
    text = view.steps.unit_text.text()
    s = "₀₁₂₃₄₅₆₇₈₉"
    j_ = "".join(s[int(d)] for d in str(j))
    assert f"Dense 1 (784→32), unit {j}" in text
    z = plain["outputs"][0][j]
    assert close(as_float(re.search(rf"z{j_} = {NUMBER}<br>", text).group(1)), z)
    assert close(as_float(re.search(rf"a{j_} = relu\(z{j_}\) = relu\({NUMBER}\) = {NUMBER}", text).group(2)), max(z, 0))
    w = model.dense_layers[0].params["W"].astype(np.float64)
    terms = x * w[:, j]
    top = np.argsort(-np.abs(terms), kind="stable")[:5]
    listed = [int("".join(str(s.index(c)) for c in m)) for m in re.findall(r"x([₀-₉]+)·W", text)]
    assert listed == list(top)
    rest = re.search(rf"the other (\d+) terms: {NUMBER}", text)
    assert int(rest.group(1)) == 779 and close(as_float(rest.group(2)), terms.sum() - terms[top].sum())
    delta = plain["grad_outputs"][0][j]
    assert close(as_float(re.search(rf"dL/db{j_} = δ{j_} = {NUMBER}", text).group(1)), delta)
    np.testing.assert_allclose(view.steps.unit_tile.values, x * delta, rtol=1e-5, atol=1e-12)
    # the unit is outlined in its Dense column and in the ReLU column above it, not elsewhere
    assert [c.values.selected for c in view.steps.columns] == [None, j, j, None, None, None, None]
    # an output unit: δ = p − onehot
    out = view.steps.columns[5]
    k = label
    qtbot.mouseClick(out.values, Qt.LeftButton, pos=QPoint(*map(int, out.values.unit_center(k))))
    text = view.steps.unit_text.text()
    k_ = s[k]
    assert close(as_float(re.search(rf"δ{k_} = dL/dz{k_} = p{k_} − \[{k} = {k}\] = {NUMBER} − 1 = {NUMBER}",
                                    text).group(2)), plain["probs"][k] - 1)
    # an input pixel: x and dL/dx
    inked = int(np.flatnonzero(x)[0])
    qtbot.mouseClick(view.steps.columns[0].values, Qt.LeftButton,
                     pos=QPoint(*map(int, view.steps.columns[0].values.unit_center(inked))))
    text = view.steps.unit_text.text()
    assert f"Input pixel {inked}" in text
    assert close(as_float(re.search(rf"= {NUMBER}: how the loss", text).group(1)), plain["dx"][inked])


# ------------------------------------------------------------------ picking the digit
def test_the_index_box_and_next_misclassified_pick_the_digit(qtbot, window, model, mnist):
    view = open_tab(window, model)
    view.index_spin.setValue(5)
    settle(window)
    assert view.trace is not None and view.trace.label == int(mnist.y_test[5])
    np.testing.assert_array_equal(view.trace.x, mnist.x_test[5])
    assert view.caption.text() == f"Test image #5, labelled {mnist.y_test[5]}"
    wrong = np.flatnonzero(model.predict(mnist.x_test) != mnist.y_test)
    jobs = []
    view.runner.finished.connect(lambda job: jobs.append((job.kind, job.thread_id)))
    press(qtbot, view.next_wrong_button)
    settle(window)
    # no other view had predicted the test set: the tab did, in a job off the GUI thread
    assert [kind for kind, _ in jobs].count("wrong") == 1
    assert threading.get_ident() not in [thread for _, thread in jobs]
    first = int(wrong[wrong > 5][0])
    assert view.index_spin.value() == first and view.trace.label == int(mnist.y_test[first])
    assert view.trace.predicted != view.trace.label
    press(qtbot, view.next_wrong_button)
    assert view.index_spin.value() == int(wrong[wrong > first][0])
    settle(window)
    assert [kind for kind, _ in jobs].count("wrong") == 1  # the predictions are kept for this model


def test_show_its_backprop_from_a_misclassified_digit(qtbot, window, model, mnist):
    grid = window.findChild(MisclassifiedView, "misclassifiedView")
    window.views.setCurrentWidget(grid)
    show_model(window, model)
    index = int(grid.page_indices()[3])
    qtbot.mouseClick(grid.cells[3], Qt.LeftButton)
    detail_button = grid.detail.backprop_button
    qtbot.waitExposed(detail_button)
    press(qtbot, detail_button)
    settle(window)
    view = tab(window)
    assert window.views.currentWidget() is view and view.pages.currentWidget() is view.steps
    assert not grid.detail.isVisible()
    assert view.index_spin.value() == index
    assert view.trace.label == int(mnist.y_test[index]) and view.trace.predicted != view.trace.label
    plain = plain_pass(model, mnist.x_test[index], int(mnist.y_test[index]))
    assert view.trace.loss == pytest.approx(plain["loss"], rel=1e-5)


def test_show_its_backprop_from_the_drawing_pad_with_the_label_chosen(qtbot, window, model):
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    show_model(window, model)
    assert not pad.backprop_button.isEnabled()  # nothing drawn yet
    for stroke in seven_strokes():
        draw_stroke(pad.canvas, stroke)
    assert pad.backprop_button.isEnabled()
    press(qtbot, pad.backprop_button)
    settle(window)
    view = tab(window)
    assert window.views.currentWidget() is view
    drawn = pad.digit
    np.testing.assert_array_equal(view.trace.x, drawn)
    guess = int(model.predict(drawn[None, :])[0])
    assert view.trace.label == guess and view.label_combo.isEnabled()
    assert view.caption.text() == f"The drawing pad's digit, taken as a {guess}"
    other = (guess + 1) % 10
    view.label_combo.setCurrentIndex(view.label_combo.findData(other))
    settle(window)
    plain = plain_pass(model, drawn, other)
    assert view.trace.label == other and view.trace.loss == pytest.approx(plain["loss"], rel=1e-5)


# ------------------------------------------------------------------ gradient check
def test_gradient_check_table_matches_central_differences_and_recheck_draws_others(qtbot, window, model, mnist):
    view = open_tab(window, model, "Gradient check")
    x, label = mnist.x_test[0], int(mnist.y_test[0])
    table = view.check.table

    def rows():
        out = []
        for r in range(table.rowCount()):
            name = table.item(r, 0).text()
            found = re.match(r"Dense (\d) \(\d+→\d+\) W\[(\d+), (\d+)\]", name)
            out.append((int(found.group(1)) - 1, int(found.group(2)), int(found.group(3)),
                        *(float(table.item(r, c).text()) for c in (1, 2, 3))))
        return out

    first = rows()
    assert len(first) == 8 * 3
    weights = dense_weights(model)
    worst = 0.0
    for dense, i, j, analytic, numeric, error in first:
        w = weights[dense][0]
        kept = w[i, j]
        w[i, j] = kept + 1e-6
        up = plain_loss(weights, x, label)
        w[i, j] = kept - 1e-6
        down = plain_loss(weights, x, label)
        w[i, j] = kept
        exact = (up - down) / 2e-6
        assert numeric == pytest.approx(exact, rel=1e-3, abs=1e-9)
        assert analytic == pytest.approx(np.outer(*_dense_io(model, x, label, dense))[i, j], rel=1e-5, abs=1e-12)
        if dense == 0:
            assert x[i] != 0  # the first layer's weights are drawn from inked pixels
        worst = max(worst, error)
    assert f"worst relative error <b>{worst:.1e}</b>" in view.check.summary.text()
    zeros = sum(analytic == 0 and numeric == 0 for _, _, _, analytic, numeric, _ in first)
    assert (f"{zeros} of them get no gradient on either side" in view.check.summary.text()) == (zeros > 0)
    press(qtbot, view.check.recheck_button)
    settle(window)
    second = rows()
    assert len(second) == 24 and [r[:3] for r in second] != [r[:3] for r in first]


def _dense_io(model, x, label, dense):
    """(input, δ) of Dense layer number ``dense`` (from 0), from the plain pass."""
    plain = plain_pass(model, x, label)
    position = [i for i, layer in enumerate(model.layers) if type(layer).__name__ == "Dense"][dense]
    inputs = [np.asarray(x, np.float64)] + plain["outputs"][:-1]
    return inputs[position], plain["grad_outputs"][position]


# ------------------------------------------------------------------ one step
def test_one_step_predicts_and_makes_the_change_of_a_hand_applied_step_and_keep_adopts_it(qtbot, window, model,
                                                                                          mnist):
    view = open_tab(window, model, "One step")
    index = 8
    view.index_spin.setValue(index)
    settle(window)
    x, label = mnist.x_test[index], int(mnist.y_test[index])
    lr = 0.05
    view.stepper.rate_spin.setValue(lr)
    press(qtbot, view.stepper.step_button)
    settle(window)
    text = view.stepper.summary.text()
    # by hand: g from the plain backward, w <- w - lr g, the loss again
    plain = plain_pass(model, x, label)
    dense = [i for i, layer in enumerate(model.layers) if type(layer).__name__ == "Dense"]
    squared = sum(np.sum(plain["dW"][i] ** 2) + np.sum(plain["db"][i] ** 2) for i in dense)
    stepped = [(w - lr * plain["dW"][i], b - lr * plain["db"][i]) for (w, b), i in zip(dense_weights(model), dense,
                                                                                          strict=True)]
    after = plain_loss(stepped, x, label)
    before = plain["loss"]
    found = re.search(rf"Loss before: {NUMBER}, after: {NUMBER}", text)
    assert close(as_float(found.group(1)), before, 4) and close(as_float(found.group(2)), after, 4)
    predicted = re.search(rf"= <b>{NUMBER}</b>; actual change <b>{NUMBER}</b>", text)
    assert close(as_float(predicted.group(1)), -lr * squared, 4)
    assert close(as_float(predicted.group(2)), after - before, 4)
    ratio = re.search(rf"Actual / predicted = {NUMBER}", text)
    assert close(as_float(ratio.group(1)), (after - before) / (-lr * squared))
    norm = re.search(rf"−{NUMBER} × {NUMBER}²", text)
    assert as_float(norm.group(1)) == lr and close(as_float(norm.group(2)), np.sqrt(squared), 4)
    np.testing.assert_allclose(view.stepper.before.probabilities(), plain["probs"], rtol=1e-6, atol=1e-12)
    value = np.asarray(x, np.float64)
    for k, (w, b) in enumerate(stepped):
        value = value @ w + b
        value = np.maximum(value, 0) if k < len(stepped) - 1 else value
    e = np.exp(value - value.max())
    np.testing.assert_allclose(view.stepper.after.probabilities(), e / e.sum(), rtol=1e-4, atol=1e-9)
    # the window's model has not changed yet; Keep adopts the step
    assert window.current_model is model
    keep = view.stepper.keep_button
    assert keep.isEnabled()
    press(qtbot, keep)
    settle(window)
    kept = window.current_model
    assert kept is not model
    for layer, (w, b) in zip(kept.dense_layers, stepped, strict=True):
        np.testing.assert_allclose(layer.params["W"], w, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(layer.params["b"], b, rtol=1e-5, atol=1e-7)
    assert "Kept the step" in window.status_label.text()
    assert "Kept: the window's model is now the stepped copy" in view.stepper.summary.text()
    assert not keep.isEnabled()  # the step was of the old model
    assert view.trace.loss == pytest.approx(after, rel=1e-4)  # the tab follows the kept model


# ------------------------------------------------------------------ why this digit?
def plain_integrated_gradients(model, x, target, steps=64):
    """Integrated gradients from a black image, midpoint rule, with a hand-written backward."""
    weights = dense_weights(model)
    total = np.zeros(x.size)
    for alpha in (np.arange(steps) + 0.5) / steps:
        value, inputs = alpha * np.asarray(x, np.float64), []
        for k, (w, b) in enumerate(weights):
            inputs.append(value)
            value = value @ w + b
            if k < len(weights) - 1:
                value = np.maximum(value, 0.0)
        grad = np.eye(len(value))[target]
        for k in range(len(weights) - 1, -1, -1):
            grad = weights[k][0] @ grad
            if k > 0:
                grad = grad * (inputs[k] > 0)
        total += grad
    return np.asarray(x, np.float64) * total / steps


def test_why_this_digit_maps_integrated_gradients_for_the_predicted_or_a_chosen_class(qtbot, window, model, mnist):
    view = open_tab(window, model, "Why this digit?")
    x = mnist.x_test[0]
    predicted = int(np.argmax(plain_pass(model, x, 0)["probs"]))
    page = view.saliency
    expected = plain_integrated_gradients(model, x, predicted)
    np.testing.assert_allclose(page.map.values, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(page.map.image, heat_rgba(page.map.values, "signed"))
    other = (predicted + 3) % 10
    page.class_combo.setCurrentIndex(page.class_combo.findData(other))
    settle(window)
    expected = plain_integrated_gradients(model, x, other)
    np.testing.assert_allclose(page.map.values, expected, rtol=1e-6, atol=1e-9)
    text = page.summary.text()
    assert f"Class <b>{other}</b>" in text
    weights = dense_weights(model)
    value, black = np.asarray(x, np.float64), np.zeros(x.size)
    for k, (w, b) in enumerate(weights):
        value, black = value @ w + b, black @ w + b
        if k < len(weights) - 1:
            value, black = np.maximum(value, 0), np.maximum(black, 0)
    found = re.search(rf"add up to {NUMBER}; its logit rose by {NUMBER}", text)
    assert close(as_float(found.group(1)), expected.sum(), 4)
    assert close(as_float(found.group(2)), value[other] - black[other], 4)


# ------------------------------------------------------------------ gradient noise
def plain_noise(model, x, y, sizes, seed, repeats=8):
    """The cosines of hand-made mini-batch gradients to the full one, drawn as the tab draws them."""
    weights = dense_weights(model)

    def gradient(rows):
        value, inputs = x[rows].astype(np.float64), []
        for k, (w, b) in enumerate(weights):
            inputs.append(value)
            value = value @ w + b
            if k < len(weights) - 1:
                value = np.maximum(value, 0.0)
        e = np.exp(value - value.max(axis=1, keepdims=True))
        grad = (e / e.sum(axis=1, keepdims=True) - np.eye(10)[y[rows]]) / len(rows)
        parts = []
        for k in range(len(weights) - 1, -1, -1):
            parts += [inputs[k].T @ grad, grad.sum(axis=0)]
            grad = grad @ weights[k][0].T
            if k > 0:
                grad = grad * (inputs[k] > 0)
        return np.concatenate([p.ravel() for p in parts])

    rng = np.random.default_rng(seed)
    full = gradient(np.arange(len(x)))
    result = {}
    for b in sizes:
        cosines = []
        for _ in range(repeats):
            g = gradient(rng.choice(len(x), size=b, replace=False))
            cosines.append(g @ full / (np.linalg.norm(g) * np.linalg.norm(full)))
        result[b] = (np.mean(cosines), np.std(cosines))
    return result


def test_gradient_noise_plots_the_cosines_of_hand_made_batches_and_recomputes_on_request(qtbot, window, model,
                                                                                         mnist):
    view = open_tab(window, model, "Gradient noise")
    page = view.noise
    assert page.spreads is not None  # measured as soon as the page was shown
    seed = view._noise_draws
    count = 10_000
    expected = plain_noise(model, mnist.x_train[:count], mnist.y_train[:count], NOISE_BATCH_SIZES, seed)
    xs, ys = page.curve.xData, page.curve.yData
    np.testing.assert_allclose(xs, NOISE_BATCH_SIZES)
    np.testing.assert_allclose(ys, [expected[b][0] for b in NOISE_BATCH_SIZES], rtol=1e-6, atol=1e-9)
    heights = page.bars.opts["height"]
    np.testing.assert_allclose(heights, [2 * expected[b][1] for b in NOISE_BATCH_SIZES], rtol=1e-5, atol=1e-9)
    assert "on 10,000 training images" in page.status.text()
    sentence = page.sentence.text()
    found = re.search(rf"by a cosine of {NUMBER} ± {NUMBER}", sentence)
    assert close(as_float(found.group(1)), expected[1][0], 2) and close(as_float(found.group(2)), expected[1][1], 2)
    assert "Full batch" in sentence and "mini-batch of 64" in sentence
    press(qtbot, page.recompute_button)
    settle(window)
    assert view._noise_draws == seed + 1
    again = plain_noise(model, mnist.x_train[:count], mnist.y_train[:count], NOISE_BATCH_SIZES, seed + 1)
    np.testing.assert_allclose(page.curve.yData, [again[b][0] for b in NOISE_BATCH_SIZES], rtol=1e-6,
                               atol=1e-9)


def test_gradient_noise_follows_finished_epochs_only_within_its_share_of_the_time(window, model, mnist,
                                                                                  monkeypatch):
    """While training, a finished epoch lets the noise be measured again, but no more often than
    its duration / NOISE_WORK_SHARE; without a finished epoch it is not measured again."""
    view = open_tab(window, model, "Gradient noise")
    calls = []
    monkeypatch.setattr(view.runner, "submit", lambda kind, key, compute: calls.append(kind))
    from gui.views.predictions import ModelContext

    other = quick_model(mnist, hidden=(32, 16), train_size=500, seed=5)
    view._noise_seconds = 0.5  # the last measurement took 0.5 s
    view.set_training(True)  # the budget counts from now: 1 s (the guess, as 0.5 < 1) / 5% = 20 s
    view.epoch_finished()
    view.set_context(ModelContext(other, mnist))
    assert "noise" not in calls
    view._noise_ended -= 19
    view.set_context(ModelContext(model.copy(), mnist))
    assert "noise" not in calls
    view._noise_ended -= 2
    view.set_context(ModelContext(other, mnist))
    assert calls.count("noise") == 1
    view._noise_seconds, view._noise_ended = 0.5, time.perf_counter()  # measured just now, for 0.5 s
    view.epoch_finished()
    view.set_context(ModelContext(model.copy(), mnist))
    assert calls.count("noise") == 1  # 0.5 s / 5% = 10 s must pass first
    view._noise_ended -= 11
    view.set_context(ModelContext(other, mnist))
    assert calls.count("noise") == 2
    view._noise_ended -= 11
    view.set_context(ModelContext(model.copy(), mnist))
    assert calls.count("noise") == 2  # no epoch finished since
    view.set_training(False)  # the run's end counts as one
    view.set_context(ModelContext(other, mnist))
    assert calls.count("noise") == 3
    view.set_context(ModelContext(model.copy(), mnist))  # idle: any new model is measured while the page shows
    assert calls.count("noise") == 4


def test_the_noise_page_measures_a_runs_final_weights_and_spares_a_short_run(qtbot, window, click, monkeypatch):
    monkeypatch.setattr(backprop_module, "NOISE_IMAGES", 2000)
    measured = []
    original = backprop_module.gradient_noise

    def recording(model, *args, **kwargs):
        measured.append((model, view.training))
        return original(model, *args, **kwargs)

    monkeypatch.setattr(backprop_module, "gradient_noise", recording)
    view = tab(window)
    window.views.setCurrentWidget(view)
    view.pages.setCurrentWidget(view.noise)
    configure(window, train_size=2000, epochs=2)
    run_in_window(qtbot, window, click)
    # the views follow a model that came while the run trained at most once a second
    qtbot.waitUntil(lambda: view._context.model is window.current_model, timeout=10_000)
    settle(window)
    assert not view.training
    assert measured and measured[-1][0] is window.current_model  # the run's final weights
    assert not any(training for _, training in measured)  # a 2-epoch run is too short to spare the time
    assert "on 2,000 training images" in view.noise.status.text()


def test_closing_the_window_while_the_noise_is_measured_ends_cleanly(qtbot, window, model):
    from PySide6.QtCore import QDeadlineTimer

    from gui.threads import wait_for_released_threads

    view = open_tab(window, model)
    view.pages.setCurrentWidget(view.noise)
    assert view.runner.busy("noise")
    window.close()
    assert wait_for_released_threads(QDeadlineTimer(30_000))
    QApplication.processEvents()  # the jobs' ends reach the runner
    assert not view.runner.busy()
    view.noise.recompute_button.click()  # a closed window starts nothing more
    assert not view.runner.busy()


# ------------------------------------------------------------------ threads, bad input, small models
def test_every_computation_runs_off_the_gui_thread(qtbot, window, model, monkeypatch):
    threads: dict[str, list[int]] = {}
    for name in ("trace", "gradient_check", "one_step", "integrated_gradients", "gradient_noise"):
        original = getattr(backprop_module, name)

        def recording(*args, _original=original, _name=name, **kwargs):
            threads.setdefault(_name, []).append(threading.get_ident())
            return _original(*args, **kwargs)

        monkeypatch.setattr(backprop_module, name, recording)
    view = open_tab(window, model)
    for page in ("Gradient check", "One step", "Why this digit?", "Gradient noise"):
        view.pages.setCurrentIndex([view.pages.tabText(k) for k in range(5)].index(page))
        if page == "One step":
            press(qtbot, view.stepper.step_button)
        settle(window)
    assert set(threads) == {"trace", "gradient_check", "one_step", "integrated_gradients", "gradient_noise"}
    assert threading.get_ident() not in {t for ids in threads.values() for t in ids}


def test_a_model_that_does_not_fit_the_digit_says_so_and_disables_the_buttons(window):
    view = tab(window)
    window.views.setCurrentWidget(view)
    show_model(window, mlp(100, [8], 10, rng=np.random.default_rng(0)))
    settle(window)
    assert "this model takes 100 inputs, but the digit has 784 pixels (28×28)" in view.note.text()
    for widget in (view.next_button, view.stepper.step_button, view.check.recheck_button):
        assert not widget.isEnabled() and "takes 100 inputs" in widget.toolTip()
    assert view.trace is None and view.steps.columns  # the diagram of that model, with nothing in it
    assert all(c.values.values is None for c in view.steps.columns)


def test_a_non_finite_model_is_refused_with_a_message_and_the_tab_recovers(window, model):
    view = tab(window)
    window.views.setCurrentWidget(view)
    broken = model.copy()
    broken.dense_layers[1].params["W"][3, 4] = np.nan
    show_model(window, broken)
    settle(window)
    assert "Cannot follow the digit" in view.note.text() and "not finite" in view.note.text()
    assert view.trace is None and not view.next_button.isEnabled()
    show_model(window, model)
    settle(window)
    assert view.note.text() == "" and view.trace is not None and view.next_button.isEnabled()


def test_softmax_regression_has_no_hidden_stages(qtbot, window, mnist):
    regression = quick_model(mnist, hidden=(), train_size=1000)
    view = open_tab(window, regression)
    assert [s.title for s in view.steps.stages] == [
        "The input: the digit's pixels", "Forward through Dense 1 (784→10): z = x·W + b", "Softmax and the loss",
        "Backward through Dense 1 (784→10): dL/dW = xᵀ·δ, dL/db = δ, dL/dx = δ·Wᵀ"]
    walk_to(qtbot, view, 3)
    x, label = mnist.x_test[0], int(mnist.y_test[0])
    plain = plain_pass(regression, x, label)
    assert view.steps.gradient_tiles.isVisible()
    np.testing.assert_allclose(view.steps.bias_gradient.values, plain["probs"] - np.eye(10)[label], atol=1e-9)
    column = view.steps.columns[1]
    qtbot.mouseClick(column.values, Qt.LeftButton, pos=QPoint(*map(int, column.values.unit_center(label))))
    assert "p" in view.steps.unit_text.text() and "Dense 1 (784→10), unit" in view.steps.unit_text.text()


def test_keep_is_refused_while_a_run_trains(qtbot, window, model, mnist):
    view = open_tab(window, model, "One step")
    press(qtbot, view.stepper.step_button)
    settle(window)
    assert view.stepper.keep_button.isEnabled()
    view.set_training(True)
    assert not view.stepper.keep_button.isEnabled()
    assert "a run is training" in view.stepper.keep_button.toolTip()
    view.keep_step()
    assert window.current_model is model
    view.set_training(False)
    assert view.stepper.keep_button.isEnabled()


# ------------------------------------------------------------------ the tiles, drawn at once
def test_tile_mosaic_lays_out_each_unit_as_its_own_tile():
    """The first layer's tiles (shared with the Inside the network tab), now laid out without a
    loop, against tiles placed one by one."""
    from gui.views.weights import GAP_RGBA, diverging_lut

    rng = np.random.default_rng(4)
    lut = diverging_lut()
    for units, start, count, columns in ((256, 0, 256, None), (300, 17, 250, 7), (5, 0, 5, None), (10, 2, 8, 3)):
        weights = rng.standard_normal((784, units)).astype(np.float32)
        mosaic = tile_mosaic(weights, start, count, 0.8, max_columns=columns)
        shown_columns = min(int(np.ceil(np.sqrt(count))), columns or count)
        rows = int(np.ceil(count / shown_columns))
        assert mosaic.shape == (29 * rows + 1, 29 * shown_columns + 1, 4)
        expected = np.empty_like(mosaic)
        expected[:] = GAP_RGBA
        for k in range(count):
            r, c = divmod(k, shown_columns)
            tile = weights[:, start + k].reshape(28, 28)
            codes = np.clip((tile / 0.8 + 1.0) * 127.5, 0, 255).astype(np.uint8)
            expected[1 + 29 * r:29 + 29 * r, 1 + 29 * c:29 + 29 * c] = lut[codes]
        np.testing.assert_array_equal(mosaic, expected)


# ------------------------------------------------------------------ other activations, dropout, a new drawing
TEXTBOOK = {
    "Sigmoid": ("σ", lambda z: 1 / (1 + np.exp(-z))),
    "Tanh": ("tanh", np.tanh),
    "LeakyReLU": ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
}


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "leaky_relu"])
def test_other_activations_and_dropout_step_through_with_their_own_formulas(qtbot, window, mnist, activation):
    model = mlp(784, [12, 8], 10, activation=activation, dropout=0.2, rng=np.random.default_rng(1))
    view = open_tab(window, model)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[2] == "Dropout" and len(view.steps.stages) == 2 * len(kinds) + 2
    walk_to(qtbot, view, len(view.steps.stages) - 1)
    symbol, formula = TEXTBOOK[kinds[1]]
    value = mnist.x_test[0].astype(np.float64)
    for k, layer in enumerate(model.layers, start=1):
        if kinds[k - 1] == "Dense":
            value = value @ layer.params["W"].astype(np.float64) + layer.params["b"].astype(np.float64)
        elif kinds[k - 1] != "Dropout":  # dropout is off outside training
            value = formula(value)
        np.testing.assert_allclose(view.steps.columns[k].values.values, value, rtol=1e-5, atol=1e-7)
    z = mnist.x_test[0].astype(np.float64) @ model.dense_layers[0].params["W"] + model.dense_layers[0].params["b"]
    for column in (2, 3):  # the activation and the dropout after it: both the units of Dense 1
        heat_map = view.steps.columns[column].values
        qtbot.mouseClick(heat_map, Qt.LeftButton, pos=QPoint(*map(int, heat_map.unit_center(4))))
        text = view.steps.unit_text.text()
        assert "Dense 1 (784→12), unit 4" in text
        found = re.search(rf"a₄ = {re.escape(symbol)}\(z₄\) = {re.escape(symbol)}\({NUMBER}\) = {NUMBER}", text)
        assert close(as_float(found.group(1)), z[4]) and close(as_float(found.group(2)), formula(z[4]))


def test_a_new_drawing_is_followed_when_the_tab_comes_back(qtbot, window, model):
    pad = window.findChild(DrawingPad, "drawingPad")
    window.views.setCurrentWidget(pad)
    show_model(window, model)
    draw_stroke(pad.canvas, seven_strokes()[0])
    press(qtbot, pad.backprop_button)
    settle(window)
    view = tab(window)
    first = view.trace.x.copy()
    window.views.setCurrentWidget(pad)
    draw_stroke(pad.canvas, seven_strokes()[1])
    window.views.setCurrentWidget(view)
    settle(window)
    assert not np.array_equal(view.trace.x, first)
    np.testing.assert_array_equal(view.trace.x, pad.digit)


def test_the_check_table_tells_a_rounding_sized_error_from_a_wrong_gradient(qtbot):
    from gui.views.backprop_tools import GradCheckPage
    from scratchnet.explain import WeightCheck

    page = GradCheckPage()
    qtbot.addWidget(page)
    titles = ["Dense 1 (784→32)"]
    tiny = WeightCheck(0, 3, 4, 2e-11, 2.4e-11, 0.09, 1e-12)  # 20 resolutions: rounding
    wrong = WeightCheck(0, 5, 6, 0.02, 0.03, 0.2, 1e-12)
    page.show_checks([tiny], titles)
    assert "rounding of the loss, not backprop" in page.summary.text()
    assert page.table.item(0, 3).foreground().color() == Qt.darkGray
    assert "rounding" in page.table.item(0, 3).toolTip()
    page.show_checks([tiny, wrong], titles)
    assert "look at the red rows" in page.summary.text() and "2.0e-01" in page.summary.text()
    assert page.table.item(1, 3).foreground().color() == Qt.red
    assert page.table.item(1, 0).text() == "Dense 1 (784→32) W[5, 6]"
