"""``scratchnet --self-test``: check an installation: the source tree, an installed wheel or a packaged bundle.

Runs four checks with no display (Qt offscreen), prints one JSON line with each check's result and
time and where scratchnet and its resources were found, and exits 0, or 1 with a message naming the
first check that failed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

import numpy as np


def main(argv: list[str]) -> int:
    if argv:
        sys.stderr.write(f"scratchnet --self-test: error: unexpected arguments: {' '.join(argv)}\n")
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")
    state: dict = {}
    checks: list[tuple[str, Callable[[dict], str]]] = [
        ("data", _check_data),
        ("train", _check_train),
        ("window", _check_window),
        ("predict", _check_predict),
    ]
    results = []
    failed = None
    started = time.perf_counter()
    for name, check in checks:
        t0 = time.perf_counter()
        try:
            detail = check(state)
            ok = True
        except Exception as exc:  # a self-test reports every failure, whatever its kind
            detail = f"{type(exc).__name__}: {exc}"
            ok = False
        results.append({"check": name, "ok": ok, "seconds": round(time.perf_counter() - t0, 3), "detail": detail})
        if not ok:
            failed = name
            break
    import scratchnet
    from scratchnet.paths import resources_dir

    report = {"event": "self-test", "ok": failed is None, "version": scratchnet.__version__,
              "frozen": bool(getattr(sys, "frozen", False)), "package": os.path.dirname(scratchnet.__file__),
              "resources": str(resources_dir()), "seconds": round(time.perf_counter() - started, 3),
              "checks": results}
    print(json.dumps(report), flush=True)
    if failed is not None:
        sys.stderr.write(f"self-test failed at the '{failed}' check: {results[-1]['detail']}\n")
        return 1
    return 0


def _check_data(state: dict) -> str:
    from scratchnet.data import load_dataset

    dataset = load_dataset("mnist")  # verifies the bundled payload's SHA-256
    assert dataset.x_train.shape == (60000, 784) and dataset.x_test.shape == (10000, 784), "unexpected MNIST shapes"
    state["dataset"] = dataset
    return "bundled MNIST verified: 60,000 + 10,000 images"


def _check_train(state: dict) -> str:
    from scratchnet.network import mlp
    from scratchnet.optimizers import make_optimizer
    from scratchnet.training import TrainConfig, train

    data = state["dataset"].subset(5000)
    model = mlp(784, [64], 10, rng=np.random.default_rng(0))
    done = None
    for log in train(model, make_optimizer("momentum", 0.05), data.x_train, data.y_train, TrainConfig(epochs=1),
                     x_test=data.x_test[:2000], y_test=data.y_test[:2000]):
        done = log
    accuracy = done["test_accuracy"]
    assert accuracy > 0.75, f"a one-epoch network reached only {accuracy:.1%}"
    state["model"] = model
    return f"one epoch on 5,000 images: {accuracy:.1%} test accuracy"


def _check_window(state: dict) -> str:
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(["scratchnet"])
    window = MainWindow(dataset_loader=lambda name: state["dataset"])
    window.show()
    app.processEvents()
    title, icon = window.windowTitle(), window.windowIcon()
    window.close()
    app.processEvents()
    assert title.startswith("scratchnet"), f"unexpected window title {title!r}"
    assert not icon.isNull(), "the window has no icon: resources/icons not found"
    return f"main window with its icon opened and closed ({app.platformName()})"


def _check_predict(state: dict) -> str:
    dataset, model = state["dataset"], state["model"]
    proba = model.predict_proba(dataset.x_test[:1])[0]
    assert np.isfinite(proba).all() and abs(proba.sum() - 1) < 1e-4, "probabilities are not a distribution"
    predicted = int(np.argmax(proba))
    return f"test digit 0 (label {dataset.y_test[0]}) predicted as {predicted} ({proba[predicted]:.1%})"
