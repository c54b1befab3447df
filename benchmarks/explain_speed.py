"""Speed of the Backprop tab's engine half (``scratchnet.explain``), on 784-256-128-10 ReLU after
one epoch on 10,000 MNIST digits (mini-batch 64, momentum), with these targets:

- ``trace`` of one test digit, its float64 copy of the model included: a few ms (the tab's
  budget, repaint included, is 30 ms);
- ``gradient_noise``, B = 1, 4, 16, 64, 256, 1024 x 8 repeats on 10,000 training images: < 2 s;
- ``integrated_gradients``, 64 steps: < 50 ms;

and, for the record, ``unit_equations``, ``gradient_check`` (8 weights per Dense layer) and
``one_step``. The window's half: ``tab: trace + repaint`` traces a digit as the tab's job does,
hands the trace to the Backprop tab (``gui.views.BackpropView``, 1280x800 window size, offscreen
unless QT_QPA_PLATFORM says otherwise) at its last stage, the fullest (every column's values and
gradients, 256 tiles of dL/dW, dL/db), and repaints the tab (``grab``): target < 30 ms.

Each is timed with the BLAS default thread count and with one BLAS thread, alternating the two
(other processes come and go on a shared machine), and the medians are printed in ms, with the
BLAS kernel that ran.

    python benchmarks/explain_speed.py [--repeats N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_info, threadpool_limits

from scratchnet.data import load_dataset
from scratchnet.explain import gradient_check, gradient_noise, integrated_gradients, one_step, trace, unit_equations
from scratchnet.network import mlp
from scratchnet.optimizers import make_optimizer
from scratchnet.training import TrainConfig, train

BATCH_SIZES = (1, 4, 16, 64, 256, 1024)
NOISE_IMAGES = 10_000
TAB_CASE = "tab: trace + repaint"
TARGETS_MS = {"trace": 30.0, "gradient_noise": 2000.0, "integrated_gradients": 50.0, TAB_CASE: 30.0}


def trained_model(data):
    model = mlp(784, [256, 128], 10, rng=np.random.default_rng(0))
    x, y = data.x_train[:NOISE_IMAGES], data.y_train[:NOISE_IMAGES]
    for _ in train(model, make_optimizer("momentum", 0.05), x, y, TrainConfig(descent="mini", batch_size=64, seed=0)):
        pass
    return model


def cases(model, data):
    """name -> (a call taking the run index, calls per timing)."""
    digits, labels = data.x_test, data.y_test
    x, y = data.x_train[:NOISE_IMAGES], data.y_train[:NOISE_IMAGES]
    traced = trace(model, digits[0], int(labels[0]))
    return {
        "trace": (lambda i: trace(model, digits[i % 1000], int(labels[i % 1000])), 20),
        "unit_equations": (lambda i: unit_equations(traced, 0, i % 256), 20),
        "integrated_gradients": (lambda i: integrated_gradients(model, digits[i % 1000], int(labels[i % 1000]),
                                                                steps=64), 10),
        "gradient_check": (lambda i: gradient_check(model, digits[i % 1000], int(labels[i % 1000]),
                                                    rng=np.random.default_rng(i)), 5),
        "one_step": (lambda i: one_step(model, digits[i % 1000], int(labels[i % 1000]), 0.1), 5),
        "gradient_noise": (lambda i: gradient_noise(model, x, y, BATCH_SIZES, repeats=8,
                                                    rng=np.random.default_rng(i)), 1),
        TAB_CASE: (tab_repaint(model, digits, labels), 20),
    }


def tab_repaint(model, digits, labels):
    """A call that traces digit i and repaints the Backprop tab with it, at the last stage."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gui.views.backprop import BackpropView
    from gui.views.backprop_stages import model_titles

    app = QApplication.instance() or QApplication([])
    view = BackpropView()
    view.resize(890, 700)  # the view area of a 1280x800 window
    view.show()
    kinds, titles = model_titles(model)
    view.steps.set_layers(kinds, titles, [str(k) for k in range(10)])
    view.steps.set_trace(trace(model, digits[0], int(labels[0])))
    view.steps.go(len(view.steps.stages) - 1)
    app.processEvents()
    tab_repaint.keep = (app, view)  # alive for the whole benchmark

    def call(i: int) -> None:
        view.steps.set_trace(trace(model, digits[i % 1000], int(labels[i % 1000])))
        view.grab()

    return call


def measure(repeats: int) -> dict[str, dict[str, float]]:
    """Median ms per call of each case, with the BLAS default ("default") and one thread ("1")."""
    data = load_dataset("mnist")
    model = trained_model(data)
    runs = cases(model, data)
    times: dict[str, dict[str, list[float]]] = {name: {"default": [], "1": []} for name in runs}
    for call, _ in runs.values():  # warm up
        call(0)
    for r in range(repeats):
        for threads in ("default", "1"):
            with threadpool_limits(None if threads == "default" else 1, user_api="blas"):
                for name, (call, calls) in runs.items():
                    for k in range(calls):
                        start = time.perf_counter()
                        call(r * calls + k)
                        times[name][threads].append(1e3 * (time.perf_counter() - start))
    return {name: {t: statistics.median(v) for t, v in by_threads.items()} for name, by_threads in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of default/1-thread timings (default 3)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    medians = measure(args.repeats)
    blas = [f"{i['internal_api']} {i['version']} ({i.get('architecture')}, {i['num_threads']} threads)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    if args.json:
        print(json.dumps({"blas": blas, "median_ms": medians, "targets_ms": TARGETS_MS}))
        return 0
    print(f"784-256-128-10 ReLU, scratchnet.explain, median ms per call; BLAS: {'; '.join(blas)}")
    print(f"  {'':<22}{'default threads':>16}{'1 thread':>12}   target")
    for name, by_threads in medians.items():
        target = f"< {TARGETS_MS[name]:g}" if name in TARGETS_MS else ""
        print(f"  {name:<22}{by_threads['default']:>16.1f}{by_threads['1']:>12.1f}   {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
